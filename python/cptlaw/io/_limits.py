"""Sizes the readers refuse up front, so that a typo (a step of 1e12, a schedule of 1e30 updates,
brackets nested a million deep) gives a clear error instead of filling the memory."""

from __future__ import annotations

#: Most updates a run or schedule read from a file may have (per-step arrays of this length are
#: built: 80 MB each). Real LLM runs have well under a few million updates.
MAX_STEPS = 10_000_000

#: Deepest nesting of lists/objects in a JSON or YAML input (the formats need 5 or 6 levels).
MAX_DEPTH = 100


def steps_text(n=MAX_STEPS) -> str:
    return f"{n:,}"


__all__ = ["MAX_DEPTH", "MAX_STEPS"]
