"""The pilot against random choice: which few teacher grades calibrate a question best.

    python -m service.evaluation.pilot ANSWERS.jsonl [--split S --pool-split P]
        [--budget 10] [--seeds 5] [--test-share 0.33] [--json]

Per question, starting with no graded answers, ``--budget`` answers of the question's *pool*
are graded, the gold score standing in for the teacher: chosen one by one by the pilot
(``service.scoring.pilot.next_to_grade``, which sees each answer's zero-shot machine score,
confidence and components, and its answer group where ``service.scoring.grouping`` exists),
or at random. The question is then calibrated on them as the service's calibrate does
(``fit_question_calibration``: the full model from ``MIN_EXAMPLES`` grades, else the
few-shot map), with the graded answers as its graded neighbours, and scores the question's
*test* answers, which neither strategy could choose. Compared: pilot, random (a new draw per
seed) and uncalibrated (zero-shot).

Pool and test: with ``--split`` the pool is the ``--pool-split`` answers of the question and
the test its ``--split`` answers (SemEval: pool ``train``, test ``test_unseen_answers``);
without it each question's answers (of ``--pool-split`` if given) are split at random per
seed, ``--test-share`` of them for test (Mohler; SemEval ``train`` for development). Test
answers are the same for every strategy of a seed, so a strategy that picked the hard
answers cannot leave itself an easier test.

Figures are pooled over all questions' test answers per seed, then averaged over seeds (mean
and standard deviation): Pearson r and RMSE in points; for 0/1 gold scores, accuracy and
weighted F1. The agreement rule (``service.scoring.pilot.agreement`` on the pilot's graded
answers, machine vs teacher) is checked too: how often it said "established" after the budget,
and how often the calibrated question then really agreed on its test answers (the same
metric, at least the rule's floor).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, f1_score

from service.evaluate import Row, _reindex, by_question, load_rows, rubric_for, score_step
from service.scoring import GradedAnswer, Grader, RubricSpec, fit_question_calibration
from service.scoring.grouping import AnswerGrouping
from service.scoring.pilot import (
    ACCURACY_FLOOR,
    PEARSON_FLOOR,
    Candidate,
    agreement,
    next_to_grade,
)

STRATEGIES = ("pilot", "random", "uncalibrated")
# Components that tell answers apart for the pilot's diversity term (all about 0..1).
DIVERSITY_COMPONENTS = ("keyword_coverage", "term_coverage", "similarity", "char_similarity")


@dataclass(frozen=True)
class _Question:
    """One question's pool and test answers, with their zero-shot grading."""

    rubric: RubricSpec
    pool: list[Row]
    test: list[Row]
    candidates: list[Candidate]
    machine_scores: list[float]  # zero-shot score (fraction) of each pool answer
    uncalibrated: list[float]  # zero-shot points of each test answer


def _groups(texts: Sequence[str], criteria: np.ndarray) -> list[int | None]:
    """Answer groups from ``service.scoring.grouping`` (the ones the service shows)."""
    labels = AnswerGrouping().fit(list(texts), criteria).labels_
    return [int(label) for label in labels]


def _prepare(rubric: RubricSpec, pool: list[Row], test: list[Row]) -> _Question:
    grader = Grader(rubric)
    pool_results = [grader.grade(row.answer) for row in pool]
    criteria = np.asarray(
        [[float(c.met) for c in result.criteria] for result in pool_results], dtype=np.float64
    ).reshape(len(pool), -1)
    groups = _groups([row.answer for row in pool], criteria)
    candidates = []
    for i, (row, result, group) in enumerate(zip(pool, pool_results, groups, strict=True)):
        components = dict(result.components)
        candidates.append(
            Candidate(
                index=i,
                machine=result.raw,
                confidence=result.confidence,
                group=group,
                features=tuple(components[name] for name in DIVERSITY_COMPONENTS),
                text=row.answer,
            )
        )
    return _Question(
        rubric=rubric,
        pool=pool,
        test=test,
        candidates=candidates,
        machine_scores=[r.score for r in pool_results],
        uncalibrated=[grader.grade(row.answer).points for row in test],
    )


