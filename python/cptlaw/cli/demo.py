"""``cptlaw demo`` (the CPT law on the bundled tinycpt runs) and ``cptlaw reproduce`` (a paper's
findings from its published fits): the command-line wiring of :mod:`cptlaw.demo` and
:mod:`cptlaw.reproduce`."""

from __future__ import annotations

from ._common import Warnings, whole_type


def cmd_demo(args):
    from ..demo import run_demo

    with Warnings() as w:
        run_demo(args.out, plot=not args.no_plot, n_boot=args.n_boot)
    w.print(args.quiet)
    return 0


def cmd_reproduce(args):
    from .. import reproduce  # imported when run: `python -m cptlaw.reproduce` must not find it pre-imported

    return reproduce.main([args.paper] + (["--json"] if args.json else []))


def add_demo_parser(sub, common):
    d = sub.add_parser("demo", parents=[common], help="choose and fit a CPT law on bundled real runs, predict "
                                                      "held-out ones",
                       description="Choose the CPT law by cross-validation (cptlaw compare), fit it on the bundled "
                                   "tinycpt runs for both validation sets, predict held-out CPT runs with 95%% "
                                   "prediction intervals (where an observed loss should fall), write "
                                   "OUT/summary.json and OUT/demo.png.")
    d.add_argument("--out", default="cptlaw-demo", help="output folder (created; default: ./cptlaw-demo)")
    d.add_argument("--no-plot", action="store_true", help="skip demo.png")
    d.add_argument("--n-boot", type=whole_type(0, 100_000), default=0,
                   help="prediction intervals from this many pairs-bootstrap resamples (with resampled residual "
                        "noise) instead of the delta method (default 0: the delta method)")
    d.set_defaults(func=cmd_demo)
    return d


def add_reproduce_parser(sub, common):
    r = sub.add_parser("reproduce", parents=[common], help="recompute a paper's findings from its published fits",
                       description="Recompute P1's qualitative findings (loss potential, peak LR, turning length, "
                                   "optimal peak LR) from its published parameter tables; see the README.")
    r.add_argument("paper", choices=("p1",))
    r.add_argument("--json", action="store_true", help="print JSON")
    r.set_defaults(func=cmd_reproduce)
    return r


__all__ = ["add_demo_parser", "add_reproduce_parser", "cmd_demo", "cmd_reproduce"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
