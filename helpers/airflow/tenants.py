"""A tenant as Airflow sees it: its parameter file, its key (the mapped task's name), its two
Connections (each secret a Connection's password) and the environment the runner gets."""

from __future__ import annotations

import os
import re
from pathlib import Path

from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
from airflow.sdk.log import mask_secret

CONN_PREFIX = "bp_runbook_"
API_SUFFIX = "__api"  # the API user's Connection: bp_runbook_<key>__api (a tenant key never holds "__")
SECRET_VARIABLES = {"admin": "BP_ADMIN_SECRET", "api": "BP_API_SECRET"}
USER_FIELDS = {"admin": "admin_user", "api": "api_user"}
EXTRA_SECRETS = ("api_secret", "secret", "password", "client_secret", "token")


def tenant_key(params_file: str | Path) -> str:
    """acme-eu.yaml -> acme_eu: the tenant's name in the Connection id and the task's map index."""
    return re.sub(r"[^a-z0-9_]", "_", Path(params_file).stem.lower())


def conn_id(params_file: str | Path, role: str = "admin") -> str:
    """bp_runbook_<key> (the admin's secret) or bp_runbook_<key>__api (the API user's)."""
    return CONN_PREFIX + tenant_key(params_file) + (API_SUFFIX if role == "api" else "")


def parameter_files(folder: Path) -> list[str]:
    """The parameter files (*.yaml, *.yml) of `folder`, one tenant each; paths only."""
    if not folder.is_dir():
        raise AirflowFailException(f"DAG param 'params_dir': {folder} is not a folder. Fix: give the folder of the "
                                   "tenants' parameter files")
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
    for role, field in USER_FIELDS.items():
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
