"""A PostgreSQL server of the test's own: Debian's binaries, a data folder under the test's tmp_path,
a free port on loopback; started and stopped by the test. PostgreSQL refuses to run as root, so
as root it runs as `nobody` (runuser), which needs to reach its folder: the folders above it get
the search bit (o+x) for the test's duration, and get their modes back afterwards."""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

from airflow_support import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "nobody"


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def _reachable_by_others(folder: Path) -> Iterator[None]:
    changed = []
    for parent in [folder, *folder.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            changed.append((parent, mode))
            parent.chmod(mode | stat.S_IXOTH)
    try:
        yield
    finally:
        for parent, mode in changed:
            parent.chmod(stat.S_IMODE(mode))


@contextlib.contextmanager
def postgres(folder: Path) -> Iterator[str]:
    """Yields the SQLAlchemy URL of database `airflow` on a fresh server in `folder`."""
    if not (PG_BIN / "postgres").exists():
        raise RuntimeError(f"no PostgreSQL server in {PG_BIN}: apt-get install postgresql (.ci/run does)")
    folder.mkdir(parents=True)
    data, port = folder / "data", free_port()
    with _reachable_by_others(folder):
        if os.geteuid() == 0:
            user = pwd.getpwnam(USER)
            os.chown(folder, user.pw_uid, user.pw_gid)

        def run(*command: str) -> None:
            done = subprocess.run(_as_server_user(list(command)), capture_output=True, text=True, timeout=120, cwd=folder)
            assert done.returncode == 0, f"{command[0]}: {done.stdout[-2000:]}{done.stderr[-2000:]}"

        run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "airflow", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60", "start",
            "-o", f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off")
        try:
            run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "airflow")
            yield f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow"
        finally:
            run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "stop", "-m", "fast")


def dump(url: str) -> str:
    """The whole database as SQL text (pg_dump), to scan."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    done = subprocess.run([str(PG_BIN / "pg_dump"), "-h", "127.0.0.1", "-p", port, "-U", "airflow", "airflow"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
