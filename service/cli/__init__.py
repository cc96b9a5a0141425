"""Command line: ``grader`` (the same as ``python -m service``).

One module per command group: server (migrate, serve, worker), rubrics (check-rubrics),
admin (keys, orgs, courses), backup (backup, restore); ``evaluate`` is service/evaluate.py.
Start-up problems are ``StartupError``s, printed as a line or two with the fix; a
traceback only with ``--debug`` or GRADER_DEBUG=true.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from pydantic import ValidationError

from service.cli import admin, backup, rubrics, server
from service.cli.errors import STARTUP_EXIT_CODE, StartupError, invalid_settings

PROG = "grader"
DESCRIPTION = (
    "Assessment grading service. Settings come from GRADER_* environment variables "
    "(README, 'Deployment settings'); options override the ones they name."
)
EPILOG = "Run `grader COMMAND --help` for a command's options. Also: python -m service."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of a start-up error (default: off; GRADER_DEBUG=true)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    server.add_parsers(sub)
    rubrics.add_parser(sub)
    admin.add_parsers(sub)
    backup.add_parsers(sub)
    sub.add_parser(
        "evaluate",
        add_help=False,
        help="agreement of the scorer with human grades on a JSON Lines dataset "
        "(grader evaluate --help)",
    )
    return parser


def _debug_from_settings() -> bool:
    from service.config import DebugFlag

    try:
        return DebugFlag().debug
    except ValidationError:
        return False


def _split_evaluate(argv: Sequence[str]) -> tuple[list[str], list[str]] | None:
    """``[global options] evaluate ARGS``: evaluate parses its own ARGS (its --help too)."""
    for index, token in enumerate(argv):
        if token == "evaluate":
            return list(argv[:index]), list(argv[index + 1 :])
        if not token.startswith("-"):
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    evaluate_split = _split_evaluate(arguments)
    if evaluate_split is not None:
        from service import evaluate

        parser.parse_args([*evaluate_split[0], "evaluate"])  # the global options only
        return evaluate.main(evaluate_split[1])
    args = parser.parse_args(arguments)
    debug = args.debug or _debug_from_settings()
    try:
        code: int = args.handler(args)
    except ValidationError as exc:
        # Only Settings is validated outside a handler's own error handling.
        error = invalid_settings(exc)
        error.__cause__ = exc
        return _report(error, debug)
    except StartupError as error:
        return _report(error, debug)
    except KeyboardInterrupt:
        return 130
    return code


def _report(error: StartupError, debug: bool) -> int:
    if debug:
        traceback.print_exception(error.__cause__ or error.__context__ or error)
    for line in error.lines:
        sys.stderr.write(f"{line}\n")
    if not debug and error.exit_code == STARTUP_EXIT_CODE:
        sys.stderr.write("(run with --debug for the traceback)\n")
    return error.exit_code


__all__ = ["build_parser", "main"]
