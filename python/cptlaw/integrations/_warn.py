"""Warnings from inside a framework's hooks and callbacks, shown at the user's line.

A hook runs deep inside ``optimizer.step()`` or ``Trainer.train()``; a fixed ``stacklevel``
would point into PyTorch or transformers. These helpers point a warning at the first frame
outside cptlaw and the training frameworks: the user's ``optimizer.step()`` or
``trainer.train()`` line.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType

__all__: list = []  # private helpers of cptlaw.integrations

_FRAMEWORKS = ("cptlaw", "torch", "transformers", "accelerate")


def _internal(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in _FRAMEWORKS)


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a ``warnings.warn`` call in the caller point at user code."""
    frame: FrameType | None = sys._getframe(1)  # the caller, where warnings.warn(stacklevel=1) would point
    level = 1
    while frame is not None and _internal(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    return level if frame is not None else 2  # all internal (e.g. run by a framework's CLI)


def warn(message, category=UserWarning) -> None:
    """``warnings.warn`` pointing at the user's line."""
    warnings.warn(message, category, stacklevel=user_stacklevel())


class at_user_line:
    """Re-issue the warnings raised inside the block at the user's line.

    The block runs with every warning recorded (so an ``"error"`` filter does not stop it
    halfway); afterwards each is issued again from the user's frame, where the user's own
    filters apply. A class, not a ``contextlib`` generator, so that no extra frame of the
    standard library stands between the hook and the frameworks.
    """

    def __enter__(self):
        self._cm = warnings.catch_warnings(record=True)
        self._caught = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, exc_type, exc, tb):
        self._cm.__exit__(exc_type, exc, tb)
        for w in self._caught:
            # a Warning instance (e.g. a BandWarning with its excursion) is re-issued as is
            try:
                warnings.warn(w.message, w.category, stacklevel=user_stacklevel())
            except Warning:
                if exc_type is None:  # an "error" filter: raise it, unless another error is on its way
                    raise
        return False
