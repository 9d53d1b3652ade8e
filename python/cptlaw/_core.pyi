# Type stub for the compiled module (private: use the cptlaw package).
# Every function takes keyword arguments; calls that can run long release the GIL and
# stop within ~50 ms on Ctrl-C with KeyboardInterrupt (grid calls attach what they
# finished as the exception's `_cptlaw_partial`).
from typing import Callable, Optional, TypedDict

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

def areas(
    lr: F64, decay: float, warmup_as_peak: int, s2_lr_exponent: float, threads: int,
    out_s1: Optional[F64] = None, out_s2: Optional[F64] = None,
) -> tuple[F64, F64]: ...
def cpt_areas(
    lr_pt: F64, lr_cpt: F64, decay: float, split: int, warmup_as_peak: int, s2_lr_exponent: float, threads: int
) -> tuple[F64, F64, F64, F64]: ...
# The transfer rule of split mode `split` from the PT momentum, last PT LR and S2_pt:
# {"momentum_cpt", "prev_lr", "s2_cpt", "pt_continues", "momentum_pt"}.
def cpt_transfer(split: int, momentum_pt: float, lr_pt: float, s2_pt: float = 0.0) -> dict: ...
# Split mode names by code.
splits: tuple[str, ...]

class LawInfo(TypedDict):
    kind: int  # the grid's law code
    n_params: int
    n_inputs: int
    grid_inputs: Optional[str]  # "leading", "whole", "cpt_only"; None: not on a grid

# The law registry: name -> LawInfo, in kind order.
laws: dict[str, LawInfo]
# law name -> evaluator(params, inputs, n, with_grad, threads, out=None) -> values or (values, grad)
law_eval: dict[str, Callable[..., object]]

# law name -> fitter(inputs, y, w, lo, hi, fixed, linear, starts, grid, objective, delta, max_iter,
#                    ftol, xtol, gtol, keep) -> (params, objective, status, nfev, nit, starts_tried)
fit_one: dict[str, Callable[..., tuple[F64, float, int, int, int, int]]]
# law name -> batch fitter(..., keep, threads) -> (params, objective, status, nfev)
fit_many: dict[str, Callable[..., tuple[F64, F64, npt.NDArray[np.int32], npt.NDArray[np.int32]]]]
fit_statuses: dict[int, str]
fit_objectives: tuple[str, ...]

def schedule_values(rows: F64, data: F64) -> F64: ...
def schedule_lr(rows: F64, data: F64, steps: I64) -> F64: ...
def schedule_final_state(rows: F64, data: F64, decay: float) -> tuple[float, float, float, float]: ...
def schedule_areas(rows: F64, data: F64, steps: I64, decay: float, threads: int) -> tuple[F64, F64]: ...
def schedule_cpt_areas(
    pt_rows: F64, pt_data: F64, cpt_rows: F64, cpt_data: F64, steps: I64, decay: float, split: int, threads: int
) -> tuple[F64, F64, F64, F64]: ...

schedule_fields: int
schedule_shapes: dict[str, int]

# Grid search engine (see cptlaw.grid): specs are plain dicts built by the Python layer.
def grid_info(spec: dict) -> tuple[int, int, int]: ...
def grid_materialize(spec: dict, s0: int, s1: int, threads: int) -> tuple[F64, npt.NDArray[np.int32], F64]: ...
def grid_rows(spec: dict, rows: I64, threads: int) -> tuple[F64, npt.NDArray[np.int32], F64]: ...
def grid_reduce(
    spec: dict, s0: int, s1: int, objective: int, maximize: bool, k: int, groups: int, mul: I64, maps: list,
    threads: int,
) -> tuple[F64, I64, I64]: ...

grid_axes: dict[str, int]
grid_schedule_axes: int
grid_n_axes: int
grid_shapes: tuple[str, ...]
grid_decay_types: tuple[str, ...]
grid_start_hf: float
grid_start_pt: float

# Threads: the most one call may use, and the pool's workers started so far.
max_threads: int
def pool_workers() -> int: ...
