"""The ipywidgets form logic, without a browser: widgets are driven programmatically."""

from __future__ import annotations

import os
from unittest import mock

import ipywidgets as widgets

from helpers.notebook import StepNotebook
from helpers.notebook.forms import StepForm
from helpers.safety.secrets import SecretStore
from helpers.steps import STEPS
from helpers.steps.params import PARAMETERS, validate
from helpers.steps.results import StepResult
from tests.support import API_USER, SMS_ROLE


class FakeRunner:
    def __init__(self):
        self.calls = []

    def __call__(self, step_id, params, environ=None):
        self.calls.append((step_id, params))
        return StepResult(step_id, "title").finish("ok", f"ran for role {params.role}")


def make_form(namespace=None, secrets=(), environ=None, runner=None, on_result=None):
    runner = runner or FakeRunner()
    form = StepForm("01_grant_privilege", validate({"role": "SMS API"}), ["role", "api_user", "practice_mode"],
                    namespace=namespace, secrets=secrets, environ=environ, runner=runner, on_result=on_result)
    return form, runner


def test_prefilled_from_parameters():
    form, _ = make_form()
    assert form.values() == {"role": "SMS API", "api_user": "api.sms", "practice_mode": False}


def test_button_copies_edited_values_into_the_parameters_and_reruns():
    namespace = {"role": "SMS API", "api_user": "api.sms", "practice_mode": False}
    form, runner = make_form(namespace)
    form.inputs["role"].value = "Texting"
    form.button.click()
    assert namespace["role"] == "Texting"
    assert runner.calls[0][0] == "01_grant_privilege" and runner.calls[0][1].role == "Texting"
    assert form.result.summary == "ran for role Texting"
    assert "ok: ran for role Texting" in form.message.value


def test_invalid_edit_is_explained_and_changes_nothing():
    namespace = {"role": "SMS API", "api_user": "api.sms", "practice_mode": False}
    form, runner = make_form(namespace)
    form.inputs["api_user"].value = "bad user!"
    form.button.click()
    assert runner.calls == []
    assert namespace["api_user"] == "api.sms"
    assert "parameter &#x27;api_user&#x27;" in form.message.value and "Fix:" in form.message.value


