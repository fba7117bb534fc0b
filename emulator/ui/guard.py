"""Who may use the practice admin UI: form posts only from its own pages, pages only by loopback name.

The console has no authentication and can generate API secrets. A page on another site must not be
able to post a form to it: browsers send `Origin` with every form POST (`Referer` is the fallback),
and it must name this very server. DNS rebinding could point another site's name at 127.0.0.1 and
pass that check with a matching Host; it cannot make the Host an IP literal or "localhost", so only
those (and the address the server was bound to) are served.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Request

HEADERS = {
    # Admin pages change under your feet and one shows a secret: never cache, never frame (clickjacking).
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": with it, browsers send "Origin: null" on form posts.
    "Referrer-Policy": "same-origin",
}


def _origin(url: str | None) -> str | None:
    if not url or url == "null":
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def _trusted_host(hostname: str, bound: str) -> bool:
    if hostname in ("localhost", bound.lower()):
        return True
    try:
        ipaddress.ip_address(hostname)
        return True
    except ValueError:
        return False


def refusal(request: Request) -> str | None:
    """Why this request is refused, or None."""
    hostname = (urlsplit(f"//{request.host}").hostname or "").lower()
    if not _trusted_host(hostname, request.environ.get("SERVER_NAME", "")):
        return (f"the practice admin UI answers only when addressed by IP address or as localhost, not as "
                f"{hostname!r}; open it as http://127.0.0.1:<port>/_emulator/")
    if request.method != "POST":
        return None
    expected = f"{request.scheme}://{request.host}".lower()
    sent = request.headers.get("Origin")
    origin = _origin(sent) or _origin(request.headers.get("Referer"))
    if origin is None:
        return ("this form post names no origin (neither Origin nor Referer), so it cannot be told from another "
                f"site's; post the forms of the practice admin UI's own pages at {expected}/_emulator/ui/")
    if origin != expected:
        return f"this form was posted from {origin}, not from the practice admin UI at {expected}"
    return None
