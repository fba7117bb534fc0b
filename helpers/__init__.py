"""Helpers for the Bright Pattern SMS/MMS API onboarding runbook.

Kept light on import: each notebook starts a fresh kernel and imports this package.
"""

__version__ = "0.1.0"
