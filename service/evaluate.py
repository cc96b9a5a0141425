"""Agreement of the engine with human graders on a JSON Lines dataset.

    python -m service.evaluate TEST.jsonl [--train TRAIN.jsonl] [--cv-folds K] [--json]

One answer per line with ``question_id``, ``question``, ``reference_answers``, ``answer``,
``score``, ``max_score`` and optionally ``cv_fold`` and ``split`` (the format of
``shared/datasets/README.md``). Three modes, all through the service's own classes
(``Grader``, ``Calibration``), with no scoring logic of their own:

* zero-shot (no option): what the service does for a new question with only a prompt and
  reference answers: criteria derived from the references, default weights;
* ``--train`` / ``--train-split``: graded answers of the training rows become the graded
  neighbours of their question, a ``Calibration`` is fitted on them, then the test rows are
  scored;
* ``--cv-folds K``: cross-validation on the test rows, grouped by ``cv_fold`` when present,
  else by question (``--cv-by answer`` splits each question's answers instead), so no
  answer is scored by a model that saw it.

Rows are chosen with ``--split``/``--train-split`` and ``--where KEY=VALUE``; rows marked
``excluded_in_published_work`` are left out unless ``--include-excluded`` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    mean_squared_error,
)

from service import scoring
from service.domain.rubrics.schemas import WeightsDoc
from service.scoring import Calibration, GradedAnswer, Grader, RubricSpec, ScoreBreakdown

_CANDIDATE_STEPS = (1.0, 0.5, 0.25, 0.2, 0.1, 0.05, 0.01)


@dataclass(frozen=True, slots=True)
class Row:
    question_id: str
    question: str
    references: tuple[str, ...]
    answer: str
    score: float
    max_score: float
    fold: str | None
    index: int


def load_rows(
    path: Path,
    *,
    split: str | None = None,
    where: Sequence[tuple[str, str]] = (),
    include_excluded: bool = False,
) -> list[Row]:
    """Rows of a JSON Lines file, filtered by split, ``where`` pairs and published subset."""
    rows: list[Row] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            data: dict[str, Any] = json.loads(line)
            if split is not None and str(data.get("split")) != split:
                continue
            if any(str(data.get(key)) != value for key, value in where):
                continue
            if data.get("excluded_in_published_work") and not include_excluded:
                continue
            fold = data.get("cv_fold")
            rows.append(
                Row(
                    question_id=str(data["question_id"]),
                    question=str(data["question"]),
                    references=tuple(r for r in data.get("reference_answers") or () if r.strip()),
                    answer=str(data["answer"]),
                    score=float(data["score"]),
                    max_score=float(data["max_score"]),
                    fold=None if fold is None else str(fold),
                    index=len(rows),
                )
            )
    return rows


def score_step(rows: Iterable[Row]) -> float:
    """The coarsest step that every gold score and maximum is a whole multiple of."""
    values = [v for row in rows for v in (row.score, row.max_score)]
    for step in _CANDIDATE_STEPS:
        if all(math.isclose(v / step, round(v / step), abs_tol=1e-6) for v in values):
            return step
    return _CANDIDATE_STEPS[-1]


def rubric_for(row: Row, step: float) -> RubricSpec:
    """The rubric the service would build for a question with only a prompt and references:
    no authored criteria (derived from the references), the service's default weights."""
    weights = WeightsDoc()
    return RubricSpec(
        prompt=row.question,
        max_points=row.max_score,
        score_step=step,
        reference_answers=row.references,
        criteria=(),
        keyword_weight=weights.keywords,
        similarity_weight=weights.similarity,
    )


