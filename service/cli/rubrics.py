"""``grader check-rubrics``, and the rubric folder check that serve makes first."""

from __future__ import annotations

import argparse
import os
import sys

from service.cli.errors import StartupError
from service.config import Settings, get_settings
from service.domain.rubrics.schemas import RubricDocument
from service.errors import RubricInvalid

SETTING = "GRADER_RUBRICS_DIR"


def load_rubrics(settings: Settings) -> list[RubricDocument]:
    """Every rubric, or a StartupError naming the folder or file and the fix."""
    from service.domain.rubrics.service import load_rubric_dir

    folder = settings.rubrics_dir.resolve()
    shown = f"{SETTING}={str(settings.rubrics_dir)!r}"
    if not folder.exists():
        raise StartupError(
            f"the rubric folder {folder} does not exist ({shown}).",
            f"Fix: set {SETTING} to the folder of *.yaml rubrics (the repository ships rubrics/).",
        )
    if not folder.is_dir():
        raise StartupError(
            f"the rubric folder {folder} is not a folder ({shown}).",
            f"Fix: set {SETTING} to the folder of *.yaml rubrics, not a file.",
        )
    if not os.access(folder, os.R_OK | os.X_OK):
        raise StartupError(
            f"the rubric folder {folder} cannot be read by this user ({shown}).",
            f"Fix: let the service's user read it (chmod o+rx {folder}), or set {SETTING}.",
        )
    try:
        return load_rubric_dir(folder)
    except RubricInvalid as exc:
        raise StartupError(
            # YAML errors span several lines with a caret diagram: one line is enough here.
            f"invalid rubric in {folder} ({shown}): {' '.join(str(exc.detail).split())}",
            "Fix: correct the file (`grader check-rubrics` checks every file again).",
        ) from exc
    except OSError as exc:
        raise StartupError(
            f"cannot read a rubric in {folder} ({shown}): {exc}.",
            "Fix: let the service's user read every *.yaml file in it.",
        ) from exc


def check_rubrics(_args: argparse.Namespace) -> int:
    for document in load_rubrics(get_settings()):
        sys.stdout.write(f"ok {document.id}: {len(document.criteria)} criteria\n")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check-rubrics",
        help="validate every rubric file in GRADER_RUBRICS_DIR and exit",
        description="Validate every *.yaml rubric in GRADER_RUBRICS_DIR (default: rubrics) "
        "and print one line per rubric; exits 3 on the first invalid file.",
    )
    parser.set_defaults(handler=check_rubrics)
