"""The scenario the committed notebooks' reference outputs come from, shared by the nbval test and
`python -m tests.tools.refresh_notebooks`: a fresh default-seed emulator, the admin's secret in
BP_ADMIN_SECRET, no API secret, practice mode off. So 01, 03, 04 and 05 end action-required, 02
creates the user (changed), and 06 is skipped."""

from __future__ import annotations

import requests

SCOPE = "example.brightpattern.com"


def scenario_environment(emulator_url: str, handoff_path: str) -> dict:
    requests.post(emulator_url + "/_emulator/reset", timeout=10).raise_for_status()
    admin_secret = requests.post(f"{emulator_url}/_emulator/tenants/{SCOPE}/users/admin/api-secret",
                                 timeout=10).json()["apiSecret"]
    return {"BP_EMULATOR_URL": emulator_url, "BP_ADMIN_SECRET": admin_secret, "BP_RUNBOOK_HANDOFF": handoff_path,
            "BP_RUNBOOK_HEADLESS": "1"}