def by_question(rows: Iterable[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.question_id].append(row)
    return dict(grouped)


def build_grader(
    rows: Sequence[Row], graded: Sequence[Row], step: float, calibration: Calibration | None
) -> Grader | None:
    """The question's grader, or ``None`` when it has neither references nor graded answers."""
    first = rows[0] if rows else graded[0]
    if not first.references and not graded:
        return None
    return Grader(
        rubric_for(first, step),
        graded=[GradedAnswer(row.answer, row.score) for row in graded],
        calibration=calibration,
    )


def fit_calibration(train: Sequence[Row], step: float) -> Calibration | None:
    graders = [
        grader
        for rows in by_question(train).values()
        if (grader := build_grader(rows, rows, step, None)) is not None
    ]
    return scoring.fit_calibration(graders)


def score_rows(
    test: Sequence[Row], train: Sequence[Row], step: float, calibration: Calibration | None
) -> dict[int, ScoreBreakdown]:
    """Score every test row with its question's grader (graded neighbours from ``train``)."""
    graded = by_question(train)
    results: dict[int, ScoreBreakdown] = {}
    for question_id, rows in by_question(test).items():
        grader = build_grader(rows, graded.get(question_id, []), step, calibration)
        if grader is None:
            continue
        for row in rows:
            results[row.index] = grader.grade(row.answer)
    return results


def cv_groups(rows: Sequence[Row], folds: int, by: str, seed: int) -> list[int]:
    """A fold number for every row; rows of one group never share train and test."""
    if by == "auto":
        by = "fold" if all(row.fold is not None for row in rows) else "question"
    if by == "answer":
        assignment: dict[int, int] = {}
        rng = random.Random(seed)
        for question_rows in by_question(rows).values():
            order = [row.index for row in question_rows]
            rng.shuffle(order)
            for position, index in enumerate(order):
                assignment[index] = position % folds
        return [assignment[row.index] for row in rows]
    keys = [row.fold if by == "fold" else row.question_id for row in rows]
    distinct = sorted({str(k) for k in keys}, key=_natural)
    number = {key: position % folds for position, key in enumerate(distinct)}
    return [number[str(k)] for k in keys]


def _natural(key: str) -> tuple[float, str]:
    try:
        return (float(key), key)
    except ValueError:
        return (math.inf, key)


def metrics(
    gold: Sequence[float], predicted: Sequence[float], step: float, questions: Sequence[str]
) -> dict[str, Any]:
    """Agreement figures: correlation, RMSE, QWK after rounding to the step, and for 0/1
    gold scores classification accuracy and F1."""
    y = np.asarray(gold, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    out: dict[str, Any] = {"n": len(y)}
    if len(y) < 2:
        return out
    constant = np.ptp(p) == 0 or np.ptp(y) == 0
    out["pearson_r"] = float("nan") if constant else float(pearsonr(y, p)[0])
    out["spearman_rho"] = float("nan") if constant else float(spearmanr(y, p)[0])
    out["rmse"] = float(math.sqrt(mean_squared_error(y, p)))
    gold_steps = np.rint(y / step).astype(int)
    predicted_steps = np.rint(p / step).astype(int)
    out["qwk"] = _qwk(gold_steps, predicted_steps)
    per_question: dict[str, float] = {}
    for question in sorted(set(questions), key=_natural):
        mask = np.asarray([q == question for q in questions])
        per_question[question] = _qwk(gold_steps[mask], predicted_steps[mask])
    if len(per_question) > 1:
        values = [v for v in per_question.values() if not math.isnan(v)]
        out["qwk_mean_by_question"] = float(np.mean(values)) if values else float("nan")
        z = np.arctanh(np.clip(values, -0.999, 0.999))
        out["qwk_fisher_mean_by_question"] = float(np.tanh(z.mean())) if values else float("nan")
        out["qwk_by_question"] = per_question
    if set(np.unique(y)) <= {0.0, 1.0}:
        out["accuracy"] = float(accuracy_score(gold_steps, predicted_steps))
        out["macro_f1"] = float(f1_score(gold_steps, predicted_steps, average="macro"))
        out["weighted_f1"] = float(f1_score(gold_steps, predicted_steps, average="weighted"))
    return out


def _qwk(gold: np.ndarray, predicted: np.ndarray) -> float:
    if len(set(gold.tolist()) | set(predicted.tolist())) < 2:
        return float("nan")
    return float(cohen_kappa_score(gold, predicted, weights="quadratic"))


@dataclass(frozen=True, slots=True)
class Fold:
    """One scoring pass of a protocol: ``test`` rows scored with ``train`` rows as graded
    neighbours, by a calibration fitted on them when ``calibrate``."""

    test: Sequence[Row]
    train: Sequence[Row]
    calibrate: bool


def protocol(
    test: Sequence[Row],
    *,
    train: Sequence[Row] = (),
    cv_folds: int | None = None,
    cv_by: str = "auto",
    seed: int = 0,
) -> tuple[str, list[Fold]]:
    """The mode's name and its scoring passes: every test row is scored in exactly one, by
    a model that never saw it (cross-validation, trained on ``train``, or zero-shot)."""
    if cv_folds:
        groups = cv_groups(test, cv_folds, cv_by, seed)
        folds = [
            Fold(
                [row for row, g in zip(test, groups, strict=True) if g == fold],
                [row for row, g in zip(test, groups, strict=True) if g != fold],
                calibrate=True,
            )
            for fold in sorted(set(groups))
        ]
        return f"cross-validation ({cv_folds} folds by {cv_by})", folds
    if train:
        return "trained", [Fold(test, train, calibrate=True)]
    return "zero-shot", [Fold(test, (), calibrate=False)]


def evaluate(
    test: Sequence[Row],
    *,
    train: Sequence[Row] = (),
    cv_folds: int | None = None,
    cv_by: str = "auto",
    seed: int = 0,
) -> dict[str, Any]:
    """Score ``test`` in the chosen mode and compare with the gold scores."""
    step = score_step([*test, *train])
    results: dict[int, ScoreBreakdown] = {}
    mode, folds = protocol(test, train=train, cv_folds=cv_folds, cv_by=cv_by, seed=seed)
    for fold in folds:
        calibration = fit_calibration(fold.train, step) if fold.calibrate else None
        results |= score_rows(fold.test, fold.train, step, calibration)
    scored = [row for row in test if row.index in results]
    breakdowns = [results[row.index] for row in scored]
    out = {
        "mode": mode,
        "step": step,
        "questions": len({row.question_id for row in scored}),
        "skipped": len(test) - len(scored),
        **metrics(
            [row.score for row in scored],
            [b.points for b in breakdowns],
            step,
            [row.question_id for row in scored],
        ),
        "calibrated_share": float(np.mean([b.model == "calibrated" for b in breakdowns]))
        if breakdowns
        else 0.0,
        "needs_review_share": float(np.mean([b.needs_review for b in breakdowns]))
        if breakdowns
        else 0.0,
    }
    return out


def _parse_where(values: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, wanted = value.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--where needs KEY=VALUE, got {value!r}")
        pairs.append((key, wanted))
    return pairs


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The command line of an evaluation: a dataset, its rows and the protocol."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("test", type=Path, help="JSON Lines file of graded answers")
    parser.add_argument("--train", type=Path, help="graded answers to learn from")
    parser.add_argument("--cv-folds", type=int, help="cross-validate on the test rows")
    parser.add_argument(
        "--cv-by",
        choices=["auto", "fold", "question", "answer"],
        default="auto",
        help="CV groups: cv_fold when present else question (auto), or answers per question",
    )
    parser.add_argument("--split", help="test rows: only this `split`")
    parser.add_argument(
        "--train-split", help="training rows: this `split` (of --train, else of TEST)"
    )
    parser.add_argument("--where", action="append", default=[], help="KEY=VALUE row filter")
    parser.add_argument(
        "--include-excluded",
        action="store_true",
        help="keep rows marked excluded_in_published_work",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of --cv-by answer")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def rows_from_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[list[Row], list[Row]]:
    """The test and training rows the parsed command line asks for."""
    where = _parse_where(args.where)
    test = load_rows(
        args.test, split=args.split, where=where, include_excluded=args.include_excluded
    )
    train: list[Row] = []
    if args.train is not None or args.train_split is not None:
        train = load_rows(
            args.train or args.test,
            split=args.train_split,
            where=where,
            include_excluded=args.include_excluded,
        )
        # Distinct row indices, so that test and training rows never collide.
        train = [_reindex(row, len(test) + i) for i, row in enumerate(train)]
    if not test:
        parser.error("no test rows match the filters")
    return test, train


def main(argv: Sequence[str] | None = None) -> int:
    command = parser("python -m service.evaluate", __doc__.split("\n\n")[0])
    args = command.parse_args(argv)
    test, train = rows_from_args(command, args)
    result = evaluate(test, train=train, cv_folds=args.cv_folds, cv_by=args.cv_by, seed=args.seed)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    else:
        for key, value in result.items():
            if isinstance(value, dict):
                continue
            text = f"{value:.4f}" if isinstance(value, float) else str(value)
            sys.stdout.write(f"{key:>28}: {text}\n")
    return 0


def _reindex(row: Row, index: int) -> Row:
    return Row(
        row.question_id,
        row.question,
        row.references,
        row.answer,
        row.score,
        row.max_score,
        row.fold,
        index,
    )


if __name__ == "__main__":
    raise SystemExit(main())
