"""Sphinx extension: the ``cli-reference`` directive, the CLI reference built from the parser.

The page is generated at build time from ``cptlaw.cli.build_parser()`` (whether ``cli`` is
a module or a package), so it always lists the commands and options the installed version
has: one section per command (anchor ``cli-<command>``, nested commands joined by ``-``)
with its description and the ``--help`` text argparse prints.
"""

from __future__ import annotations

import argparse
import os

from docutils import nodes
from docutils.parsers.rst import Directive

_WIDTH = "88"  # argparse wraps help text at $COLUMNS - 2


def _subcommands(parser):
    """(name, help, subparser) of each subcommand, in the parser's order."""
    out = []
    for action in parser._actions:  # argparse keeps no public list of subparsers
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:  # aliases map to the same parser
                    continue
                seen.add(id(sub))
                out.append((name, helps.get(name), sub))
    return out


def _help_text(parser) -> str:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = _WIDTH
    try:
        return parser.format_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


class CliReference(Directive):
    has_content = False
    option_spec = {}

    def run(self):
        from cptlaw.cli import build_parser

        parser = build_parser()
        top = [nodes.literal_block(text := _help_text(parser), text, language="none")]
        for name, summary, sub in _subcommands(parser):
            top.append(self._section(parser.prog, name, summary, sub, ()))
        return top

    def _section(self, prog, name, summary, parser, parents):
        path = parents + (name,)
        section = nodes.section(ids=["cli-" + "-".join(path)], names=["cli-" + "-".join(path)])
        title = " ".join((prog,) + path)
        section += nodes.title(title, "", nodes.literal(title, title))
        if summary:
            section += nodes.paragraph(summary, summary[:1].upper() + summary[1:] + ".")
        text = _help_text(parser)
        section += nodes.literal_block(text, text, language="none")
        for sub_name, sub_summary, sub in _subcommands(parser):
            section += self._section(prog, sub_name, sub_summary, sub, path)
        return section


def setup(app):
    app.add_directive("cli-reference", CliReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
