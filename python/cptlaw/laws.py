"""The laws of P1 and P2 as callable objects with analytic gradients.

Each law is evaluated by the compiled core (one definition per formula). A law
instance holds one parameter vector; calling it with the law's inputs (keyword
arguments named as in the papers) broadcasts them like NumPy and returns the loss.

The compiled core's law registry (``_core.laws``) is the one list of laws: each class
below names its compiled law (``_core_name``) and registers itself on definition, so
:data:`LAWS`, :func:`law_names` and :func:`law_class` follow the registry.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, ClassVar, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core, _validate
from . import cuda as _cuda
from ._threads import get_num_threads


_CLASSES: dict[str, type[Law]] = {}  # compiled law name -> its class
_LawT = TypeVar("_LawT", bound="Law")
_P = inspect.Parameter


def _method(base: Callable[..., Any], cls: type, name: str, params: list[inspect.Parameter],
            returns: str, doc: str | None = None) -> Callable[..., Any]:
    """``base`` under ``cls.name`` with a signature naming the law's own parameters or inputs.

    ``Law``'s methods take ``*args, **kwargs`` (the names differ from law to law); this thin
    wrapper carries the real signature for ``help()``, ``inspect.signature``, IDEs and the
    API reference, and calls ``base`` unchanged.
    """
    def method(self, *args, **kwargs):
        return base(self, *args, **kwargs)

    method.__name__ = base.__name__
    method.__qualname__ = f"{cls.__qualname__}.{base.__name__}"
    method.__module__ = cls.__module__
    method.__doc__ = doc if doc is not None else base.__doc__
    method.__wrapped_law_method__ = base  # type: ignore[attr-defined]
    method.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [_P("self", _P.POSITIONAL_OR_KEYWORD)] + params, return_annotation=returns)
    return method


def _give_signatures(cls: type[Law]) -> None:
    """Set the constructor, call and gradient signatures of a law class from its
    ``param_names`` and ``input_names``."""
    params = [_P(n, _P.POSITIONAL_OR_KEYWORD, annotation="float") for n in cls.param_names]
    inputs = [_P(n, _P.POSITIONAL_OR_KEYWORD, annotation="ArrayLike") for n in cls.input_names]
    out = _P("out", _P.KEYWORD_ONLY, default=None, annotation="NDArray[np.float64] | None")
    init_doc = (f"A {cls.__name__} with parameters {', '.join(cls.param_names)} (finite reals, by position "
                "in this order or by name).")
    arrays = "NDArray[np.float64]"
    for name, sig, returns, doc in (("__init__", params, "None", init_doc),
                                    ("__call__", inputs + [out], arrays, None),
                                    ("grad", inputs, arrays, None),
                                    ("value_and_grad", inputs, f"tuple[{arrays}, {arrays}]", None)):
        base: Callable[..., Any] = getattr(Law, name)
        current = getattr(cls, name)
        if current is base or getattr(current, "__wrapped_law_method__", None) is base:  # not overridden
            setattr(cls, name, _method(base, cls, name, sig, returns, doc))


class Law:
    """Base class: a parameter vector plus the compiled formula it feeds."""

    param_names: ClassVar[tuple[str, ...]] = ()
    input_names: ClassVar[tuple[str, ...]] = ()
    #: parameters that may take either sign (all others are > 0 in the papers)
    signed_params: ClassVar[tuple[str, ...]] = ()
    #: parameters that enter the formula linearly (for variable projection)
    linear_params: ClassVar[tuple[str, ...]] = ()
    #: start values of the nonlinear parameters in :func:`cptlaw.fit`'s multistart grid, by
    #: name: the decades where real fits land. A law overrides or adds entries (or
    #: :meth:`start_values` for starts that scale with the data).
    start_grid: ClassVar[dict] = {
        "alpha": np.geomspace(0.1, 1.5, 10),
        "E": np.geomspace(1.0, 1e4, 9),
        "beta": np.geomspace(0.02, 2.0, 7),
        "a1": np.array([0.01, 0.1, 1.0]),
        # a2 takes either sign (a concave or a convex replay factor); 0 itself is left out:
        # there the shift term vanishes and B is not determined.
        "a2": np.array([-8.0, -1.0, 1.0, 8.0]),
        "g1": np.array([-0.2, 0.0, 0.2]),
        "g2": np.array([-0.2, 0.0, 0.2]),
        "g3": np.array([0.1, 0.3, 1.0]),
        "z1": np.array([0.5, 1.0, 1.5]),
        "z2": np.array([0.5, 1.0, 1.5]),
    }
    #: default fitting bounds ``(low, high)`` beyond positivity (and beyond "signed
    #: parameters are free"), by name. The B-beta direction is nearly degenerate
    #: (``B*(1-(1+E*x)**-beta) ~ B*beta*log(1+E*x)`` as beta -> 0): with noisy data the
    #: optimum can run off to beta -> 0, ``abs(B)``, E -> inf, so the search is kept inside the
    #: decades real fits occupy and a fit that ends on such a bound says so. The replay shift
    #: factor has the same degeneracy in a2 (``B*(1-exp(-a2*r)) ~ B*a2*r``); a2 takes either
    #: sign (real replay runs want a2 < 0: a little replay removes most forgetting), and
    #: ``abs(a2) <= 50`` keeps ``exp(abs(a2))`` and the B it pairs with inside double precision.
    default_bounds: ClassVar[dict] = {"E": (0.0, 1e6), "beta": (1e-2, 10.0), "alpha": (0.0, 10.0),
                                      "a2": (-50.0, 50.0), "a1": (0.0, 100.0)}
    _core_name: ClassVar[str] = ""

    @classmethod
    def start_values(cls, name: str, features=None) -> np.ndarray:
        """The multistart grid's values of nonlinear parameter ``name`` (:attr:`start_grid`);
        ``features`` (the fitted inputs by name, or None) lets a law scale them to the data."""
        return np.asarray(cls.start_grid[name], dtype=np.float64)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _give_signatures(cls)
        name = cls.__dict__.get("_core_name")
        if not name:
            return
        info = _core.laws.get(name)
        if info is None:
            raise TypeError(f"{cls.__name__}: the compiled core has no law {name!r}")
        if info["n_params"] != len(cls.param_names) or info["n_inputs"] != len(cls.input_names):
            raise TypeError(f"{cls.__name__}: {len(cls.param_names)} parameters / {len(cls.input_names)} inputs, "
                            f"but the compiled law {name!r} has {info['n_params']} / {info['n_inputs']}")
        _CLASSES[name] = cls

    def __init__(self, *args: float, **kwargs: float) -> None:
        """Parameters by position (in ``param_names`` order) or by name."""
        names = self.param_names
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}: takes {len(names)} parameters, got {len(args)}")
        values = dict(zip(names, args))
        for key, val in kwargs.items():
            if key not in names:
                raise TypeError(
                    f"{type(self).__name__}: unknown parameter {key!r}; expected {', '.join(names)}"
                )
            if key in values:
                raise TypeError(f"{type(self).__name__}: parameter {key!r} given twice")
            values[key] = val
        missing = [n for n in names if n not in values]
        if missing:
            raise TypeError(f"{type(self).__name__}: missing parameter(s) {', '.join(missing)}")
        self._p = np.array([_validate.real_scalar(values[n], n) for n in names], dtype=np.float64)

    @property
    def params(self) -> dict[str, float]:
        """Parameters by name, in ``param_names`` order."""
        return {n: float(v) for n, v in zip(self.param_names, self._p)}

    @property
    def param_vector(self) -> NDArray[np.float64]:
        """Parameters as a float64 array in ``param_names`` order (a copy)."""
        return self._p.copy()

    @classmethod
    def from_vector(cls: type[_LawT], vector: ArrayLike) -> _LawT:
        """A law from its parameters as one vector in ``param_names`` order."""
        v = _validate.as_float_array(vector, "vector", min_ndim=1)
        if v.shape != (len(cls.param_names),):
            raise ValueError(f"vector: expected {len(cls.param_names)} values ({', '.join(cls.param_names)})")
        return cls(*v)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={v:.6g}" for n, v in self.params.items())
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and np.array_equal(self._p, other._p)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value object

    # -- evaluation ---------------------------------------------------------------
    def _given(self, args: tuple, kwargs: dict) -> list[Any]:
        """The inputs' values in ``input_names`` order, from positional and keyword arguments."""
        names = self.input_names
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}: takes {len(names)} inputs, got {len(args)}")
        given = dict(zip(names, args))
        for key, val in kwargs.items():
            if key not in names:
                raise TypeError(f"{type(self).__name__}: unknown input {key!r}; expected {', '.join(names)}")
            if key in given:
                raise TypeError(f"{type(self).__name__}: input {key!r} given twice")
            given[key] = val
        missing = [n for n in names if n not in given]
        if missing:
            raise TypeError(f"{type(self).__name__}: missing input(s) {', '.join(missing)}")
        return [given[n] for n in names]

    def _inputs(self, args: tuple, kwargs: dict) -> tuple[list[np.ndarray], tuple[int, ...], int]:
        names = self.input_names
        arrays = [_validate.as_float_array(v, n, allow_empty=True) for n, v in zip(names, self._given(args, kwargs))]
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrays))
        except ValueError:
            desc = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
            raise ValueError(f"inputs do not broadcast: {desc}") from None
        size = int(np.prod(shape, dtype=np.int64))
        flat = []
        for a in arrays:
            if a.size == 1 and size != 1:
                flat.append(np.ascontiguousarray(a.reshape(1)))
            elif a.shape == shape:
                flat.append(np.ascontiguousarray(a).reshape(-1))
            else:
                flat.append(np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1))
        return flat, shape, size

    def _eval(self, args: tuple, kwargs: dict, with_grad: bool, out: np.ndarray | None = None) -> Any:
        if _cuda._on_device((*args, *kwargs.values(), out)):  # CuPy / PyTorch CUDA arrays: on their GPU
            return _cuda._law_eval(self, args, kwargs, with_grad, out)
        flat, shape, size = self._inputs(args, kwargs)
        fn = _core.law_eval[self._core_name]
        if out is not None:
            _validate.output_array(out, "out", shape)
            if any(np.shares_memory(out, a) for a in flat):
                raise ValueError("out: must not overlap the inputs")
        if size == 0:
            value = np.zeros(shape) if out is None else out
            return (value, np.zeros(shape + (len(self.param_names),))) if with_grad else value
        res: Any = fn(self._p, flat, size, with_grad, get_num_threads(), out)
        if with_grad:
            value, grad = res
            return value.reshape(shape), grad.reshape(shape + (len(self.param_names),))
        return out if out is not None else res.reshape(shape)

    def __call__(self, *args: ArrayLike, out: NDArray[np.float64] | None = None,
                 **inputs: ArrayLike) -> NDArray[np.float64]:
        """The loss at the given inputs (broadcast together).

        ``out``: a float64, C-contiguous array of the broadcast shape to write the
        losses into (and return), as NumPy's ufuncs take; saves allocating and
        page-faulting a fresh result when a law is evaluated again and again.
        """
        return self._eval(args, inputs, False, out)

    def grad(self, *args: ArrayLike, **inputs: ArrayLike) -> NDArray[np.float64]:
        """d loss / d params, shape ``broadcast(inputs) + (len(param_names),)``."""
        return self._eval(args, inputs, True)[1]

    def value_and_grad(self, *args: ArrayLike,
                       **inputs: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(loss, grad)`` in one pass."""
        return self._eval(args, inputs, True)


class AnnealingLaw(Law):
    """P2: ``L = L0 + A * s1**-alpha - C * s2`` for one training run."""

    param_names = ("L0", "A", "alpha", "C")
    input_names = ("s1", "s2")
    linear_params = ("L0", "A", "C")
    # one nonlinear parameter: a fine grid costs little
    start_grid = {**Law.start_grid, "alpha": np.geomspace(0.05, 2.0, 32)}
    _core_name = "annealing"


class CPTLaw(Law):
    """P1 Eq. 4: ``L0 + A*(s1_pt+s1_cpt)**-alpha - C1*s2_pt - C2*s2_cpt + B*(1-(1+E*s1_cpt)**-beta)``.

    B > 0 on the general (D_pt) validation set, B < 0 on the domain (D_cpt) set.
    """

    param_names = ("L0", "A", "alpha", "C1", "C2", "B", "E", "beta")
    input_names = ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")
    signed_params = ("B",)
    linear_params = ("L0", "A", "C1", "C2", "B")
    _core_name = "cpt"


class CPTSharedCLaw(Law):
    """Eq. 4 with one annealing coefficient ``C`` over the whole LR history:

    ``L0 + A*(s1_pt+s1_cpt)**-alpha - C*(s2_pt+s2_cpt) + B*(1-(1+E*s1_cpt)**-beta)``.

    For CPT from an annealed checkpoint whose LR climbs back up: Eq. 4's ``C1`` (set by the
    PT annealing) keeps the PT annealing gain that such runs lose within a few dozen steps,
    while one ``C`` charges the climb back at the rate the annealing was credited. With
    ``split="by_source"``, ``s2_pt + s2_cpt`` is the S2 of the whole schedule.
    """

    param_names = ("L0", "A", "alpha", "C", "B", "E", "beta")
    input_names = ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")
    signed_params = ("B",)
    linear_params = ("L0", "A", "C", "B")
    _core_name = "cpt_shared_c"


class ReplayPTLaw(Law):
    """P1 Eq. 8, the D_pt validation loss with replay ratio ``r_pt`` of PT data in CPT.

    ``... - C2*s2_cpt*exp(a1*r_pt) + B*(1-(1+E*s1_cpt)**-beta)*(1-exp(-a2*r_cpt))``, r_cpt = 1 - r_pt.

    ``a2`` takes either sign: ``a2 > 0`` is P1's concave replay factor, ``a2 < 0`` a convex one
    (a little replay removes most of the forgetting, as real runs can show; B then changes sign
    with it). The factor is finite and continuous through ``a2 = 0``, where it is 0.
    """

    param_names = ("L0", "A", "alpha", "C1", "C2", "a1", "B", "E", "beta", "a2")
    input_names = ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt", "r_pt")
    signed_params = ("B", "a2")
    linear_params = ("L0", "A", "C1", "C2", "B")
    _core_name = "replay_pt"


class ReplayCPTLaw(ReplayPTLaw):
    """P1 Eq. 8, the D_cpt validation loss with replay ratio ``r_pt``.

    ``... - C2*s2_cpt*exp(a1*r_cpt) + B*(1-(1+E*s1_cpt)**-beta)*(exp(a2*r_cpt)-1)``. The paper's
    Fig. 19 caption prints r_pt in the annealing factor; we follow Eq. 8 (r_cpt).
    """

    _core_name = "replay_cpt"


class ModelSizeLaw(Law):
    """P1 Eq. 7 with N = non-embedding parameters (millions):

    ``L0 + A*S**-alpha - C1*s2_pt*N**g1 - C2*s2_cpt*N**g2 + B*(1-(1+E*s1_cpt)**-beta) + F*N**-g3``.
    """

    param_names = ("L0", "A", "alpha", "C1", "C2", "g1", "g2", "B", "E", "beta", "F", "g3")
    input_names = ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt", "N")
    signed_params = ("B", "g1", "g2")
    linear_params = ("L0", "A", "C1", "C2", "B", "F")
    _core_name = "model_size"


class OpenSourceLaw(Law):
    """P1 Sec. 6, for base models with an unknown PT schedule (PT LR assumed annealed to 0):

    ``L0 + A*(s1_cpt + S1_pt_hat)**-alpha + B*(1-(1+E*s1_cpt)**-beta) - C2*s2_cpt``.
    """

    param_names = ("L0", "A", "alpha", "S1_pt_hat", "B", "E", "beta", "C2")
    input_names = ("s1_cpt", "s2_cpt")
    signed_params = ("B",)
    linear_params = ("L0", "A", "B", "C2")
    _core_name = "open_source"

    @classmethod
    def start_values(cls, name, features=None):
        if name != "S1_pt_hat":
            return super().start_values(name, features)
        # the PT area in units of the CPT area seen (0.1x .. 100x the largest s1_cpt)
        scale = float(np.nanmax(features["s1_cpt"])) if features is not None else 0.0
        return (scale or 1.0) * np.geomspace(0.1, 100.0, 10)


class CPTPowerS2Law(Law):
    """P1 App. J Eq. 10: the CPT law with powered annealing areas ``-C1*s2_pt**z1 - C2*s2_cpt**z2``.

    S2 is negative after a re-warmup, so the power is the odd extension ``sign(s)*|s|**z``.
    """

    param_names = ("L0", "A", "alpha", "C1", "C2", "B", "E", "beta", "z1", "z2")
    input_names = ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")
    signed_params = ("B",)
    linear_params = ("L0", "A", "C1", "C2", "B")
    _core_name = "cpt_power_s2"


class OutOfDomainLaw(Law):
    """P1 Eq. 6: an out-of-domain loss as ``w1*loss_pt + w2*loss_cpt`` (weights need not sum to 1)."""

    param_names = ("w1", "w2")
    input_names = ("loss_pt", "loss_cpt")
    signed_params = ("w1", "w2")
    linear_params = ("w1", "w2")
    _core_name = "out_of_domain"

    @classmethod
    def fit(cls, loss_pt: ArrayLike, loss_cpt: ArrayLike, loss_ood: ArrayLike) -> OutOfDomainLaw:
        """Least-squares weights from observed (loss_pt, loss_cpt, loss_ood) triples."""
        cols = []
        for name, v in (("loss_pt", loss_pt), ("loss_cpt", loss_cpt), ("loss_ood", loss_ood)):
            a = _validate.as_float_array(v, name).reshape(-1)
            _validate.check_finite(a, name)
            cols.append(a)
        if not (cols[0].size == cols[1].size == cols[2].size):
            raise ValueError("loss_pt, loss_cpt, loss_ood: must have the same number of points")
        if cols[0].size < 2:
            raise ValueError("loss_ood: need at least 2 observations to fit 2 weights")
        design = np.stack(cols[:2], axis=1)
        w, *_ = np.linalg.lstsq(design, cols[2], rcond=None)
        return cls(*w)


#: Every law class, in the order of the compiled registry.
LAWS: tuple[type[Law], ...] = tuple(_CLASSES[name] for name in _core.laws if name in _CLASSES)


def law_names() -> tuple[str, ...]:
    """The laws' short names (``"annealing"``, ``"cpt"``, ...), as the CLI and fit files spell them."""
    return tuple(cls._core_name for cls in LAWS)


def law_class(name: str | type[Law]) -> type[Law]:
    """A law class from its short name (``cpt``, ``replay_pt``; ``-`` for ``_`` is accepted) or its
    class name (``CPTLaw``)."""
    key = str(name).strip()
    for cls in LAWS:
        if key == cls.__name__ or key.lower().replace("-", "_") == cls._core_name:
            return cls
    raise ValueError(f"law: unknown law {name!r}; expected one of {', '.join(law_names())}")


__all__ = [
    "LAWS", "AnnealingLaw", "CPTLaw", "CPTPowerS2Law", "CPTSharedCLaw", "Law", "ModelSizeLaw",
    "OpenSourceLaw", "OutOfDomainLaw", "ReplayCPTLaw", "ReplayPTLaw", "law_class", "law_names",
]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
