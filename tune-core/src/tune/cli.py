"""The ``tune`` command line: a small dispatcher over subcommands.

Each subcommand is a pair of functions, ``add_arguments(parser)`` and ``run(args) -> int``,
named in ``SUBCOMMANDS`` by import string, so a new subcommand (``list-trials``, ``show``,
``plot`` ...) is a new module plus one line here. Subcommand modules must be cheap to import;
heavy imports belong inside ``run``.

Usage mistakes print one line to stderr and exit with status 2; expected failures (a missing
experiment, a bad value) print one line and exit with status 1. No tracebacks for either.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

#: subcommand -> (one-line help, "module:add_arguments", "module:run")
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "plugins": (
        "list installed plugins, what they register and whether their extras are installed",
        "tune.cli:plugins_add_arguments",
        "tune.cli:plugins_run",
    ),
}

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command line: reported in one line with exit status 2."""


class CommandError(Exception):
    """An expected failure of a subcommand: reported in one line with exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's default prints usage and exits
        raise UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


def _import(target: str) -> Any:
    import importlib

    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("tune-core")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with one subparser per entry of ``SUBCOMMANDS``."""
    parser = _Parser(
        prog="tune",
        description="Hyperparameter tuning with a Ray Tune compatible API.",
    )
    parser.add_argument("--version", action="version", version=f"tune-core {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, add_arguments, run) in SUBCOMMANDS.items():
        subparser = sub.add_parser(name, help=help_text, description=help_text)
        _import(add_arguments)(subparser)
        subparser.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tune`` console script; returns the exit status."""
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        if args.command is None:
            raise UsageError("tune: error: a command is required (see 'tune --help')")
        return int(_import(args._run)(args) or 0)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"tune {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `tune plugins | head`: the reader went away; that is not an error of ours.
        return EXIT_OK


# ---------------------------------------------------------------------------------------------
# tune plugins
# ---------------------------------------------------------------------------------------------


def plugins_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="do not import registered targets to check that their dependencies are installed",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _check_entry(entry: Any) -> str:
    """``ok``, or ``missing: pip install ...`` when the target's module cannot be imported."""
    from tune.plugins import import_target, pip_hint

    try:
        import_target(entry.target)
    except AttributeError as exc:
        return f"error: {entry.target} does not exist ({exc})"
    except ImportError as exc:
        if entry.extra:
            return f"missing: {pip_hint(entry.extra)}"
        return f"missing: {exc}"
    except Exception as exc:  # a plugin's module may fail in any way; report, do not crash
        return f"error: {type(exc).__name__}: {exc}"
    return "ok"


def _plugins_report(check: bool) -> list[dict[str, Any]]:
    import warnings

    from tune.plugins import get_registry

    # Broken plugins are shown in the report itself, so their load warnings would only repeat it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry = get_registry()
        report = []
        for info in registry.plugins:
            entries = [e for e in registry.entries() if e.plugin is info]
            report.append(
                {
                    "name": info.name,
                    "module": info.module,
                    "distribution": info.distribution,
                    "version": info.version,
                    "status": info.status,
                    "error": info.error,
                    "registered": [
                        {
                            "kind": e.kind,
                            "name": e.name,
                            "target": e.target,
                            "class_names": list(e.class_names),
                            "extra": e.extra,
                            "check": _check_entry(e) if check else None,
                        }
                        for e in entries
                    ],
                }
            )
    return report


def plugins_run(args: argparse.Namespace) -> int:
    report = _plugins_report(check=not args.no_check)
    if args.json:
        import json

        print(json.dumps(report, indent=2))
        return EXIT_OK
    lines: list[str] = []
    for plugin in report:
        dist = plugin["distribution"] or "no distribution"
        if plugin["version"]:
            dist += f" {plugin['version']}"
        header = f"{plugin['name']} ({dist}) [{plugin['status']}] module {plugin['module']}"
        lines.append(header)
        if plugin["error"]:
            lines.append(f"    error: {plugin['error']}")
        if plugin["status"] == "loaded" and not plugin["registered"]:
            lines.append("    (registers nothing)")
        kind_width = max((len(e["kind"]) for e in plugin["registered"]), default=0)
        name_width = max((len(e["name"]) for e in plugin["registered"]), default=0)
        for e in plugin["registered"]:
            line = f"    {e['kind']:<{kind_width}}  {e['name']:<{name_width}}  -> {e['target']}"
            if e["check"] is not None:
                line += f"  [{e['check']}]"
            lines.append(line)
    if not report:
        lines.append("no plugins found")
    print("\n".join(lines))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
