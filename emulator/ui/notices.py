"""One-time notices: what a form POST tells the page it redirects to (post/redirect/get).

Kept in the emulator's memory, not in a cookie, because one of them carries a generated API secret:
the redirect URL holds only a random id, and the first GET of that page takes the notice away, so a
reload (or the browser history) never shows the secret again.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from flask import current_app


@dataclass(frozen=True)
class Notice:
    text: str
    error: bool = False
    secret: str | None = field(default=None, repr=False)


class Notices:
    LIMIT = 64  # notices nobody came back for are dropped, oldest first

    def __init__(self):
        self._items: OrderedDict[str, tuple[tuple, Notice]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, page: tuple, notice: Notice) -> str:
        """Keep `notice` for the next GET of `page`; returns the id to put in the redirect URL."""
        notice_id = secrets.token_urlsafe(16)
        with self._lock:
            self._items[notice_id] = (page, notice)
            while len(self._items) > self.LIMIT:
                self._items.popitem(last=False)
        return notice_id

    def take(self, notice_id: str | None, page: tuple) -> Notice | None:
        """The notice `notice_id` if it was put for `page`, removed so that it is shown only once."""
        with self._lock:
            item = self._items.get(notice_id or "")
            if item is None or item[0] != page:
                return None
            del self._items[notice_id]
            return item[1]


def notices() -> Notices:
    return current_app.extensions.setdefault("bp_practice_ui_notices", Notices())
