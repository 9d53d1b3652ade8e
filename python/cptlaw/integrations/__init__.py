"""Optional integrations with training frameworks.

- :mod:`cptlaw.integrations.torch`: feed a :class:`cptlaw.Tracker` from a PyTorch
  optimizer (``track_optimizer``) and read the per-step LRs of any
  ``torch.optim.lr_scheduler`` object (``lr_from_scheduler``).
- :mod:`cptlaw.integrations.hf`: ``CPTLawCallback`` and ``LivePredictionCallback``,
  Hugging Face ``TrainerCallback`` classes (``pip install cptlaw[hf]`` brings transformers
  and accelerate, which ``transformers.Trainer`` needs).

Nothing here is imported by ``import cptlaw``; each submodule imports its framework
only when used, and raises an ImportError naming the missing package.
"""

from . import hf, torch  # light: each imports its framework only when used

__all__ = ["hf", "torch"]