def test_password_is_handed_over_and_never_kept_in_widget_state(tmp_path):
    environ = {"BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}
    form, runner = make_form(secrets=("api",), environ=environ)
    canary = "CANARY" + "k" * 58
    form.secret.value = canary
    form.button.click()
    assert form.secret.value == ""
    assert canary not in str(form.secret.get_state())
    assert canary not in form.message.value
    params = runner.calls[0][1]
    store = SecretStore(params.base_url, params.effective_scope, {"api": params.api_user}, environ)
    assert store.get("api").reveal() == canary
    assert oct((tmp_path / "handoff.json").stat().st_mode & 0o777) == "0o600"


def test_headless_form_is_inert(capsys):
    with mock.patch.dict(os.environ, {"BP_RUNBOOK_HEADLESS": "1"}):
        assert StepNotebook("01_grant_privilege", {}).form() is None
    assert "headless run" in capsys.readouterr().out


def test_interactive_form_has_only_the_steps_fields():
    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop("BP_RUNBOOK_HEADLESS", None)
        form = StepNotebook("03_api_secret", {"api_user": "x.y"}).form()
    assert set(form.inputs) == {"tenant_url", "scope", "practice_mode", "dry_run", "ca_bundle", "api_user",
                                "admin_user"}
    assert form.inputs["api_user"].value == "x.y" and form.secret is not None
    assert form.button.description == "Run step 03 with these values"


def test_every_form_shows_its_declared_fields_with_widgets_from_the_schema():
    """Fields from the step's declaration (the network timeouts stay out: the schema says so); each
    widget's type from its parameter's kind, its label from its name, its tooltip from its comment."""
    kinds = {"checkbox": widgets.Checkbox, "float": widgets.FloatText, "text": widgets.Text}
    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop("BP_RUNBOOK_HEADLESS", None)
        for step in STEPS.values():
            form = StepNotebook(step.id, {}).form()
            assert tuple(form.inputs) == step.form_fields, step.id
            assert not {"connect_timeout", "read_timeout"} & set(form.inputs), step.id
            assert set(form.secrets) == set(step.form_secrets), step.id
            for name, widget in form.inputs.items():
                assert type(widget) is kinds[PARAMETERS[name].kind.widget], name
                assert widget.description == name.replace("_", " ") and widget.tooltip == PARAMETERS[name].comment


def test_admin_steps_take_the_admin_secret_too():
    os.environ.pop("BP_RUNBOOK_HEADLESS", None)
    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop("BP_RUNBOOK_HEADLESS", None)
        for step, roles in (("00_preflight", {"api", "admin"}), ("02_define_user", {"admin"}),
                            ("05_chat_service", {"admin"}), ("04_access_token", set())):
            assert set(StepNotebook(step, {}).form().secrets) == roles, step


class RefusingRunner(FakeRunner):
    def __call__(self, step_id, params, environ=None):
        self.calls.append((step_id, params))
        result = StepResult(step_id, "title").finish("action-required", "refused")
        result.observed["secret accepted"] = False
        return result


def test_a_refused_secret_entered_in_the_form_is_not_kept(tmp_path):
    environ = {"BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}
    form, runner = make_form(secrets=("api",), environ=environ, runner=RefusingRunner())
    form.secret.value = "W" * 64
    form.button.click()
    params = runner.calls[0][1]
    store = SecretStore(params.base_url, params.effective_scope, {"api": params.api_user}, environ)
    assert store.get("api") is None
    assert "was refused and is not kept" in form.message.value


def test_a_too_short_secret_is_not_taken(tmp_path):
    form, runner = make_form(secrets=("api",), environ={"BP_RUNBOOK_HANDOFF": str(tmp_path / "h.json")})
    form.secret.value = "abc"
    form.button.click()
    assert runner.calls == [] and "shorter than 8 characters" in form.message.value
    assert not (tmp_path / "h.json").exists()


def test_the_form_replaces_the_page_result_instead_of_adding_one():
    namespace = {"role": "SMS API", "api_user": "api.sms", "practice_mode": False}
    replaced = []
    form, _ = make_form(namespace, on_result=lambda r: replaced.append(r) or True)
    form.button.click()
    assert replaced == [form.result] and form.output.outputs == ()
    assert "The result below is replaced." in form.message.value


# ---------------------------------------------------------------- against the emulator, with the real steps
def form_03(emulator, tmp_path, monkeypatch):
    """Step 03's form in practice mode, run by the real runbook against the emulator."""
    environ = {"BP_EMULATOR_URL": emulator.url, "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    params = validate({"practice_mode": True})
    form = StepForm("03_api_secret", params, ["api_user", "practice_mode"], secrets=("api",), environ=environ)
    return form, SecretStore.for_params(params, environ)


def test_a_refused_secret_replaced_by_practice_mode_keeps_the_new_one(emulator, admin, tmp_path, monkeypatch):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    form, store = form_03(emulator, tmp_path, monkeypatch)
    form.secret.value = "W" * 64
    form.button.click()
    assert form.result.status == "changed", form.result.summary
    held = store.get("api")
    assert held is not None and held.reveal() != "W" * 64  # the generated secret, which step 04 needs
    assert "you entered was refused and is not kept" in form.message.value


def test_a_refused_secret_is_forgotten_when_the_step_then_fails(emulator, tmp_path, monkeypatch):
    form, store = form_03(emulator, tmp_path, monkeypatch)  # no such user: practice mode cannot generate one
    form.secret.value = "W" * 64
    form.button.click()
    assert form.result.status == "failed" and form.result.observed["secret accepted"] is False
    assert store.get("api") is None
    assert "was refused and is not kept" in form.message.value


def test_a_form_shows_the_secrets_and_the_fields_a_person_changes_and_folds_the_rest_under_advanced():
    """Step 00 declares every parameter: a person practising needs its admin secret field, first, not
    the 20th of 21 fields; the schema's `advanced` flag folds the rest into a closed Accordion."""
    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop("BP_RUNBOOK_HEADLESS", None)
        form = StepNotebook("00_preflight", {}).form()
    box = form.widget()
    shown = [w.description for w in box.children if isinstance(w, (widgets.Text, widgets.Password, widgets.Checkbox))]
    assert shown == ["API secret", "admin API secret", "tenant url", "smoke test", "test destination", "practice mode"]
    assert isinstance(form.advanced, widgets.Accordion) and form.advanced.selected_index is None  # folded
    folded = [w.description for w in form.advanced.children[0].children]
    assert folded == [n.replace("_", " ") for n in STEPS["00_preflight"].form_fields if PARAMETERS[n].advanced]
    assert "scope" in folded and "ca bundle" in folded and form.advanced.get_title(0) == f"Advanced: {len(folded)} more parameters"
    assert box.children.index(form.advanced) < box.children.index(form.button)  # the button ends the form
