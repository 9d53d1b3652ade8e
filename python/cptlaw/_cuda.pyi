"""Type stubs of the optional compiled CUDA module (cpp/cuda/module.cpp). Private: use cptlaw.cuda."""

from typing import Any

import numpy as np
import numpy.typing as npt

class CudaError(RuntimeError): ...

law_names: list[str]
max_keep: int

def device_count() -> tuple[int, str]: ...
def device_info(device: int) -> dict[str, Any]: ...
def synchronize(stream: int, device: int) -> None: ...
def copy_bandwidth(bytes: int, repeats: int, device: int) -> float: ...
def law_eval(
    name: str,
    params: npt.NDArray[np.float64],
    inputs: list[tuple[int, int, float]],
    n: int,
    out: int,
    grad: int,
    device: int,
    stream: int,
) -> None: ...
def fit_many(
    name: str,
    inputs: list[int],
    y: int,
    w: int,
    n_fits: int,
    n_points: int,
    lo: npt.NDArray[np.float64],
    hi: npt.NDArray[np.float64],
    fixed: npt.NDArray[np.uint8],
    linear: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.float64],
    grid: npt.NDArray[np.float64],
    objective: int,
    delta: float,
    max_iter: int,
    ftol: float,
    xtol: float,
    gtol: float,
    keep: int,
    device: int,
    stream: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.int32]]: ...
def fit_check(
    inputs: list[int], y: int, w: int, n_fits: int, n_points: int, device: int, stream: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

class DeviceArray:
    @property
    def ptr(self) -> int: ...
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def device(self) -> int: ...

def upload(array: npt.NDArray[np.float64], device: int) -> DeviceArray: ...

class Grid:
    def __init__(self, spec: dict[str, Any], device: int) -> None: ...
    def materialize(
        self, s0: int, s1: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...
    def reduce(
        self,
        s0: int,
        s1: int,
        objective: int,
        maximize: bool,
        k: int,
        groups: int,
        mul: npt.NDArray[np.int64],
        maps: list[npt.NDArray[np.int32]],
        seed: npt.NDArray[np.float64],
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
