"""Bounds that protect the tenant: a budget of requests per step that no parameter can raise, and the
minimum poll interval (the schema's bound, tested in tests/test_scrub_params_secrets.py)."""

from __future__ import annotations

import pytest

from helpers.steps import STEPS
from helpers.tenant.transport import REQUEST_BUDGET, RequestBudget, RequestBudgetExhausted
from tests.support import make_client
from tests.support import step_result as run


def test_no_budget_exceeds_the_cap():
    assert RequestBudget(10 ** 9).limit == REQUEST_BUDGET


def test_a_spent_budget_sends_nothing_more_and_names_its_cap(emulator, console, admin_secret):
    client = make_client(emulator, "admin", admin_secret, budget=RequestBudget(3))
    client.teams.names()  # a token request and Get Teams
    client.teams.names()
    before = len(console.requests())
    with pytest.raises(RequestBudgetExhausted, match=r"request budget exhausted: .* its cap \(3 per step"):
        client.teams.names()
    assert len(console.requests()) == before


def test_a_smoke_test_polling_for_an_hour_every_half_second_stops_at_the_budget(env, console):
    for step in STEPS:
        run(step, env, practice_mode=True)
    # The most polling the parameters allow: 7200 Get Message calls, unless the budget ends it.
    r = run("06_smoke_test", env, practice_mode=True, smoke_test=True, test_destination="+15005550007",
            smoke_timeout=3600, poll_interval=0.5)
    assert r.status == "failed"
    assert "request budget exhausted" in r.summary and f"({REQUEST_BUDGET} per step" in r.summary, r.summary
    gets = [e for e in console.requests() if e["method"] == "GET" and "/Messages/" in e["path"]]
    assert 0 < len(gets) < REQUEST_BUDGET
