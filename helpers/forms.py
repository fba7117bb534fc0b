"""ipywidgets forms for interactive use in JupyterLab.

Pattern that survives headless runs: the parameters cell holds plain values; the form is pre-filled
from them; its button validates the edited values, copies them back into the notebook's namespace
(the same parameters), and re-runs the step. Action cells never read widgets, so under papermill
the form is inert and nothing depends on it. A secret typed into the Password field is handed over
at once and the field is cleared, so saved widget state never holds it.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from .errors import ParameterError
from .params import RunbookParams, validate
from .report import show
from .steps import hand_over_api_secret, run_step

FIELD_TYPES = {f: RunbookParams.__dataclass_fields__[f].type for f in RunbookParams.__dataclass_fields__}


def _widget_for(name: str, value):
    kind = FIELD_TYPES[name]
    label = name.replace("_", " ")
    style = {"description_width": "180px"}
    layout = widgets.Layout(width="560px")
    if kind == "bool":
        return widgets.Checkbox(value=bool(value), description=label, style=style, indent=False)
    if kind == "float":
        return widgets.FloatText(value=float(value), description=label, style=style, layout=layout)
    return widgets.Text(value=str(value), description=label, style=style, layout=layout)


class StepForm:
    def __init__(self, step_id: str, params: RunbookParams, fields: list[str], *, namespace: dict | None = None,
                 secret_field: bool = False, environ=None, runner=run_step):
        self.step_id, self.params, self.namespace = step_id, params, namespace
        self.environ, self.runner = environ, runner
        self.inputs = {name: _widget_for(name, getattr(params, name)) for name in fields}
        self.secret = widgets.Password(description="API secret", placeholder="paste the generated API secret",
                                       style={"description_width": "180px"},
                                       layout=widgets.Layout(width="560px")) if secret_field else None
        self.button = widgets.Button(description=f"Run {step_id}", button_style="primary")
        self.message = widgets.HTML()
        self.output = widgets.Output()
        self.result = None
        self.button.on_click(self._clicked)

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

    def _clicked(self, _button=None) -> None:
        secret_value = self.secret.value if self.secret is not None else ""
        if self.secret is not None:
            self.secret.value = ""  # never left in widget state
        try:
            params = self.apply()
        except ParameterError as exc:
            self.message.value = f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>"
            return
        if secret_value.strip():
            secret = hand_over_api_secret(params, secret_value, self.environ)
            self.message.value = html.escape(f"API secret received ({secret.source}); verifying...")
        else:
            self.message.value = "Running..."
        self.result = self.runner(self.step_id, params, environ=self.environ)
        self.message.value = html.escape(f"{self.result.status}: {self.result.summary}")
        self.output.clear_output()
        with self.output:
            show(self.result)

    def widget(self) -> widgets.VBox:
        children = list(self.inputs.values()) + ([self.secret] if self.secret else [])
        return widgets.VBox(children + [self.button, self.message, self.output])
