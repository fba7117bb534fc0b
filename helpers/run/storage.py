"""Where a tenant's records live: the local folder they always had, or an S3 URL (`s3://bucket/prefix`)
that every worker of a scheduler sees. The one module that knows about fsspec and s3fs.

A run whose --out is a URL is made exactly as a local one, in a private local working folder
(papermill and the kernels need local files); at its end every file is published through the gate
(Gate.publish: scanned as it leaves, withheld when a secret survived). The lock and the hash-chained
history.csv live on S3 and hold there by conditional writes:

- the lock object `<tenant>/.run.lock` is created with If-None-Match: "*" (one run wins; the others
  exit 4). It names its owner (host, pid) and the end of its lease; the owner renews the lease with
  If-Match on the lock's ETag and deletes it the same way. A lock whose lease has ended, or whose
  owner is a process of this host that is gone, is stale: the next run breaks it (If-Match again,
  so two runs cannot both break it).
- history.csv is read with its ETag once the lock is held, the run's row is appended to that copy,
  and it is written back with If-Match on that ETag (If-None-Match: "*" for a tenant's first run):
  a row is never lost to a writer that broke the lock meanwhile; that run's record names the conflict.
- run files are created with If-None-Match: "*": a published record is never overwritten.

Credentials come from boto's usual sources (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a
role), the endpoint of another S3 API from AWS_ENDPOINT_URL_S3: never from the URL, which is refused
when it carries one (it would be printed and recorded).
"""

from __future__ import annotations

import contextlib
import errno
import json
import mimetypes
import os
import re
import shutil
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from helpers.errors import ParameterError
from helpers.run.drift import reached_steps, runs_newest_first
from helpers.safety.private import alive, make_private, start_time
from helpers.safety.secrets import MIN_SECRET_LENGTH

SCHEMES = ("s3",)
LOCK_KEY = ".run.lock"
HISTORY_KEY = "history.csv"
LEASE_S = 600.0  # a lock not renewed for this long is stale: its owner is gone (killed, or its worker lost)
RENEW_EVERY_S = 60.0
PREVIOUS_RUNS = 20  # runs copied for the comparison with the last run: the newest that reached the steps, and newer ones that did not
DIGEST = re.compile(r"\b[0-9a-f]{64}\b")
CREDENTIAL_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
URL_FIX = "give a local folder, or an S3 URL such as s3://bucket/prefix"


def credentials(environ) -> list[str]:
    """boto's secrets in the environment: the gate learns them, so that none can reach a record."""
    return [environ[name].strip() for name in CREDENTIAL_ENV
            if len(environ.get(name, "").strip()) >= MIN_SECRET_LENGTH]


def is_remote(out) -> bool:
    """Whether --out is a URL (scheme://…) rather than a local folder."""
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", str(out).strip()))


