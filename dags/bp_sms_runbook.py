"""Airflow DAG: the Bright Pattern SMS/MMS API runbook for many tenants, one mapped task per tenant.

Each tenant is one parameter file (YAML, as for `python -m helpers run`) in a folder, the DAG param
`params_dir`; each mapped task runs the project's runner on one file, as a subprocess:

    <python> -m helpers run --params <file> --out <out_dir> [--dry-run]      (cwd: the project)

so that scrub-then-scan, the per-tenant lock and the hash-chained record are exactly those of the
command line. (A PapermillOperator per notebook would bypass all three, and papermill writes its
parameters into the notebooks in plain text.)

Secrets come from two Airflow Connections per tenant, each secret a Connection's `password` (the one
field Airflow masks; its audit log keeps `extra` in clear): `bp_runbook_<tenant key>` (the key is the
parameter file's name without `.yaml`, lower case, other characters as `_`) holds the API secret of
the parameter file's `admin_user` (`login`, when set, must name that user), `bp_runbook_<tenant
key>__api` the API secret of `api_user` (`login`, when set, must name it). A secret in a Connection's
`extra` fails the task without retry. They reach the runner only as the subprocess's BP_ADMIN_SECRET /
BP_API_SECRET: never a DAG param, an XCom or a templated field.

Exit codes -> task states: 0 success; 2 success, the to-do list for people in the XCom; 4 skipped
(another run holds the tenant's lock); 3 failed without retry (bad parameter file, missing
secret: retrying cannot help); 1 failed, Airflow's retries apply; 5 (interrupted by a signal: a
worker shutting down, the task's execution_timeout, a person marking it failed) failed and retries
apply, because every step checks before it acts and step 06 never sends a second text.

Where things are, on each worker (environment variables; docs/airflow.md):
BP_RUNBOOK_ROOT (the project checkout; default: the folder above this file's folder when it holds
`helpers/`), BP_RUNBOOK_PYTHON (the python that has the project's requirements; default: the
worker's), BP_RUNBOOK_PARAMS_DIR and BP_RUNBOOK_OUT (defaults for the DAG params). Read at parse
time: BP_RUNBOOK_SCHEDULE (cron or preset; default none: triggered), BP_RUNBOOK_RETRIES (2),
BP_RUNBOOK_RETRY_DELAY_S (300), BP_RUNBOOK_TIMEOUT_S (3600, the task's execution_timeout).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, BaseOperator, Connection, Param, get_current_context, task
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSkipException,
)
from airflow.sdk.log import mask_secret

DAG_ID = "bp_sms_runbook"
CONN_PREFIX = "bp_runbook_"
SECRET_VARIABLES = {"admin": "BP_ADMIN_SECRET", "api": "BP_API_SECRET"}
API_SUFFIX = "__api"  # the API user's Connection: bp_runbook_<key>__api (a tenant key never holds "__")
EXTRA_SECRETS = ("api_secret", "secret", "password", "client_secret", "token")
EXIT_MEANINGS = {0: "all steps ok, changed or skipped", 1: "a step failed (or the record could not be completed)",
                 2: "a person must act (action-required)", 3: "bad parameters or missing secrets: no step ran",
                 4: "another run for this tenant holds the lock: nothing was done",
                 5: "interrupted by a signal: the record covers what ran"}
STOP_GRACE_S = 60  # how long the runner gets to record an interrupted run before it is killed


# ------------------------------------------------------------------------------- where things are
def project_root() -> Path:
    configured = os.environ.get("BP_RUNBOOK_ROOT", "").strip()
    root = Path(configured) if configured else Path(__file__).resolve().parents[1]
    if not (root / "helpers").is_dir():
        raise AirflowFailException(f"BP_RUNBOOK_ROOT: {root} holds no project (no helpers/ folder). Fix: set "
                                   "BP_RUNBOOK_ROOT on every worker to the project's checkout, e.g. /opt/bp-sms-runbook")
    return root


def runner_python() -> str:
    return os.environ.get("BP_RUNBOOK_PYTHON", "").strip() or sys.executable


def params_dir(params: dict) -> Path:
    configured = (params.get("params_dir") or os.environ.get("BP_RUNBOOK_PARAMS_DIR", "")).strip()
    return Path(configured) if configured else project_root() / "params" / "tenants"


def out_dir(params: dict) -> Path:
    configured = (params.get("out_dir") or os.environ.get("BP_RUNBOOK_OUT", "")).strip()
    return Path(configured) if configured else project_root() / "outputs"


def tenant_key(params_file: str | Path) -> str:
    """acme-eu.yaml -> acme_eu: the tenant's name in the Connection id and the task's map index."""
    return re.sub(r"[^a-z0-9_]", "_", Path(params_file).stem.lower())


def conn_id(params_file: str | Path, role: str = "admin") -> str:
    """bp_runbook_<key> (the admin's secret) or bp_runbook_<key>__api (the API user's)."""
    return CONN_PREFIX + tenant_key(params_file) + (API_SUFFIX if role == "api" else "")


# ------------------------------------------------------------------------------- secrets
def users_of(params_file: Path) -> dict[str, str] | None:
    """{"admin": admin_user, "api": api_user} of the parameter file (the runner's defaults when absent),
    or None when the file cannot be read: the runner then says what is wrong with it (exit 3)."""
    import yaml

    try:
        data = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    return {"admin": str(data.get("admin_user", "admin")), "api": str(data.get("api_user", "api.sms"))}


def connection_secrets(params_file: Path) -> dict[str, str]:
    """{environment variable: secret} from the tenant's two Connections, each secret its `password`;
    {} for a role without one (a practice tenant, or admin_user "" with guided steps: the runner says
    if a secret is missing). A secret in `extra` fails the task without retry: Airflow masks only
    passwords, and its audit log (cli_connections_add) keeps `extra` in clear."""
    if API_SUFFIX in tenant_key(params_file):
        raise AirflowFailException(f"{params_file.name}: a tenant key may not hold '{API_SUFFIX}' (it would name another "
                                   "tenant's API Connection). Fix: rename the parameter file")
    users, found = users_of(params_file), {}
    for role, field in (("admin", "admin_user"), ("api", "api_user")):
        cid = conn_id(params_file, role)
        try:
            conn = Connection.get(cid)
        except AirflowNotFoundException:
            continue
        if any(key.lower() in EXTRA_SECRETS for key in (conn.extra_dejson or {})):
            raise AirflowFailException(f"Connection {cid}: a secret is in its extra, which Airflow neither masks nor "
                                       "keeps out of its audit log. Fix: delete the Connection and add it again with "
                                       "the secret as its password (docs/airflow.md)")
        if conn.login and users is not None and conn.login != users[role]:
            raise AirflowFailException(f"Connection {cid}: its login '{conn.login}' is not the parameter file's {field} "
                                       f"'{users[role]}'. Fix: set the Connection's login to the {field} whose API "
                                       f"secret is its password, or correct {field} in the parameter file")
        if conn.password and conn.password.strip():
            found[SECRET_VARIABLES[role]] = conn.password.strip()
    for value in found.values():
        mask_secret(value)  # Airflow masks what its task logs show (the runner's output is already scrubbed)
    return found


def runner_environment(base: dict[str, str], secrets: dict[str, str]) -> dict[str, str]:
    """The runner's environment: the worker's, less everything of Airflow (other tenants'
    AIRFLOW_CONN_* among it) and less any BP secret the worker happens to hold (BP_API_SECRET and
    per-tenant forms such as BP_API_SECRET__<SCOPE>), plus this tenant's Connection secrets. The
    Connection is the only source: the worker's handoff file and keyring are switched off, so that a
    run does not depend on which worker picked it up."""
    env = {k: v for k, v in base.items()
           if "AIRFLOW" not in k.upper() and k.split("__")[0] not in SECRET_VARIABLES.values()}
    env["BP_RUNBOOK_HANDOFF"] = os.devnull  # reads as empty
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return env | secrets


def redact(text: str, secrets: list[str]) -> str:
    """Belt and braces: the runner's output is scrubbed already, and Airflow's console is not masked in
    `airflow dags test`."""
    for value in secrets:
        text = text.replace(value, "***")
    return text


# ------------------------------------------------------------------------------- outcome
def todo_list(summary: dict) -> list[dict]:
    """What people must do, step by step: the action-required steps' instructions (no secret: the
    runner scrubbed and scanned summary.json)."""
    return [{"step": s["result"]["step"], "title": s["result"]["title"], "summary": s["result"]["summary"],
             "actions": s["result"]["actions"]}
            for s in summary.get("steps", []) if s["result"]["status"] == "action-required"]


def outcome(exit_code: int, key: str, params_file: Path, report: str | None, last_line: str) -> dict:
    """The task's XCom for exit 0 and 2; the exception that sets the task's state otherwise."""
    where = f"tenant {key} ({params_file})"
    if exit_code in (0, 2):
        summary = json.loads(Path(report).with_name("summary.json").read_text(encoding="utf-8")) if report else None
        if summary is None:
            raise AirflowException(f"{where}: exit {exit_code} but the runner printed no report path")
        return {"tenant": key, "params_file": str(params_file), "exit_code": exit_code,
                "meaning": EXIT_MEANINGS[exit_code], "report": report, "todo": todo_list(summary)}
    meaning = EXIT_MEANINGS.get(exit_code, "unexpected exit code")
    if exit_code == 4:
        raise AirflowSkipException(f"{where}: {meaning}")
    if exit_code == 3:
        raise AirflowFailException(f"{where}: exit 3, {meaning}: {last_line} (fix the parameter file or the "
                                   f"Connections {conn_id(params_file)} / {conn_id(params_file, 'api')}; a retry cannot help)")
    raise AirflowException(f"{where}: exit {exit_code}, {meaning}" + (f"; report: {report}" if report else ""))


# ------------------------------------------------------------------------------- the operator
class RunbookOperator(BaseOperator):
    """`python -m helpers run` for one tenant's parameter file. Nothing is templated: the parameter
    file is a path, and the secrets never pass through a field Airflow renders or stores."""

    template_fields = ()
    ui_color = "#e8f1fb"

    def __init__(self, *, params_file: str, **kwargs):
        super().__init__(**kwargs)
        self.params_file = params_file
        self._process: subprocess.Popen | None = None
        self._secrets: list[str] = []

    def execute(self, context):
        params_file = Path(self.params_file)
        key = tenant_key(params_file)
        params = context["params"]
        secrets = connection_secrets(params_file)
        # --log-level ERROR: the task log gets the runner's progress lines and errors; run.log in the
        # record keeps everything from INFO up.
        command = [runner_python(), "-m", "helpers", "run", "--params", str(params_file), "--out", str(out_dir(params)),
                   "--log-level", "ERROR"] + (["--dry-run"] if params.get("dry_run") else [])
        self.log.info("tenant %s: %s", key, " ".join(command))
        self._secrets = list(secrets.values())
        report, last_line = None, ""
        # Its own session: a Ctrl-C meant for Airflow reaches the runner once, from stop() below.
        self._process = subprocess.Popen(command, cwd=project_root(), env=runner_environment(dict(os.environ), secrets),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True, errors="replace", start_new_session=True)
        try:
            for line in self._process.stdout:
                line = self._say(line)
                if line.startswith("Report: "):
                    report = line.removeprefix("Report: ").strip()
                if line.strip():
                    last_line = line.strip()
            exit_code = self._process.wait()
        finally:
            self.stop()  # a timeout (AirflowTaskTimeout) or an error here: the runner records and ends
        self.log.info("tenant %s: exit %s (%s)", key, exit_code, EXIT_MEANINGS.get(exit_code, "unexpected exit code"))
        result = outcome(exit_code, key, params_file, report, last_line)
        for step in result["todo"]:
            for action in step["actions"]:
                self.log.warning("to do (%s): %s", step["step"], action)
        return result

    def _say(self, line: str) -> str:
        line = redact(line.rstrip("\n"), self._secrets)
        self.log.info("%s", line)
        return line

    def stop(self) -> None:
        """SIGTERM: the runner stops the current notebook, records the run as interrupted (exit 5) and
        releases the lock; killed only if it has not ended after STOP_GRACE_S. Its last lines (where
        the record is) still reach the task log."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            rest, _ = process.communicate(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            rest, _ = process.communicate()
        for line in (rest or "").splitlines():
            self._say(line)
        self.log.warning("tenant %s: the runner was stopped, exit %s (%s)", tenant_key(self.params_file),
                         process.returncode, EXIT_MEANINGS.get(process.returncode, "unexpected exit code"))

    def on_kill(self) -> None:
        # Airflow calls this on SIGTERM (a person marked the task failed, the worker stops) and after a
        # timeout; only the signal is sent here, execute() waits for the runner's record.
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)


