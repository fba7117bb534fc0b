"""`python -m emulator`: serve the practice tenant(s) and explain how to use them."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sqlite3
import sys

from .server import EmulatorServer
from .store import SeedError, seed_names


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("is not a number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("must be from 0 to 65535 (0 picks a free one)")
    return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Local emulator of the Bright Pattern tenant APIs used by the SMS/MMS runbook "
                    "(practice and tests only; not Bright Pattern).",
        epilog="Examples: python -m emulator --port 8765 --db practice.db ; python -m emulator --seed docs")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1; "
                        "the console has no authentication, keep it on loopback)")
    parser.add_argument("--port", type=_port, default=8765, help="port (default: 8765; 0 picks a free one)")
    parser.add_argument("--db", help="SQLite file that keeps the state across restarts (default: in memory)")
    parser.add_argument("--seed", default="default",
                        help=f"seed for a new state: a built-in name ({', '.join(seed_names())}) or a YAML file "
                             "(default: 'default', the untouched practice tenant; 'docs' is the tenant of Bright "
                             "Pattern's published samples)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        server = EmulatorServer(args.host, args.port, db_path=args.db, seed=args.seed, quiet=args.quiet)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}. "
              f"Pick another --port (0 picks a free one).", file=sys.stderr)
        return 2
    except SeedError as exc:
        print(f"error: --seed: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:  # a folder that does not exist, a file that is not an emulator state
        print(f"error: --db: {args.db} cannot hold the emulator's state ({exc}). Give a new file in an existing "
              "folder, or a file an earlier `python -m emulator --db` wrote.", file=sys.stderr)
        return 2
    url = server.url
    if not _loopback(args.host):
        print(f"warning: listening on {args.host}: the console (/_emulator/) has no authentication and can "
              "generate API secrets; keep the emulator on loopback", file=sys.stderr)
    scopes = server.store.scopes()
    scope = scopes[0] if scopes else "<none>"
    numbers = server.store.text_out_numbers(server.store.tenant_id(scope)) if scopes else []
    sender = f"+{numbers[0]}" if numbers else "<a text-out number: see the console, services>"
    print(f"Bright Pattern emulator listening on {url}  (practice and tests only)")
    print(f"  tenants (scope):      {', '.join(scopes) or 'none'}")
    print(f"  practice admin UI:    {url}/_emulator/  (in a browser: Users & Teams, Services & Campaigns, ...)")
    print(f"  console and state:    {url}/_emulator/  and  {url}/_emulator/state  (JSON)")
    print("  get the seeded admin's API secret (shown once, as in the admin UI):")
    print(f"    curl -s -X POST {url}/_emulator/tenants/{scope}/users/admin/api-secret")
    print("  then request a token with it:")
    print(f"    curl -s {url}/configapi/v2/oauth/token -d grant_type=client_credentials \\")
    print(f"         -d client_id=admin -d scope={scope} --data-urlencode client_secret@-   # paste it on stdin")
    print("  then send a text from the seeded text-out number and follow it with Get Message:")
    print(f"    curl -s {url}/clientweb/smsapi/v1/Messages -H 'Authorization: Bearer <token>' \\")
    print("         -H 'Content-Type: application/json' "
          f"-d '{{\"To\": \"+15551234567\", \"From\": \"{sender}\", \"Body\": \"hi\"}}'")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
