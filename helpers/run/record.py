"""A tamper-evident record: each run folder gets a manifest (SHA-256 of every artifact), and each
row of the tenant's history.csv carries a hash chained to the row before it, so that changing one
byte of an artifact, editing, removing or reordering a history row is detected by
`python -m helpers verify outputs/<tenant>`.

It proves integrity against accidents and casual edits, not against someone who rewrites the whole
chain: for that, keep a copy of the last row hash elsewhere (the run summary prints it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

MANIFEST = "manifest.json"
HISTORY = "history.csv"
GENESIS = "0" * 64
CHAIN_FIELDS = ["manifest_sha256", "prev_hash", "row_hash"]
UNCHAINED = "history-unchained"  # histories of older versions, set aside as history-unchained-<UTC>.csv


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(run_dir: Path) -> str:
    """Hash every file of the run folder into manifest.json; returns the manifest's own SHA-256."""
    files = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
             for p in sorted(run_dir.iterdir()) if p.is_file() and p.name != MANIFEST}
    path = run_dir / MANIFEST
    path.write_text(json.dumps({"run_id": run_dir.name, "files": files}, indent=2) + "\n", encoding="utf-8")
    return sha256_file(path)


def _row_hash(prev: str, row: dict, fields: list[str]) -> str:
    canonical = json.dumps([prev] + [str(row.get(f, "")) for f in fields], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def append_history(path: Path, row: dict, fields: list[str]) -> str:
    """Append one run's row, chained to the previous row; returns its hash. A history written by an
    older version (no chain) is set aside as history-unchained-<UTC time>.csv and a new chain starts."""
    header = fields + CHAIN_FIELDS
    prev = GENESIS
    if path.is_file() and path.stat().st_size == 0:  # cut short by a full disk: nothing to set aside
        path.unlink()
    if path.is_file():  # only a regular file is read (a device such as /dev/full never ends)
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        existing = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))), [])
        if existing != header:
            _set_aside(path)
        elif rows:
            prev = rows[-1]["row_hash"]
    row = {**row, "prev_hash": prev}
    row["row_hash"] = _row_hash(prev, row, fields + ["manifest_sha256"])
    new = not path.is_file()
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        if new:
            writer.writeheader()
        writer.writerow(row)
    return row["row_hash"]


def _set_aside(path: Path) -> None:
    """Never over an earlier set-aside history: each format change keeps its own file."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target, n = path.with_name(f"{UNCHAINED}-{stamp}.csv"), 1
    while target.exists():
        n += 1
        target = path.with_name(f"{UNCHAINED}-{stamp}-{n}.csv")
    path.rename(target)


def unchained_runs(tenant_dir: Path) -> dict[str, str]:
    """{run id: file} of the runs recorded only in set-aside histories, from before the hash chain."""
    found = {}
    for older in sorted(tenant_dir.glob(f"{UNCHAINED}*.csv")):
        try:
            for row in csv.DictReader(io.StringIO(older.read_text(encoding="utf-8"))):
                if row.get("run_id"):
                    found[row["run_id"]] = older.name
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
    return found


def verify(tenant_dir: Path, chain_head: str | None = None, only: set[str] | None = None) -> list[str]:
    """Every problem found, first one first; an empty list means the record is intact. `chain_head` (the
    16 hex digits a run prints, or all 64) is a copy kept elsewhere: it must still be in the chain, so the
    removal of the newest runs together with their rows is found. `only`: the run folders to check
    against their manifests (the whole chain is checked still; other folders are not looked at)."""
    history = tenant_dir / HISTORY
    if not history.is_file():
        return [f"{history} is missing (or not a regular file)"]
    data = history.read_bytes()
    if not data:
        return [f"{history} is empty (0 bytes): cut short, e.g. by a full disk; it is not an older version"]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [f"{history} is damaged: it is not UTF-8 text"]
    header = next(csv.reader(io.StringIO(text)), [])
    if "\n" not in text:
        return [f"{history} is truncated: its header line is cut short (a full disk?); it is not an older version"]
    if header[-len(CHAIN_FIELDS):] != CHAIN_FIELDS:
        return [f"{history} has no hash chain (written by an older version)"]
    fields = header[:-len(CHAIN_FIELDS)] + ["manifest_sha256"]
    problems, prev, recorded, hashes = [], GENESIS, set(), []
    if not text.endswith("\n"):  # the last row was cut short: it proves nothing, the rows before it still do
        cut = text.rsplit("\n", 1)
        problems.append(f"{history.name} is truncated: its last line ({len(cut[1])} bytes) is cut short (a full disk?)")
        text = cut[0] + "\n"
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):  # line 1 is the header
        hashes.append(row.get("row_hash") or "")
        where = f"{history.name} line {number} (run {row.get('run_id')})"
        if row.get("prev_hash") != prev:
            problems.append(f"{where}: not chained to the row before it (a row was removed, inserted or reordered)")
        if _row_hash(row.get("prev_hash", ""), row, fields) != row.get("row_hash"):
            problems.append(f"{where}: the row was edited (its hash does not match its content)")
        prev = row.get("row_hash", "")
        recorded.add(row.get("run_id"))
        if only is None or row.get("run_id") in only:
            problems += _verify_run(tenant_dir / str(row.get("run_id")), row.get("manifest_sha256", ""))
    if chain_head and not any(h.startswith(chain_head.lower()) for h in hashes):
        problems.insert(0, f"the chain head kept elsewhere ({chain_head}) is not in {history.name} (its last row "
                           f"is {prev[:16]}): the newest runs were removed with their rows, or the chain was rewritten")
    older = unchained_runs(tenant_dir)  # not verifiable (no chain, no manifest hash), and not a problem
    for folder in sorted(p for p in tenant_dir.iterdir() if p.is_dir() and only is None):
        if folder.name not in recorded and folder.name not in older:
            problems.append(f"{folder.name}/: a run folder that history.csv does not record")
    return problems


def _verify_run(run_dir: Path, manifest_sha256: str) -> list[str]:
    manifest = run_dir / MANIFEST
    if not manifest.is_file():
        return [f"{run_dir.name}/{MANIFEST} is missing"]
    if sha256_file(manifest) != manifest_sha256:
        return [f"{run_dir.name}/{MANIFEST} was altered (its hash does not match history.csv)"]
    listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    problems = []
    for name, entry in listed.items():
        path = run_dir / name
        if not path.is_file():
            problems.append(f"{run_dir.name}/{name} is missing")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{run_dir.name}/{name} was altered")
    for path in sorted(run_dir.iterdir()):
        if path.is_file() and path.name != MANIFEST and path.name not in listed:
            problems.append(f"{run_dir.name}/{path.name} was added after the run")
    return problems
