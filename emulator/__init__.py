"""A local stand-in for the Bright Pattern tenant APIs that the SMS/MMS onboarding runbook uses.

It is a practice and test target, faithful to the documented behaviour and quirks; it is not
Bright Pattern. See docs/emulator.md.
"""

from .app import create_app
from .server import EmulatorServer
from .store import Store

__all__ = ["EmulatorServer", "Store", "create_app"]
