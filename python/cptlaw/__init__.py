"""cptlaw: learning dynamics of continual pre-training.

Learning-rate areas, the P1/P2 scaling laws with analytic gradients, fitting and
planning, on a multithreaded C++ core.
"""

from . import io, live, planner, plot, schedules
from ._threads import get_num_threads, set_num_threads
from .bootstrap import BootstrapResult, bootstrap
from .fit import FitManyResult, FitResult, fit, fit_many
from .grid import GridInterrupted, grid
from .tracker import Tracker
from .runs import ExtrapolationWarning, Run, fit_runs, predict_run
from .areas import Areas, CPTAreas, areas, cpt_areas
from .live import BandWarning, LivePredictor
from .laws import (
    LAWS,
    AnnealingLaw,
    CPTLaw,
    CPTPowerS2Law,
    CPTSharedCLaw,
    Law,
    ModelSizeLaw,
    OpenSourceLaw,
    OutOfDomainLaw,
    ReplayCPTLaw,
    ReplayPTLaw,
)

__version__ = "0.1.0"

__all__ = [
    "LAWS",
    "AnnealingLaw",
    "Areas",
    "BandWarning",
    "BootstrapResult",
    "FitManyResult",
    "FitResult",
    "GridInterrupted",
    "CPTAreas",
    "CPTLaw",
    "ExtrapolationWarning",
    "CPTPowerS2Law",
    "CPTSharedCLaw",
    "Law",
    "LivePredictor",
    "ModelSizeLaw",
    "OpenSourceLaw",
    "OutOfDomainLaw",
    "ReplayCPTLaw",
    "ReplayPTLaw",
    "Run",
    "Tracker",
    "areas",
    "bootstrap",
    "cpt_areas",
    "fit",
    "fit_many",
    "fit_runs",
    "get_num_threads",
    "grid",
    "predict_run",
    "io",
    "live",
    "planner",
    "plot",
    "schedules",
    "set_num_threads",
]
