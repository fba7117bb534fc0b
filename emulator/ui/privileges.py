"""Privileges as Contact Center Administrator groups them on a role's Properties.

Bright Pattern's admin guide (5.19, "Privileges") names the groups; the SMS/MMS admin procedure
places "Use SMS/MMS API" in Service and Campaign Administration, and the guide lists "Access
Real-time Stats API" under Supervision. The public copies do not list the other privileges the
emulator knows, so their groups below are the emulator's choice (by what they administer). A
privilege missing from this table shows under Miscellaneous Management Functions, so a new one
in the store is never hidden.
"""

from __future__ import annotations

from ..store import KNOWN_PRIVILEGES

# In CCA's order of groups; only groups holding a privilege the emulator knows are shown.
GROUPS: dict[str, tuple[str, ...]] = {
    "Security and Administration": ("Manage users", "Manage all teams"),
    "Service and Campaign Administration": ("Use SMS/MMS API", "Manage lists", "Use Task Routing API"),
    "Supervision": ("Access Real-time Stats API",),
    "System Administration": ("Manage phones",),
}
FALLBACK_GROUP = "Miscellaneous Management Functions"


def grouped(known: tuple[str, ...] = KNOWN_PRIVILEGES) -> list[tuple[str, list[str]]]:
    """[(group, [privilege, ...]), ...] covering every known privilege exactly once."""
    placed = {p for privileges in GROUPS.values() for p in privileges}
    groups = [(name, [p for p in privileges if p in known]) for name, privileges in GROUPS.items()]
    rest = [p for p in known if p not in placed]
    if rest:
        groups.append((FALLBACK_GROUP, rest))
    return [(name, privileges) for name, privileges in groups if privileges]
