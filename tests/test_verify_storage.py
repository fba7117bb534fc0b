"""Storage faults named by `verify`: an empty or truncated history is not an older version, a removed
records folder is named as removed, and a chain head kept elsewhere detects the removal of the newest runs."""

from __future__ import annotations

import shutil

import pytest

from helpers.cli import main
from helpers.run.record import HISTORY, append_history, write_manifest

FIELDS = ["run_id", "exit_code"]


def make_runs(tenant, n: int) -> list[str]:
    """n run folders, each with a manifest and a chained history row; returns the rows' hashes."""
    heads = []
    for i in range(n):
        run = tenant / f"2026010{i + 1}T000000Z"
        run.mkdir(parents=True)
        (run / "summary.json").write_text(f'{{"run": {i}}}\n')
        manifest = write_manifest(run)
        heads.append(append_history(tenant / HISTORY, {"run_id": run.name, "exit_code": 0,
                                                       "manifest_sha256": manifest}, FIELDS))
    return heads


def verify(capsys, *args) -> tuple[int, str]:
    code = main(["verify", *map(str, args)])
    printed = capsys.readouterr()
    return code, printed.out + printed.err


def test_an_empty_history_is_named_empty_not_older(tmp_path, capsys):
    tenant = tmp_path / "t"
    make_runs(tenant, 2)
    (tenant / HISTORY).write_bytes(b"")
    code, printed = verify(capsys, tenant)
    assert code == 1 and "is empty (0 bytes)" in printed and "written by an older version" not in printed


def test_a_truncated_history_is_named_truncated(tmp_path, capsys):
    tenant = tmp_path / "t"
    make_runs(tenant, 2)
    text = (tenant / HISTORY).read_text()
    (tenant / HISTORY).write_text(text[:-20])  # the last row cut short
    code, printed = verify(capsys, tenant)
    assert code == 1 and "NOT intact: history.csv is truncated: its last line" in printed, printed
    (tenant / HISTORY).write_text(text[:10])  # even the header cut short
    code, printed = verify(capsys, tenant)
    assert code == 1 and "is truncated: its header line is cut short" in printed
    assert "written by an older version" not in printed


def test_a_history_row_chains_again_after_an_empty_history(tmp_path):
    tenant = tmp_path / "t"
    tenant.mkdir()
    (tenant / HISTORY).write_bytes(b"")
    make_runs(tenant, 1)
    assert not list(tenant.glob("history-unchained*"))  # an empty file is not an older version's history


@pytest.mark.parametrize("digits", [16, 64])
def test_a_kept_chain_head_detects_the_removal_of_the_newest_run(tmp_path, capsys, digits):
    tenant = tmp_path / "t"
    heads = make_runs(tenant, 3)
    kept = heads[-1][:digits]
    assert verify(capsys, tenant, "--chain-head", kept)[0] == 0
    # The newest run and its history row removed together: the chain itself still holds.
    shutil.rmtree(tenant / "20260103T000000Z")
    lines = (tenant / HISTORY).read_text().splitlines(keepends=True)
    (tenant / HISTORY).write_text("".join(lines[:-1]))
    assert verify(capsys, tenant)[0] == 0  # undetectable without the head kept elsewhere
    code, printed = verify(capsys, tenant, "--chain-head", kept)
    assert code == 1 and f"the chain head kept elsewhere ({kept}) is not in history.csv" in printed, printed
    # An older head kept elsewhere is still in the chain: newer runs are growth, not a problem.
    assert verify(capsys, tenant, "--chain-head", heads[0][:16].upper())[0] == 0


def test_a_chain_head_that_is_not_hex_is_exit_3(tmp_path, capsys):
    code, printed = verify(capsys, tmp_path, "--chain-head", "xyz")
    assert code == 3 and "--chain-head" in printed and "16 or 64 hex digits" in printed


def test_a_removed_records_folder_is_named_removed(tmp_path, capsys):
    code, printed = verify(capsys, tmp_path / "gone")
    assert code == 3 and "does not exist (removed?)" in printed