def check_url(url: str, option: str = "--out") -> tuple[str, str]:
    """(bucket, prefix) of an s3:// URL; ParameterError (exit 3) naming what is wrong, never the value."""
    parts = urlsplit(str(url).strip())
    if parts.scheme.lower() not in SCHEMES:
        raise ParameterError(option, f"is a {parts.scheme}:// URL; records live in a local folder or on S3", URL_FIX)
    if "@" in parts.netloc:
        raise ParameterError(option, "carries credentials in the URL (s3://key:secret@…), where they would be printed "
                                     "and recorded", "remove them from the URL and give them as boto reads them: "
                                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the machine's role")
    if parts.query or parts.fragment:
        raise ParameterError(option, "has a query or fragment (?…, #…), which an S3 location has not", URL_FIX)
    if not parts.netloc:
        raise ParameterError(option, "names no bucket", URL_FIX)
    prefix = parts.path.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise ParameterError(option, "has an empty, '.' or '..' part in its path", URL_FIX)
    return parts.netloc, prefix


class Conflict(OSError):
    """A conditional write lost: the object changed (If-Match) or already exists (If-None-Match)."""


class Held(Exception):  # noqa: N818 (an outcome)
    """Another run holds the tenant's lock."""

    def __init__(self, url: str, owner: str, until: str):
        super().__init__(f"{url}, held by {owner} until {until}")
        self.url, self.owner, self.until = url, owner, until


def _storage_error(exc: Exception) -> OSError:
    """Any failure of the S3 client as an OSError (the record's writers note OSErrors), a lost
    condition as Conflict."""
    response = getattr(exc.__cause__, "response", None) or getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code", "")
    if isinstance(exc, FileExistsError) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
        return Conflict(errno.EEXIST, "the object changed or exists (a conditional write lost)")
    if isinstance(exc, OSError):
        return exc
    return OSError(errno.EIO, f"S3: {type(exc).__name__}: {exc}")


class S3Store:
    """Objects under s3://bucket/prefix: read with their ETag, conditional puts and deletes."""

    def __init__(self, url: str, option: str = "--out"):
        self.bucket, self.prefix = check_url(url, option)
        try:
            import s3fs
        except ImportError:
            raise ParameterError(option, "is an s3:// URL but s3fs is not installed",
                                 "pip install -r requirements.txt (it installs s3fs)") from None
        # No caches: every worker must see what the others wrote a moment ago.
        self.fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)

    def key(self, name: str = "") -> str:
        return "/".join(part for part in (self.prefix, name.strip("/")) if part)

    def url(self, name: str = "") -> str:
        return f"s3://{self.bucket}/{self.key(name)}".rstrip("/")

    def _call(self, method: str, **kwargs):
        try:
            return self.fs.call_s3(method, Bucket=self.bucket, **kwargs)
        except Exception as exc:  # noqa: BLE001 (botocore's errors are many; each becomes an OSError)
            raise _storage_error(exc) from None

    def read(self, name: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag (one request: the ETag is that of these bytes), or None."""
        from fsspec.asyn import sync

        async def get():
            answer = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=self.key(name))
            async with answer["Body"] as body:
                return await body.read(), answer["ETag"]

        try:
            return sync(self.fs.loop, get)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            raise _storage_error(exc) from None

    def put(self, name: str, data: bytes, *, create: bool = False, etag: str | None = None) -> str:
        """Write an object; `create`: only if none exists, `etag`: only if it is still that one. Conflict
        when the condition does not hold. Returns the new ETag. Only Gate.publish and the lock call it."""
        condition = {"IfNoneMatch": "*"} if create else {"IfMatch": etag} if etag else {}
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"  # a browser shows summary.html
        return self._call("put_object", Key=self.key(name), Body=data, ContentType=kind, **condition)["ETag"]

    def delete(self, name: str, etag: str | None = None) -> None:
        self._call("delete_object", Key=self.key(name), **({"IfMatch": etag} if etag else {}))

    def names(self, under: str = "") -> list[str]:
        """Every object's name under `under`, relative to the prefix."""
        root = f"{self.bucket}/{self.key(under)}".rstrip("/")
        try:
            found = self.fs.find(root)
        except Exception as exc:  # noqa: BLE001
            raise _storage_error(exc) from None
        start = len(f"{self.bucket}/{self.key()}".rstrip("/")) + 1 if self.key() else len(self.bucket) + 1
        return sorted(path[start:] for path in found)


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


class Lease:
    """The tenant's lock on S3 (see the module's docstring). `clock`: seconds since the epoch."""

    def __init__(self, store: S3Store, name: str, handed: Callable[[dict, str], dict | None],
                 clock: Callable[[], float], lease_s: float = LEASE_S):
        self.store, self.name, self.handed, self.clock, self.lease_s = store, name, handed, clock, lease_s
        self.etag: str | None = None
        self.lost = False  # another run broke it while this one held it
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _body(self) -> bytes:
        now = self.clock()
        body = {"owner": {"host": socket.gethostname(), "pid": os.getpid(), "start": start_time(os.getpid())},
                "renewed_at": _utc(now), "expires": now + self.lease_s, "expires_at": _utc(now + self.lease_s)}
        clean = self.handed(body, self.store.url(self.name))  # through the gate, as every byte that leaves
        if clean is None:
            raise OSError(errno.EACCES, "the lock's content did not pass the secret scan")
        return (json.dumps(clean, indent=1) + "\n").encode()

    def stale(self, held: dict) -> bool:
        """Its lease ended, or its owner is a process of this host that is gone."""
        owner = held.get("owner") or {}
        if not isinstance(held.get("expires"), int | float) or self.clock() > held["expires"]:
            return True
        return (owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int)
                and not alive(owner["pid"], owner.get("start")))

    def acquire(self) -> None:
        """Take the lock, breaking a stale one; Held when another run holds it."""
        for _ in range(3):  # a lock released or broken between our requests: try again, a few times
            try:
                self.etag = self.store.put(self.name, self._body(), create=True)
                return
            except Conflict:
                pass
            current = self.store.read(self.name)
            if current is None:
                continue
            data, etag = current
            try:
                held = json.loads(data)
            except ValueError:
                held = None
            if not isinstance(held, dict):
                held = {}  # not a lock this runbook wrote (cut short?): stale, like one without a lease
            if not self.stale(held):
                owner = held.get("owner", {})
                raise Held(self.store.url(self.name), f"{owner.get('host')} pid {owner.get('pid')}",
                           str(held.get("expires_at")))
            with contextlib.suppress(Conflict, FileNotFoundError):  # another run broke it first: it may win
                self.store.delete(self.name, etag)
        raise Held(self.store.url(self.name), "another run (the lock changed hands while this run tried)", "unknown")

    def renew(self) -> bool:
        try:
            self.etag = self.store.put(self.name, self._body(), etag=self.etag)
            return True
        except Conflict:
            self.lost = True
        except OSError:
            pass  # S3 unreachable for a moment: the next renewal tries again, well before the lease ends
        return False

    def start_renewing(self, every_s: float = RENEW_EVERY_S) -> None:
        def renew_until_stopped():
            while not self._stop.wait(every_s) and not self.lost:
                self.renew()

        self._renewer = threading.Thread(target=renew_until_stopped, name="bp-lock-lease", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        if not self.lost:
            with contextlib.suppress(OSError):  # broken and gone, or taken over: not ours to delete
                self.store.delete(self.name, self.etag)


# ------------------------------------------------------------------------------ a run's records on S3
def _digests(path: Path) -> set[str]:
    """The SHA-256 digests a manifest or history holds: the only token-shaped strings they may carry."""
    try:
        return set(DIGEST.findall(path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return set()


class RemoteRecords:
    """A tenant's records on S3, made in a private local working folder and published at the end."""

    remote = True

    def __init__(self, url: str, tenant: str, private_root: Path | None = None):
        self.store, self.tenant = S3Store(url), tenant
        self.url = self.store.url(tenant)
        self.working: Path | None = None  # the private folder: <working>/<tenant>/<run> mirrors <url>/<run>
        self.private_root = private_root
        self.history_etag: str | None = None
        self.runs: set[str] = set()  # the run folders already on S3
        self.set_aside: set[str] = set()  # the history-unchained-*.csv already on S3
        self.lease: Lease | None = None

    @property
    def tenant_dir(self) -> Path:
        if self.working is None:
            self.working = make_private(self.private_root)  # 0700, swept after a hard kill
        return self.working / self.tenant

    def where(self, path: Path) -> str:
        """What a reader is shown for a file of the working folder: its URL."""
        inside = Path(path).relative_to(self.tenant_dir).as_posix()
        return self.store.url(self.tenant if inside == "." else f"{self.tenant}/{inside}")

    def taken(self, run_id: str) -> bool:
        return run_id in self.runs

    def lock(self, handed: Callable[[dict, str], dict | None], clock: Callable[[], float]) -> Lease:
        self.lease = Lease(self.store, f"{self.tenant}/{LOCK_KEY}", handed, clock)
        return self.lease

    def fetch(self) -> None:
        """Once the lock is held: the history (with its ETag) into the working folder, and the names of
        the runs already recorded (a new run's folder never takes one)."""
        names = self.store.names(self.tenant)
        self.runs = {n.split("/")[1] for n in names if n.count("/") >= 2}
        self.set_aside = {n.split("/")[1] for n in names if n.count("/") == 1 and "/history-unchained" in n}
        current = self.store.read(f"{self.tenant}/{HISTORY_KEY}")
        self.tenant_dir.mkdir(parents=True, exist_ok=True)
        if current is not None:
            data, self.history_etag = current
            (self.tenant_dir / HISTORY_KEY).write_bytes(data)  # the copy the run appends its row to
            self._fetch_previous(names)

    def _fetch_previous(self, names: list[str]) -> None:
        """The runs the comparison with the last run reads (helpers/run/drift.py, after verify, as it reads a
        local folder): newest first, down to the first that reached the steps, at most PREVIOUS_RUNS."""
        for run_id in runs_newest_first(self.tenant_dir)[:PREVIOUS_RUNS]:
            for name in (n for n in names if n.startswith(f"{self.tenant}/{run_id}/") and n.count("/") == 2):
                found = self.store.read(name)
                if found is not None:
                    target = self.tenant_dir / run_id / name.rsplit("/", 1)[1]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(found[0])  # a private copy, read by drift, removed with the working folder
            try:
                if reached_steps(json.loads((self.tenant_dir / run_id / "summary.json").read_text(encoding="utf-8"))):
                    return
            except (OSError, ValueError, AttributeError):
                return  # drift names what it cannot read

    def publish(self, run_dir: Path, gate, history_written: bool) -> list[str]:
        """Every file of the run, then the history (If-Match on the ETag read when the lock was taken),
        each through the gate. Returns what could not be published, one line each."""
        problems: list[str] = []
        files = sorted((p for p in run_dir.iterdir() if p.is_file()), key=lambda p: (p.name == "manifest.json", p.name))
        for path in files:  # the manifest last: a reader who sees it sees every file it lists
            try:
                gate.publish(path, self.store, f"{self.tenant}/{run_dir.name}/{path.name}", create=True,
                             digests=_digests(path) if path.name == "manifest.json" else ())
            except OSError as exc:
                problems.append(f"{self.where(path)}: not published ({exc.strerror or exc})")
        if problems or not history_written:
            return problems + ([f"{self.url}/{HISTORY_KEY}: not updated (the run's files are not all on S3)"]
                               if history_written else [])
        for older in sorted(self.tenant_dir.glob("history-unchained*.csv")):
            if older.name not in self.set_aside:  # an older version's history this run set aside
                with contextlib.suppress(Conflict):
                    gate.publish(older, self.store, f"{self.tenant}/{older.name}", create=True)
        history = self.tenant_dir / HISTORY_KEY
        try:
            gate.publish(history, self.store, f"{self.tenant}/{HISTORY_KEY}", create=self.history_etag is None,
                         etag=self.history_etag, digests=_digests(history), withhold=False)
        except Conflict:
            problems.append(f"{self.url}/{HISTORY_KEY}: changed on S3 while this run held the lock (was the lock "
                            "broken?); this run's row was not added, its files are published")
        except (OSError, ValueError) as exc:
            problems.append(f"{self.url}/{HISTORY_KEY}: not updated ({getattr(exc, 'strerror', None) or exc})")
        if self.lease is not None and self.lease.lost:
            problems.append(f"{self.url}/{LOCK_KEY}: another run broke this run's lock while it ran")
        return problems

    def close(self) -> None:
        """The working folder goes: the record is on S3 (or said not to be)."""
        if self.working is not None:
            shutil.rmtree(self.working, ignore_errors=True)


@contextlib.contextmanager
def mirrored(url: str, option: str, *, only: Callable[[str], bool] = lambda name: True,
             private_root: Path | None = None):
    """A private local copy of the objects under `url` (a tenant's records, or every tenant's
    history.csv) for `verify` and `history` to read as they read a folder; removed afterwards.
    Yields (the copy's folder, how many objects were copied)."""
    store = S3Store(url, option)
    folder = make_private(private_root)
    try:
        copied = 0
        for name in store.names():
            parts = name.split("/")
            if parts[-1] == LOCK_KEY or not only(name):
                continue
            if any(part in ("", ".", "..") for part in parts):  # a key that would climb out of the copy
                raise OSError(errno.EINVAL, f"an object's name has an empty, '.' or '..' part: {name!r}")
            found = store.read(name)
            if found is None:  # removed since the listing
                continue
            target = folder.joinpath("records", *parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(found[0])  # a private 0700 copy, read and removed by this command
            copied += 1
        yield folder / "records", copied
    finally:
        shutil.rmtree(folder, ignore_errors=True)