def pilot_choice(question: _Question, budget: int, seed: int) -> list[int]:
    graded: dict[int, float] = {}
    while len(graded) < budget:
        index = next_to_grade(question.candidates, graded, seed=seed)
        if index is None:
            break
        row = question.pool[index]
        graded[index] = row.score / row.max_score
    return list(graded)


def random_choice(question: _Question, budget: int, seed: int) -> list[int]:
    rng = random.Random(f"{seed}:{question.pool[0].question_id}")
    return rng.sample(range(len(question.pool)), min(budget, len(question.pool)))


def calibrated_points(question: _Question, chosen: Sequence[int]) -> list[float]:
    """Test answers' points after calibrating on the chosen pool answers' gold grades."""
    graded = [GradedAnswer(question.pool[i].answer, question.pool[i].score) for i in chosen]
    grader = Grader(question.rubric, graded=graded)
    calibrated = grader.with_calibration(fit_question_calibration(grader))
    return [calibrated.grade(row.answer).points for row in question.test]


def _figures(gold: Sequence[float], points: Sequence[float], labels: bool) -> dict[str, float]:
    y = np.asarray(gold, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    out = {"rmse": float(math.sqrt(np.mean((y - p) ** 2)))}
    out["pearson_r"] = float(pearsonr(y, p)[0]) if np.ptp(y) > 0 and np.ptp(p) > 0 else float("nan")
    if labels:
        out["accuracy"] = float(accuracy_score(np.rint(y), np.rint(p)))
        out["weighted_f1"] = float(f1_score(np.rint(y), np.rint(p), average="weighted"))
    return out


def _held_out_agrees(question: _Question, points: Sequence[float], labels: bool) -> bool | None:
    """Whether the test answers' agreement (same metric as the rule) clears its floor."""
    result = agreement(
        [p / question.rubric.max_points for p in points],
        [row.score / row.max_score for row in question.test],
        labels=labels,
    )
    if result.value is None:
        return None
    return result.value >= (ACCURACY_FLOOR if labels else PEARSON_FLOOR)


def _split(
    rows: Sequence[Row], test_rows: Sequence[Row] | None, share: float, seed: int
) -> dict[str, tuple[list[Row], list[Row]]]:
    """Per question: (pool, test). ``test_rows``: fixed test answers (``rows`` the pool);
    ``None``: each question's ``rows`` split at random, ``share`` of them for test."""
    out: dict[str, tuple[list[Row], list[Row]]] = {}
    tests = by_question(test_rows or ())
    for question_id, answers in by_question(rows).items():
        if test_rows is not None:
            pool, test = list(answers), tests.get(question_id, [])
        else:
            shuffled = list(answers)
            random.Random(f"{seed}:{question_id}").shuffle(shuffled)
            cut = max(1, round(len(shuffled) * share))
            test, pool = shuffled[:cut], shuffled[cut:]
        if pool and test:
            out[question_id] = (pool, test)
    return out


def run(
    rows: Sequence[Row],
    *,
    test_rows: Sequence[Row] | None,
    budget: int,
    seeds: int,
    test_share: float,
) -> dict[str, Any]:
    """Pilot, random and uncalibrated on every question, ``seeds`` times (see the module)."""
    everything = [*rows, *(test_rows or ())]
    step = score_step(everything)
    labels = {row.score for row in everything} <= {0.0, 1.0} and all(
        row.max_score == 1 for row in everything
    )
    per_seed: dict[str, list[dict[str, float]]] = {s: [] for s in STRATEGIES}
    skipped: list[str] = []
    established = right = judged = right_uncalibrated = judged_uncalibrated = 0
    decisions = 0
    questions = 0
    prepared_once: dict[str, _Question] = {}
    for seed in range(seeds):
        gold: list[float] = []
        points: dict[str, list[float]] = {s: [] for s in STRATEGIES}
        split = _split(rows, test_rows, test_share, seed)
        # A question without reference answers has no machine score before any grade (the
        # service requires references), so there is nothing for a pilot to start from.
        skipped = sorted(q for q, (pool, _) in split.items() if not pool[0].references)
        split = {q: answers for q, answers in split.items() if q not in skipped}
        questions = len(split)
        if not split:
            raise ValueError(
                "no question has reference answers: the pilot has nothing to start from"
            )
        for question_id, (pool, test) in sorted(split.items()):
            if test_rows is not None and question_id in prepared_once:
                question = prepared_once[question_id]  # same pool and test every seed
            else:
                question = _prepare(rubric_for(pool[0], step), pool, test)
                prepared_once[question_id] = question
            gold += [row.score for row in test]
            pilot = pilot_choice(question, budget, seed)
            pilot_points = calibrated_points(question, pilot)
            points["pilot"] += pilot_points
            points["random"] += calibrated_points(question, random_choice(question, budget, seed))
            points["uncalibrated"] += question.uncalibrated
            rule = agreement(
                [question.machine_scores[i] for i in pilot],
                [question.pool[i].score / question.pool[i].max_score for i in pilot],
                labels=labels,
            )
            decisions += 1
            if rule.established:
                established += 1
                verdict = _held_out_agrees(question, pilot_points, labels)
                if verdict is not None:
                    judged += 1
                    right += verdict
                verdict = _held_out_agrees(question, question.uncalibrated, labels)
                if verdict is not None:
                    judged_uncalibrated += 1
                    right_uncalibrated += verdict
        for strategy in STRATEGIES:
            per_seed[strategy].append(_figures(gold, points[strategy], labels))
    summary: dict[str, Any] = {
        "questions": questions,
        "questions_without_references": len(skipped),
        "budget": budget,
        "seeds": seeds,
        "test_answers_per_seed": len(gold),
    }
    for strategy in STRATEGIES:
        for name in per_seed[strategy][0]:
            values = [figures[name] for figures in per_seed[strategy]]
            summary[f"{strategy}.{name}"] = float(np.mean(values))
            summary[f"{strategy}.{name}.sd"] = float(np.std(values))
    summary["established"] = f"{established}/{decisions}"
    summary["established_right_calibrated"] = f"{right}/{judged}"
    summary["established_right_uncalibrated"] = f"{right_uncalibrated}/{judged_uncalibrated}"
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.evaluation.pilot", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("answers", type=Path, help="JSON Lines file of graded answers")
    parser.add_argument("--split", help="test answers: this `split` (needs --pool-split)")
    parser.add_argument(
        "--pool-split",
        help="answers the teacher grades: this `split` (alone: split at random, see"
        " --test-share; e.g. SemEval train, to develop on)",
    )
    parser.add_argument("--budget", type=int, default=10, help="teacher grades per question")
    parser.add_argument("--seeds", type=int, default=5, help="repetitions (random draws)")
    parser.add_argument(
        "--test-share",
        type=float,
        default=0.33,
        help="without --pool-split: share of each question's answers held out for test",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if args.split is not None and args.pool_split is None:
        parser.error("--split needs --pool-split")
    if args.budget < 1 or args.seeds < 1 or not 0 < args.test_share < 1:
        parser.error("--budget and --seeds must be at least 1, --test-share within 0..1")
    rows = load_rows(args.answers, split=args.pool_split)
    test_rows = None
    if args.split is not None:
        test_rows = [
            _reindex(row, len(rows) + i)
            for i, row in enumerate(load_rows(args.answers, split=args.split))
        ]
    if not rows or test_rows == []:
        parser.error("no answers match the splits")
    try:
        result = run(
            rows,
            test_rows=test_rows,
            budget=args.budget,
            seeds=args.seeds,
            test_share=args.test_share,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    else:
        for key, value in result.items():
            text = f"{value:.4f}" if isinstance(value, float) else str(value)
            sys.stdout.write(f"{key:>36}: {text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
