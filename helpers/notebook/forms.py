"""ipywidgets forms for interactive use in JupyterLab.

Pattern that survives headless runs: the parameters cell holds plain values; the form is pre-filled
from them; its button validates the edited values, copies them back into the notebook's namespace
(the same parameters), and re-runs the step, whose result replaces the page's result (one result per
page). Action cells never read widgets, so under papermill the form is inert and nothing depends on
it. A secret typed into a Password field is handed over at once and the field is cleared, so saved
widget state never holds it; a secret the tenant refuses is not kept for later runs.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from helpers.errors import ParameterError
from helpers.notebook.report import show
from helpers.safety.secrets import MIN_SECRET_LENGTH, SecretStore
from helpers.steps import run_step
from helpers.steps.context import SECRET_ACCEPTED
from helpers.steps.params import PARAMETERS, RunbookParams, validate

LABEL_WIDTH = {"description_width": "190px"}
SECRET_LABELS = {"api": ("API secret", "paste the API user's generated API secret"),
                 "admin": ("admin API secret", "paste the admin user's API secret (Manage users, Manage phones)")}


WIDGETS = {"checkbox": widgets.Checkbox, "float": widgets.FloatText, "text": widgets.Text}  # by the kind's widget


def _widget_for(name: str, value):
    """The parameter's widget, from the schema: its kind's widget type, its name as label, its comment as tooltip."""
    spec = PARAMETERS[name]
    options = {"description": name.replace("_", " "), "tooltip": spec.comment, "style": LABEL_WIDTH}
    if spec.kind.widget == "checkbox":
        return widgets.Checkbox(value=bool(value), indent=False, **options)
    return WIDGETS[spec.kind.widget](value=spec.kind.type(value), layout=widgets.Layout(width="600px"), **options)


class StepForm:
    def __init__(self, step_id: str, params: RunbookParams, fields: list[str], *, namespace: dict | None = None,
                 secrets: tuple[str, ...] = (), environ=None, runner=run_step, on_result=None):
        self.step_id, self.params, self.namespace = step_id, params, namespace
        self.environ, self.runner, self.on_result = environ, runner, on_result
        self.inputs = {name: _widget_for(name, getattr(params, name)) for name in fields}
        self.secrets = {role: widgets.Password(description=SECRET_LABELS[role][0], placeholder=SECRET_LABELS[role][1],
                                               style=LABEL_WIDTH, layout=widgets.Layout(width="600px"))
                        for role in secrets}
        self.button = widgets.Button(description=f"Run step {step_id[:2]} with these values", button_style="primary",
                                     layout=widgets.Layout(width="auto"))
        self.message = widgets.HTML()
        self.message.add_class("bp-form-message")  # what a press says, found by the browser tests
        self.output = widgets.Output()  # only used while the page shows no result yet
        self.result = None
        self.advanced = None  # the Accordion folding the advanced fields, once widget() built it
        self.button.on_click(self._clicked)

    @property
    def secret(self):
        """The API secret field (notebook 03), if this form has one."""
        return self.secrets.get("api")

    def values(self) -> dict:
        return {name: w.value for name, w in self.inputs.items()}

    def apply(self) -> RunbookParams:
        """Validate the edited values and copy them into the notebook's parameters."""
        params = validate(self.params.public() | self.values())
        self.params = params
        if self.namespace is not None:
            for name in self.inputs:
                self.namespace[name] = getattr(params, name)
        return params

    def _take_secrets(self) -> dict[str, str]:
        entered = {role: field.value for role, field in self.secrets.items() if field.value.strip()}
        for field in self.secrets.values():
            field.value = ""  # never left in widget state
        return entered

    def _clicked(self, _button=None) -> None:
        entered = self._take_secrets()
        try:
            params = self.apply()
        except ParameterError as exc:
            self.message.value = f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>"
            return
        store = SecretStore.for_params(params, self.environ)
        short = [SECRET_LABELS[r][0] for r, v in entered.items() if len(v.strip()) < MIN_SECRET_LENGTH]
        if short:
            self.message.value = html.escape(f"The {', '.join(short)} is shorter than {MIN_SECRET_LENGTH} characters: "
                                             "not an API secret. Nothing was kept; paste the generated value.")
            return
        typed = {role: store.remember(role, value).reveal() for role, value in entered.items()}
        self.message.value = "Running..."
        self.result = self.runner(self.step_id, params, environ=self.environ)
        refused = [role for role in entered if self.result.observed.get(SECRET_ACCEPTED[role]) is False]
        for role in refused:
            held = store.get(role)
            # A refused secret would only be refused again by every later run; one the step put in its
            # place (practice mode generates a new one) is not the typed one, and is kept.
            if held is not None and held.reveal() == typed[role]:
                store.forget(role)
        note = " ".join(f"The {SECRET_LABELS[r][0]} you entered was refused and is not kept." for r in refused)
        kept = [SECRET_LABELS[r][0] for r in entered if r not in refused]
        if kept:
            note += f" The {', '.join(kept)} is kept for the next notebooks (python -m helpers forget deletes it)."
        replaced = self.on_result(self.result) if self.on_result else False
        where = "The result below is replaced." if replaced else "Result:"
        self.message.value = html.escape(f"{self.result.status}: {self.result.summary}. {note} {where}".strip())
        self.output.clear_output()
        if not replaced:
            with self.output:
                show(self.result)

    def widget(self) -> widgets.VBox:
        """The secret fields first (what a person practising comes to paste), then the fields a person
        changes, the rest folded under "Advanced" (the schema's `advanced` flag), then the button."""
        main = [w for name, w in self.inputs.items() if not PARAMETERS[name].advanced]
        rest = [w for name, w in self.inputs.items() if PARAMETERS[name].advanced]
        children = list(self.secrets.values()) + main
        if rest:
            self.advanced = widgets.Accordion(children=[widgets.VBox(rest)], selected_index=None)
            self.advanced.set_title(0, f"Advanced: {len(rest)} more parameters")
            self.advanced.add_class("bp-form-advanced")
            children.append(self.advanced)
        return widgets.VBox(children + [self.button, self.message, self.output])
