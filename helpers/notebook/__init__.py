"""What a runbook page calls: `from helpers.notebook import StepNotebook` (page.py), its form (forms.py)
and the result's table and record (report.py)."""

from helpers.notebook.page import StepNotebook

__all__ = ["StepNotebook"]
