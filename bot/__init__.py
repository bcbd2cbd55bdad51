"""rampbot: ramps per-tenant feature flags from health signals, through pull requests."""

from __future__ import annotations

__version__ = "0.1.0"
