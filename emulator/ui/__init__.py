"""The practice admin UI: small server-rendered pages under /_emulator/ui/ that stand in for the
Contact Center Administrator screens the runbook's instructions name (Users & Teams > Roles and
Users, Services & Campaigns, Directory > Access numbers).

Emulator only, like the JSON console beside it: the pages call the same Store methods, so what an
engineer does here is what the runbook then verifies through the tenant APIs.
"""

from .pages import ui

__all__ = ["ui"]
