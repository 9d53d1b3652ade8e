"""The ``cptlaw`` command line: ``demo``, ``fit``, ``predict``, ``compare``, ``plan``, ``grid``, ``reproduce``.

Exit status 0 on success; on any failure exactly one line on stderr (``file:line:column: error:
what is wrong`` for bad input files, ``cptlaw: error: ...`` otherwise) and status 1 (2 for bad
command-line arguments); a closed pipe (``cptlaw predict ... | head``) ends quietly. ``--debug``
shows the Python traceback instead. Run it as ``cptlaw``, ``python -m cptlaw`` or
``python -m cptlaw.cli``.

Modules: ``_common`` (exit codes, argument types, value ranges, output checks, warnings),
``runs_input`` (the run-reading options of fit and compare), ``fit``, ``predict``,
``compare``, ``plan`` (plan, grid), ``demo`` (demo, reproduce).
"""

from __future__ import annotations

import os
import sys

from ._common import EXIT_DATA, EXIT_USAGE, Parser, UsageError, dumps

__all__ = ["EXIT_DATA", "EXIT_USAGE", "UsageError", "build_parser", "dumps", "main"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)


def build_parser():
    """The argparse parser of every command (the documentation's CLI reference is made from it)."""
    from .. import __version__
    from .compare import add_compare_parser
    from .demo import add_demo_parser, add_reproduce_parser
    from .fit import add_fit_parser
    from .predict import add_predict_parser
    from .plan import add_grid_parser, add_plan_parser

    p = Parser(prog="cptlaw", description="Fit and use the continual pre-training (CPT) scaling law.")
    p.add_argument("--version", action="version", version=f"cptlaw {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    common = Parser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", help="do not print warnings")
    common.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")

    add_demo_parser(sub, common)
    add_fit_parser(sub, common)
    add_predict_parser(sub, common)
    add_compare_parser(sub, common)
    add_reproduce_parser(sub, common)
    add_plan_parser(sub, common)
    add_grid_parser(sub, common)
    return p


def _one_line(text, limit=600):
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit] + " ..."


def _quiet_stdout():
    """After a closed pipe: send what is left of stdout nowhere, so the exit flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _tolerant_streams():
    """Characters the terminal cannot show are escaped, not an error."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass


def _error_line(exc):
    """One line for a failure, and the exit status."""
    from ..io import DataError

    if isinstance(exc, UsageError):
        return f"cptlaw: error: {_one_line(exc)}", EXIT_USAGE
    if isinstance(exc, DataError):
        loc = exc.path or "<input>"
        if exc.line is not None:
            loc += f":{exc.line}" + (f":{exc.column}" if exc.column is not None else "")
        return f"{loc}: error: {_one_line(exc.message)}", EXIT_DATA
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: error: {_one_line(exc.strerror or exc)}", EXIT_DATA
    if isinstance(exc, MemoryError):
        return ("cptlaw: error: out of memory; the input asks for more than this machine holds (check sizes and "
                "step counts)", EXIT_DATA)
    if isinstance(exc, RecursionError):
        return "cptlaw: error: an input is nested too deeply", EXIT_DATA
    if isinstance(exc, (ValueError, TypeError, OSError, ArithmeticError)):
        return f"cptlaw: error: {_one_line(exc)}", EXIT_DATA
    # the last resort: a bug in cptlaw, but still one line
    return (f"cptlaw: error: unexpected {type(exc).__name__}: {_one_line(exc, 300)} (a bug in cptlaw: please "
            "report it; --debug shows the traceback)", EXIT_DATA)


def main(argv=None) -> int:
    """Run one command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    _tolerant_streams()
    try:
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            if not getattr(args, "command", None):
                parser.print_help()
                code = EXIT_USAGE
            else:
                code = args.func(args)
        except SystemExit:  # --help, --version: flush here, where a closed pipe is caught
            sys.stdout.flush()
            raise
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports a command ended by a closed pipe
    except KeyboardInterrupt:
        print("cptlaw: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        line, code = _error_line(exc)
        try:
            print(line, file=sys.stderr)
        except (OSError, ValueError):
            pass
        return code
