"""Build tests/contract/documented-samples.json from Bright Pattern's published samples (tests/samples/).

    python -m helpers.tools.documented

The recording holds what a contract recording of a tenant would hold (method, path template, status,
content type, shape), taken from the samples instead of a tenant. tests/test_contract.py checks that
the committed file is what this builds, and replays it against the emulator like any recording.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers.tools.contract import ADMIN_USER, API_USER, CALLS_BY_ID, FORMAT, dumps, shape_of

ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR = ROOT / "tests" / "samples"
OUT = ROOT / "tests" / "contract" / "documented-samples.json"
# Which sample answers which recorded call, and as whom: the SMS/MMS collection's token request is
# made by a user with "Use SMS/MMS API" (the API user), the Configuration collection's by a user with
# "Manage users"/"Manage phones" (the administrator).
SAMPLE_CALLS = (("S1", "token.api_user", API_USER), ("C1", "token.admin_user", ADMIN_USER),
                ("C3", "user.get", ADMIN_USER), ("C5", "user.lock", ADMIN_USER), ("C8", "team.list", ADMIN_USER),
                ("C9", "phone.user", ADMIN_USER), ("C10", "phone.ext", ADMIN_USER))


def sample(sample_id: str) -> dict:
    return json.loads(next(SAMPLES_DIR.glob(f"{sample_id}-*.json")).read_text(encoding="utf-8"))


def build() -> dict:
    calls = []
    for sample_id, call_id, who in SAMPLE_CALLS:
        s, call = sample(sample_id), CALLS_BY_ID[call_id]
        response = s["response"]
        body = response.get("published_broken", {}).get("repaired_body", response["body"])
        shape = shape_of(json.loads(body))
        if "items" in response:  # the published items are examples among the tenant's others
            shape["open"] = True
        calls.append({"call": call_id, "method": call.method, "path": call.template, "as": who,
                      "status": response["status"], "content_type": response["content_type"], "body": "json",
                      "shape": shape, "sample": f"{sample_id} {s['name']} ({s['source']['document'].split(' (')[0]})"})
    return {"format": FORMAT,
            "source": "derived from Bright Pattern's published samples (Postman documentation \"BPCC SMS/MMS API\" and "
                      "\"BPCC Configuration API\"; fixtures in tests/samples/), not recorded from a tenant. Built by "
                      "python -m helpers.tools.documented",
            "replay_seed": "docs",
            "not_documented": {"sms.probe": "no published sample shows Get Message of an unknown sid"},
            "calls": calls}


if __name__ == "__main__":
    OUT.write_text(dumps(build()), encoding="utf-8")
    print(f"wrote {OUT}")
