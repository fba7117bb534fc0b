"""`python -m helpers …`: run the runbook, plan a run, take a tenant's snapshot, or show the run history."""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from pathlib import Path

from helpers.run.exit_codes import EXIT_MEANINGS
from helpers.run.runner import DEFAULT_OUT, OneLine, RunOptions, quiet_event_loop_noise, run
from helpers.run.storage import is_remote
from helpers.safety.gate import Gate
from helpers.safety.private import sweep
from helpers.safety.secrets import handoff_path, secret_variables
from helpers.steps import findings

EXAMPLES = """examples:
  python -m helpers run --params params/demo.yaml --emulator          # practice run, embedded emulator
  BP_ADMIN_SECRET=… BP_API_SECRET=… python -m helpers run --params params/tenant.yaml
  python -m helpers run --params params/tenant.yaml --only 4,5 --dry-run
  python -m helpers run --params params/fleet/ --emulator --jobs 2      # a fleet of practice tenants
  python -m helpers plan --params params/fleet/ --emulator             # what a run would do; changes nothing
  BP_ADMIN_SECRET=… python -m helpers snapshot --tenant-url https://acme.brightpattern.com --admin-user admin --out snap/acme
  python -m helpers history --tenant emulator_example.brightpattern.com   # the demo's runs, and a page of them
  python -m helpers verify outputs/emulator_example.brightpattern.com

exit codes:
""" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_MEANINGS.items())


BAD_INPUT = 3  # a command-line mistake is bad input, never 2 ("a person must act": a success for systemd)


