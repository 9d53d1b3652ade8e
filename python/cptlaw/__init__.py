"""cptlaw: learning dynamics of continual pre-training.

Learning-rate areas, the P1/P2 scaling laws with analytic gradients, fitting and
planning, on a multithreaded C++ core.
"""

from . import cuda, io, live, planner, plot, schedules
from ._threads import get_num_threads, set_num_threads
from .bootstrap import BootstrapResult, bootstrap
from .fit import FitManyResult, FitResult, fit, fit_many
from .identifiability import IdentifiabilityWarning
from .grid import GridInterrupted, grid
from .tracker import Tracker
from .runs import ExtrapolationWarning, Run, fit_runs, predict_run
from .extrapolation import ExtrapolationCheck, extrapolation_checks
from .compare import CompareResult, compare
from .intervals import Interval, predict_interval
from . import intervals
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
    "CompareResult",
    "FitManyResult",
    "FitResult",
    "GridInterrupted",
    "IdentifiabilityWarning",
    "CPTAreas",
    "CPTLaw",
    "ExtrapolationWarning",
    "ExtrapolationCheck",
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
    "compare",
    "cpt_areas",
    "extrapolation_checks",
    "fit",
    "fit_many",
    "fit_runs",
    "get_num_threads",
    "grid",
    "predict_run",
    "Interval",
    "intervals",
    "predict_interval",
    "io",
    "live",
    "planner",
    "plot",
    "schedules",
    "set_num_threads",
]
