"""The service layer's refusal: a step that cannot be done as asked.

Its own module so that the workflow and the user management (`incidents.services.users`) share it
without importing each other; `incidents.services.workflow` re-exports it."""

from __future__ import annotations


class WorkflowError(Exception):
    """A step that cannot be done as asked (unknown incident or body, no draft to approve…)."""
