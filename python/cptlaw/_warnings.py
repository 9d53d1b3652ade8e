"""Warnings that point at the caller's line, and a per-thread switch to silence them.

cptlaw functions call each other (``compare`` -> ``fit_runs`` -> ``fit``), so a fixed
``stacklevel`` points into the package for some callers. :func:`warn` walks out of the
package instead; every warning of cptlaw goes through it (the hooks of
``cptlaw.integrations`` also step over the frameworks' frames, with their own helper). :func:`quiet` silences cptlaw's own warnings in the current thread only
(``warnings.catch_warnings`` changes process-wide state, which worker threads must not);
code that silences them records what they would have said in its results instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from types import FrameType

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_state = threading.local()


def _stacklevel() -> int:
    """The stacklevel of the innermost frame outside the cptlaw package (for warnings.warn
    called from the frame that called this function)."""
    frame: FrameType | None = sys._getframe(2)  # the caller of warn()
    level = 2
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PACKAGE_DIR + os.sep):
            return level
        frame = frame.f_back
        level += 1
    return level


def warn(message: str | Warning, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` at the user's line, unless :func:`quiet` is active in this thread.

    ``message`` may be a Warning instance (its class is then the category), as for
    ``warnings.warn``.
    """
    if getattr(_state, "quiet", 0):
        return
    warnings.warn(message, category, stacklevel=_stacklevel())


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence :func:`warn` in the current thread (nestable)."""
    _state.quiet = getattr(_state, "quiet", 0) + 1
    try:
        yield
    finally:
        _state.quiet -= 1