# ------------------------------------------------------------------------------- the DAG
@task
def list_tenants() -> list[str]:
    """The parameter files (*.yaml, *.yml) of the folder the DAG param `params_dir` names: paths only."""
    folder = params_dir(get_current_context()["params"])
    if not folder.is_dir():
        raise AirflowFailException(f"DAG param 'params_dir': {folder} is not a folder. Fix: give the folder of the "
                                   "tenants' parameter files, or set BP_RUNBOOK_PARAMS_DIR on the workers")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise AirflowFailException(f"DAG param 'params_dir': {folder} holds no parameter file (*.yaml). Fix: add one "
                                   "per tenant, e.g. a copy of params/tenant.example.yaml named acme.yaml")
    keys: dict[str, Path] = {}
    for path in files:
        if tenant_key(path) in keys:
            raise AirflowFailException(f"DAG param 'params_dir': {keys[tenant_key(path)].name} and {path.name} both "
                                       f"make the tenant key '{tenant_key(path)}'. Fix: rename one of them")
        keys[tenant_key(path)] = path
    return [str(p.resolve()) for p in files]


with DAG(
    dag_id=DAG_ID,
    description="Bright Pattern SMS/MMS API runbook, one mapped task per tenant parameter file",
    schedule=os.environ.get("BP_RUNBOOK_SCHEDULE") or None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,  # one run of the runbook per tenant at a time; the runner's lock guards the rest
    params={
        "params_dir": Param("", type="string", description="folder of the tenants' parameter files "
                                                           "(default: $BP_RUNBOOK_PARAMS_DIR, else params/tenants)"),
        "out_dir": Param("", type="string", description="where the records go (the runner's --out; default: "
                                                        "$BP_RUNBOOK_OUT, else outputs/ of the project)"),
        "dry_run": Param(False, type="boolean", description="observe and report, change nothing (--dry-run)"),
    },
    default_args={
        "retries": int(os.environ.get("BP_RUNBOOK_RETRIES", "2")),
        "retry_delay": timedelta(seconds=float(os.environ.get("BP_RUNBOOK_RETRY_DELAY_S", "300"))),
        "execution_timeout": timedelta(seconds=float(os.environ.get("BP_RUNBOOK_TIMEOUT_S", "3600"))),
    },
    tags=["bright-pattern", "runbook"],
    user_defined_filters={"tenant_key": tenant_key},
) as dag:
    # The tenant key names each mapped task in the UI and the logs (rendered before it runs, so a task
    # stopped by its timeout is named too).
    RunbookOperator.partial(task_id="run_tenant", map_index_template="{{ task.params_file | tenant_key }}").expand(
        params_file=list_tenants())