def _fix(message: str) -> str:
    """The fix for one of argparse's messages, in a few words."""
    if "required" in message:
        return "give " + message.split(": ", 1)[-1].replace("/", " or ")
    if "invalid choice" in message:
        return "use one of the choices listed"
    if "is not 16 or 64 hex digits" in message:
        return "copy the head a run printed"
    if "invalid int value" in message:
        return "give a whole number, e.g. 2"
    if "unrecognized arguments" in message:
        return "remove it, or see --help for the options"
    if "expected" in message:
        return "give the option its value"
    return "see --help"


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake on the command line is exit 3 with one line naming the option and the fix."""

    def error(self, message: str):
        print(f"error: {message}. Fix: {_fix(message)} ({self.prog} --help)", file=sys.stderr)
        self.print_usage(sys.stderr)
        raise SystemExit(BAD_INPUT)


def _chain_head(value: str) -> str:
    head = value.strip().lower()
    if len(head) not in (16, 64) or any(ch not in "0123456789abcdef" for ch in head):
        raise argparse.ArgumentTypeError(f"{value!r} is not 16 or 64 hex digits (what a run prints as its "
                                         "'History chain head')")
    return head


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m helpers", description="Bright Pattern SMS/MMS API onboarding runbook.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="execute the runbook notebooks and record the run",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Executes notebooks 00-06 in order with papermill (a fresh kernel each) and writes "
                                   "outputs/<tenant>/<UTC timestamp>/ with the notebooks, summary.json, summary.html and "
                                   "run.log. Secrets come from BP_API_SECRET / BP_ADMIN_SECRET or the keyring, never "
                                   "from the parameter file.")
    # Options stay strings here: Path('') would silently become '.', and an empty value must be refused.
    r.add_argument("--params", required=True, nargs="+", metavar="FILE",
                   help="YAML parameter file, e.g. params/demo.yaml (see params/tenant.example.yaml); several "
                        "files, or a folder of them, run a fleet: one runbook per tenant")
    r.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="a fleet runs up to N tenants at once, sharing warm kernels (default: 1)")
    r.add_argument("--emulator", action="store_true",
                   help="start the embedded emulator for this run (needs tenant_url: emulator), e.g. for the demo")
    r.add_argument("--emulator-seed", metavar="FILE", help="seed YAML for the embedded emulator")
    r.add_argument("--only", action="append", default=[], metavar="STEPS",
                   help="run only these steps, e.g. --only 4,5 or --only 04_access_token")
    r.add_argument("--from", dest="from_step", metavar="STEP", help="start at this step, e.g. --from 3")
    r.add_argument("--dry-run", action="store_true", help="observe and report; change nothing (overrides the file)")
    r.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR",
                   help=f"where run records go: a folder (default: {DEFAULT_OUT}) or an S3 URL, s3://bucket/prefix, "
                        "that every worker sees (credentials from AWS_* variables or a profile, never in the URL)")
    r.add_argument("--keep-going", action="store_true", help="run the remaining steps after a failed one")
    r.add_argument("--resend-unconfirmed", action="store_true",
                   help="step 06 sends a text although an earlier run's text may have gone out (its fate unknown); "
                        "check the handset or the Carrier Usage report first")
    r.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="what the runner logs to the terminal (run.log always keeps INFO and up)")

    sub.add_parser("forget", help="delete the private handoff file (secrets handed over in notebooks' forms)",
                   description="Deletes ~/.cache/bp-sms-runbook/handoff.json (or the file $BP_RUNBOOK_HANDOFF names), the lab's findings beside it, and private folders left by runs that were killed.")

    v = sub.add_parser("verify", help="check a tenant's records against their manifests and the history's hash chain",
                       description="Exit 0 when every run folder matches its manifest and history.csv's hash chain is "
                                   "intact; exit 1 naming the first altered, missing, added or reordered file or row.")
    v.add_argument("tenant_dir", metavar="DIR",
                   help="a tenant's records folder, e.g. outputs/emulator_example.brightpattern.com (the demo's), "
                        "or its S3 URL, e.g. s3://bucket/prefix/emulator_example.brightpattern.com")
    v.add_argument("--chain-head", metavar="HEX", type=_chain_head,
                   help="the history chain head a run printed (16 hex digits, or all 64), kept elsewhere: detects "
                        "the removal of the newest runs together with their history rows")

    c = sub.add_parser("contract", help="record the shapes of a tenant's answers to the runbook's read-only calls",
                       description="Makes read-only calls (token requests, SMS/MMS privilege probe, Get User and lock "
                                   "state of the API user, Get Teams, /phone/user, /phone/ext) and writes, per call, "
                                   "the status, content type and the answer's field names and JSON types: never values, "
                                   "secrets or tenant data. See README, Contract recordings.")
    c.add_argument("--params", required=True, type=Path, metavar="FILE", help="YAML parameter file of the tenant")
    c.add_argument("--out", required=True, type=Path, metavar="FILE.json", help="where the recording goes")

    pl = sub.add_parser("plan", help="what a run would do, per tenant and step, without changing anything",
                        description="Runs every step's checks with dry_run on (no papermill, no run record): per tenant "
                                    "and step, nothing, the runbook acts (e.g. creates the user, sends one text), a "
                                    "person acts in the admin UI (the instructions), or a run fails. Prints a table and "
                                    "writes plan.json and plan.html (one page for a fleet) under DIR/plans/<UTC time>/.")
    pl.add_argument("--params", required=True, nargs="+", metavar="FILE",
                    help="YAML parameter files, or a folder of them (a fleet)")
    pl.add_argument("--emulator", action="store_true", help="start the embedded emulator (needs tenant_url: emulator)")
    pl.add_argument("--emulator-seed", metavar="SEED", help="seed of the embedded emulator: default, docs, fleet or a file")
    pl.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR", help=f"where plans go (default: {DEFAULT_OUT})")
    pl.add_argument("--keep-going", action="store_true",
                    help="plan the steps after a failing one too (a run reaches them only with --keep-going)")

    s = sub.add_parser("snapshot", help="read what a tenant's Configuration API shows; propose a parameter file",
                       description="Read-only (one token request, then GET requests): writes FOLDER/snapshot.yaml (users "
                                   "with team, roles, disabled and lock state; teams; access numbers with media, type "
                                   "and textOutService; the chat services they name; what no API shows, and why) and "
                                   "FOLDER/params.yaml, a proposed parameter file with the candidates as comments. The "
                                   "admin secret comes from BP_ADMIN_SECRET or the keyring, as for run.")
    s.add_argument("--tenant-url", required=True, metavar="URL",
                   help="https://<tenant host>, or emulator (the local one; with --emulator, the embedded one)")
    s.add_argument("--scope", default="", metavar="HOST", help="tenant host for the token request (default: the URL's)")
    s.add_argument("--admin-user", required=True, metavar="LOGIN", help="administrator with Manage users and Manage phones")
    s.add_argument("--out", required=True, metavar="FOLDER", help="a new folder for snapshot.yaml and params.yaml")
    s.add_argument("--emulator", action="store_true", help="start the embedded emulator (needs --tenant-url emulator)")
    s.add_argument("--emulator-seed", metavar="SEED", help="seed of the embedded emulator: default, docs, fleet or a file")
    s.add_argument("--ca-bundle", default="", metavar="PEM", help="CA bundle of a private CA (default: system trust)")

    h = sub.add_parser("history", help="show the latest runs per tenant, and write a page of them per tenant",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Prints the latest runs per tenant as a table, and writes <tenant folder>/history.html "
                                   "for each: a strip per step, coloured by its status run after run, linking each "
                                   "run's report. Prints where each page went. Records on S3: the table only.")
    h.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR",
                   help=f"records folder (default: {DEFAULT_OUT}), or an S3 URL (s3://bucket/prefix)")
    h.add_argument("--tenant", help="only this tenant folder, e.g. emulator_example.brightpattern.com (the demo's)")
    h.add_argument("--limit", type=int, default=10, help="runs per tenant (default: 10)")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help is 0; every mistake is BAD_INPUT (Parser.error)
        return stop.code if isinstance(stop.code, int) else BAD_INPUT
    quiet_event_loop_noise()
    try:
        return _main(args)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 5
    except Exception as exc:  # no user ever sees a traceback: one line instead
        print(f"error: unexpected {type(exc).__name__} in 'python -m helpers {args.command}'", file=sys.stderr)
        return 1


def _remote(url: str, option: str, read, only=lambda name: True) -> int:
    """`read(folder, shown)` on a private local copy of the objects under an S3 URL (helpers/run/storage.py)."""
    from helpers.errors import ParameterError
    from helpers.run.storage import mirrored

    try:
        with mirrored(url, option, only=only) as (copy, count):
            return read(copy if count else None, url)
    except ParameterError as exc:
        print(f"error: {exc}")
        return 3
    except OSError as exc:
        print(f"error: cannot read {url} ({exc.strerror or exc}). Fix: check the URL, and that the credentials boto "
              "finds (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE) may read it")
        return 1


def _history(out: str, tenant: str | None, limit: int) -> int:
    if is_remote(out):  # the table from a private copy of every tenant's history.csv; no page (the copy goes)
        def show(folder: Path | None, shown: str) -> int:
            if folder is None:
                print(f"No runs recorded under {shown}" + (f" for tenant {tenant!r}" if tenant else "") + ".")
                return 0
            return _history_local(folder, tenant, limit, shown=shown)

        return _remote(out, "--out", show, only=lambda name: name.count("/") == 1 and name.endswith("/history.csv"))
    return _history_local(Path(out), tenant, limit)


def _verify(folder: str, chain_head: str | None = None) -> int:
    if is_remote(folder):
        def read(copy: Path | None, url: str) -> int:
            if copy is None:
                print(f"error: {url!r} holds no records (removed?). Fix: give a tenant's records URL, e.g. "
                      "s3://bucket/prefix/<tenant>")
                return 3
            return _verify_folder(str(copy), chain_head, shown=url)

        return _remote(folder, "DIR", read)
    return _verify_folder(folder, chain_head)


def _verify_folder(folder: str, chain_head: str | None = None, shown: str | None = None) -> int:
    """verify of a local folder; `shown`: what to call it (the S3 URL of which it is a private copy)."""
    from helpers.run.history import folder_not_found
    from helpers.run.record import unchained_runs, verify

    path = Path(folder)
    say = (lambda line: print(line.replace(str(path), shown))) if shown else print
    if not folder.strip() or not path.is_dir():
        what = "does not exist (removed?)" if folder.strip() and not path.exists() else "is not a folder"
        print(f"error: {folder!r} {what}. Fix: {folder_not_found(folder) if folder.strip() else 'give a tenant records folder, e.g. outputs/<tenant>'}")
        return 3
    older = {run: name for run, name in unchained_runs(path).items() if (path / run).is_dir()}
    if older:
        files = ", ".join(sorted(set(older.values())))
        say(f"note: {len(older)} run folder(s) predate the hash chain ({files}): they are not verified")
    problems = verify(path, chain_head)
    if problems:
        say(f"NOT intact: {problems[0]}")
        for more in problems[1:]:
            say(f"  also: {more}")
        return 1
    say(f"intact: every run folder of {path} matches its manifest, and history.csv's hash chain holds")
    return 0


def _history_local(out_dir: Path, tenant: str | None, limit: int, shown: str | None = None) -> int:
    """The table, and a page per tenant beside its history.csv (not for `shown`: a copy of records on S3)."""
    from helpers.errors import ParameterError
    from helpers.run import history

    say = (lambda text: print(text.replace(str(out_dir), shown))) if shown else print  # the URL, not the copy
    try:
        folders = history.find_tenants(out_dir, tenant)
    except ParameterError as exc:
        say(f"error: {exc}")
        return 3
    if not folders:
        say(f"No runs recorded under {out_dir}.")
        return 0
    runs, unreadable = {}, []
    for folder in folders:
        try:
            runs[folder] = history.read_rows(folder, limit)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            unreadable.append(f"error: cannot read {folder / 'history.csv'} ({type(exc).__name__}). "
                              f"Fix: python -m helpers verify {folder} says what is intact")
    if runs:
        say(history.history_table(runs))
    if shown:
        for line in unreadable:
            say(line)
        return 1 if unreadable else 0
    gate = Gate()  # a page is a file that leaves the process: scrubbed, scanned, withheld if anything survived
    for folder, rows in runs.items():
        target = folder / history.PAGE
        try:
            survived = gate.write_text(target, history.render(folder, rows))
        except OSError as exc:
            unreadable.append(f"error: cannot write {target}: {exc.strerror}")
            continue
        print(f"History page: {target}" + (" (withheld: a secret survived scrubbing)" if survived else ""))
    for line in unreadable:
        print(line)
    return 1 if unreadable or gate.leaks else 0


def _main(args) -> int:
    if args.command == "forget":
        for folder in sweep():
            print(f"Deleted {folder}: a private folder left by a run that was killed.")
        path = handoff_path()
        if path.exists():
            path.unlink()
            print(f"Deleted {path}: the secrets handed over through the forms are gone.")
        else:
            print(f"Nothing to delete: {path} does not exist.")
        lab = findings.lab_path()
        if lab.exists():  # what the lab's pages observed: no secret, but it belongs to the same session
            lab.unlink()
            print(f"Deleted {lab}: what the notebooks' pages observed in the lab.")
        return 0
    if args.command == "contract":
        from helpers.tools.contract import main as record_contract
        return record_contract(args.params, args.out, sys.stdout, sys.stderr)
    if args.command == "plan":
        from helpers.run.plan import PlanOptions, make_plan
        return make_plan(PlanOptions(args.params, args.out, args.emulator, args.emulator_seed, args.keep_going), sys.stdout,
                         Gate(secret_variables(os.environ).values()))
    if args.command == "snapshot":
        from helpers.tools.snapshot import SnapshotOptions, snapshot
        options = SnapshotOptions(args.tenant_url, args.scope, args.admin_user, args.out, args.emulator,
                                  args.emulator_seed, args.ca_bundle)
        return snapshot(options, sys.stdout, Gate(secret_variables(os.environ).values()))
    if args.command == "history":
        return _history(args.out, args.tenant, args.limit)
    if args.command == "verify":
        return _verify(args.tenant_dir, args.chain_head)
    # One gate for the whole process: the terminal log, stdout and every file of the run pass it, and it
    # learns each secret the run finds (helpers/safety/gate.py); run.log gets more, the terminal this level.
    gate = Gate(secret_variables(os.environ).values())
    logging.getLogger().addHandler(gate.handler(sys.stderr, getattr(logging, args.log_level),
                                                OneLine("%(levelname)s %(name)s: %(message)s")))
    options = RunOptions(params_path=args.params[0], emulator=args.emulator, emulator_seed=args.emulator_seed,
                         only=args.only, from_step=args.from_step, dry_run=args.dry_run, out_dir=args.out,
                         keep_going=args.keep_going, log_level=args.log_level,
                         resend_unconfirmed=args.resend_unconfirmed)
    if len(args.params) > 1 or Path(args.params[0]).is_dir() or args.jobs != 1:
        if is_remote(args.out):  # a fleet's summary and pages are local files; one run per tenant publishes
            print("error: parameter '--out': an S3 URL takes one tenant per run (a fleet writes its summary "
                  "locally). Fix: give a local --out folder, or run each tenant on its own, as the Airflow DAG does",
                  file=sys.stderr)
            return BAD_INPUT
        from helpers.run.fleet import run_fleet
        return run_fleet(options, args.params, args.jobs, sys.stdout, gate).exit_code
    return run(options, sys.stdout, gate).exit_code
