# Type stub for the compiled module (private: use the cptlaw package).
from typing import Callable, Optional

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

# law name -> evaluator(params, inputs, n, with_grad, threads, out=None) -> values or (values, grad)
law_eval: dict[str, Callable[..., object]]

# law name -> fitter(inputs, y, w, lo, hi, fixed, linear, starts, grid, objective, delta, max_iter,
#                    ftol, xtol, gtol, keep) -> (params, objective, status, nfev, nit, starts_tried)
fit_one: dict[str, Callable[..., tuple[F64, float, int, int, int, int]]]
# law name -> batch fitter(..., threads) -> (params, objective, status, nfev)
fit_many: dict[str, Callable[..., tuple[F64, F64, npt.NDArray[np.int32], npt.NDArray[np.int32]]]]

def schedule_values(rows: F64, data: F64) -> F64: ...
def schedule_lr(rows: F64, data: F64, steps: I64) -> F64: ...
def schedule_final_state(rows: F64, data: F64, decay: float) -> tuple[float, float, float, float]: ...
def schedule_areas(rows: F64, data: F64, steps: I64, decay: float, threads: int) -> tuple[F64, F64]: ...
def schedule_cpt_areas(
    pt_rows: F64, pt_data: F64, cpt_rows: F64, cpt_data: F64, steps: I64, decay: float, split: int, threads: int
) -> tuple[F64, F64, F64, F64]: ...

schedule_fields: int

# Grid search engine (see cptlaw.grid): specs are plain dicts built by the Python layer.
def grid_info(spec: dict) -> tuple[int, int, int]: ...
def grid_materialize(spec: dict, s0: int, s1: int, threads: int) -> tuple[F64, npt.NDArray[np.int32], F64]: ...
def grid_rows(spec: dict, rows: I64, threads: int) -> tuple[F64, npt.NDArray[np.int32], F64]: ...
def grid_reduce(
    spec: dict, s0: int, s1: int, objective: int, maximize: bool, k: int, groups: int, mul: I64, maps: list,
    threads: int,
) -> tuple[F64, I64, I64]: ...

grid_axes: int
