"""How much grading answer groups save, and at what cost in wrong grades.

    python -m service.evaluation.grouping ANSWERS.jsonl [--split S] [--choose-split TRAIN]
        [--cv-folds K] [--duplicate-similarity X] [--distance-threshold Y] [--json]

Per question, the answers are grouped by ``AnswerGrouping`` with the criteria that the
zero-shot ``Grader`` found met in each answer (what the service stores for a new question
with only a prompt and reference answers). The teacher grades each group's representative
and every member gets that grade. Measured against the gold grades:

* purity: the share of answers whose gold grade equals their representative's (within half
  a point on a scale above 1, e.g. Mohler 0-5 and ASAP 0-3; the same label for SemEval 0/1);
* decisions to grade by groups: one per group, against one per answer when grading one by
  one; decisions to reach the gold grade for every answer: the groups plus every answer whose
  gold grade differs from its representative's (a teacher who checks each group's members
  corrects those one by one).

Thresholds: the defaults of ``AnswerGrouping``; or chosen on other rows, never on the rows
reported. The setting chosen is the one of the grid with the fewest groups whose purity is
at least ``--target-purity`` (0.95) on the choosing rows: ``--choose-split`` chooses on that
split (SemEval ``train``), ``--cv-folds K`` chooses for each fold of questions on the other
folds (folds by ``cv_fold`` when present, as Mohler's assignments, else by question) and
reports the held-out folds. ``--sweep`` adds a row per grid setting, computed on the rows
reported (the trade-off, for reading, not for choosing). Two reference rows come first:
exact duplicates only, and one group per question (the question's most central answer
graded for all).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from service.evaluate import Row, build_grader, by_question, cv_groups, load_rows, score_step
from service.scoring.grouping import MAX_ANSWERS, AnswerGrouping

# The grid of settings that thresholds are chosen from (``None``: near duplicates only).
DUPLICATE_SIMILARITIES = (0.8, 0.9, 1.0)
DISTANCE_THRESHOLDS: tuple[float | None, ...] = (None, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
# The share of answers that must get their gold grade from their group's representative for
# a setting to be chosen: the teacher's tolerance for trusting a group without reading it
# (a product choice, not fitted; --target-purity changes it).
TARGET_PURITY = 0.95
# A distance threshold above every possible distance (text 0..1 plus criteria 0..1).
ONE_GROUP = 10.0


# Identity equality: a question is hashable, so that its tally per setting is computed once
# however many folds and settings ask for it.
@dataclass(frozen=True, slots=True, eq=False)
class Question:
    """One question's answers and what the zero-shot grader found in them."""

    question_id: str
    rows: tuple[Row, ...]
    gold: np.ndarray
    # (answers, criteria) 0/1 matrix of criteria met; None without a grader or criteria.
    criteria: np.ndarray | None
    # Gold grades this close count as the same grade.
    tolerance: float


@dataclass(frozen=True, slots=True)
class Setting:
    duplicate_similarity: float
    distance_threshold: float | None
    use_criteria: bool = True

    def label(self) -> str:
        distance = "none" if self.distance_threshold is None else f"{self.distance_threshold:g}"
        criteria = "" if self.use_criteria else ", text only"
        return f"dup {self.duplicate_similarity:g}, dist {distance}{criteria}"


@dataclass(slots=True)
class Tally:
    """Counts over answers: how many, in how many groups, and how many graded wrongly."""

    answers: int = 0
    questions: int = 0
    groups: int = 0
    wrong: int = 0

    def add(self, other: Tally) -> None:
        self.answers += other.answers
        self.questions += other.questions
        self.groups += other.groups
        self.wrong += other.wrong

    @property
    def purity(self) -> float:
        return 1.0 - self.wrong / max(self.answers, 1)

    @property
    def decisions_to_gold(self) -> int:
        return self.groups + self.wrong

    def summary(self) -> dict[str, float | int]:
        answers = max(self.answers, 1)
        return {
            "answers": self.answers,
            "questions": self.questions,
            "groups": self.groups,
            "purity": self.purity,
            "decisions_by_groups": self.groups,
            "saved_by_groups": 1.0 - self.groups / answers,
            "decisions_to_gold": self.decisions_to_gold,
            "saved_to_gold": 1.0 - self.decisions_to_gold / answers,
        }


def prepare(rows: Sequence[Row]) -> list[Question]:
    """Group the rows by question and find the criteria each answer met (zero-shot)."""
    step = score_step(rows)
    questions = []
    for question_id, question_rows in by_question(rows).items():
        # The service groups a question's most recent MAX_ANSWERS answers.
        question_rows = question_rows[-MAX_ANSWERS:]
        grader = build_grader(question_rows, (), step, None)
        criteria = None
        if grader is not None:
            met = [[c.met for c in grader.grade(r.answer).criteria] for r in question_rows]
            if met and met[0]:
                criteria = np.asarray(met, dtype=np.float64)
        scale = question_rows[0].max_score
        questions.append(
            Question(
                question_id=question_id,
                rows=tuple(question_rows),
                gold=np.asarray([r.score for r in question_rows], dtype=np.float64),
                criteria=criteria,
                tolerance=0.5 if scale > 1 else 0.0,
            )
        )
    return questions


@lru_cache(maxsize=100_000)
def measure_question(question: Question, setting: Setting) -> Tally:
    grouping = AnswerGrouping(
        duplicate_similarity=setting.duplicate_similarity,
        distance_threshold=setting.distance_threshold,
    ).fit(
        [row.answer for row in question.rows],
        question.criteria if setting.use_criteria else None,
    )
    given = question.gold[grouping.representatives_[grouping.labels_]]
    wrong = int(np.sum(np.abs(given - question.gold) > question.tolerance + 1e-9))
    return Tally(len(question.rows), 1, grouping.n_groups_, wrong)


def measure(questions: Iterable[Question], setting: Setting) -> Tally:
    total = Tally()
    for question in questions:
        total.add(measure_question(question, setting))  # cached: never modified in place
    return total


def grid(use_criteria: bool) -> list[Setting]:
    return [
        Setting(similarity, threshold, use_criteria)
        for similarity in DUPLICATE_SIMILARITIES
        for threshold in DISTANCE_THRESHOLDS
    ]


def choose(
    questions: Sequence[Question], settings: Sequence[Setting], target_purity: float
) -> Setting:
    """The setting that saves most decisions (fewest groups) while at least
    ``target_purity`` of the answers get their gold grade; the purest when none does. The
    first in grid order on ties."""
    tallies = [(setting, measure(questions, setting)) for setting in settings]
    pure = [(s, t) for s, t in tallies if t.purity >= target_purity]
    if not pure:
        return max(tallies, key=lambda item: item[1].purity)[0]
    return min(pure, key=lambda item: item[1].groups)[0]


def cross_validate(
    questions: Sequence[Question],
    folds: int,
    settings: Sequence[Setting],
    target_purity: float,
) -> tuple[Tally, list[dict[str, Any]]]:
    """Held-out tallies, each fold's questions grouped with the setting chosen on the others."""
    first_rows = [question.rows[0] for question in questions]
    fold_of = cv_groups(first_rows, folds, "auto", 0)  # a question's rows share one fold
    total = Tally()
    chosen = []
    for fold in sorted(set(fold_of)):
        held_out = [q for q, f in zip(questions, fold_of, strict=True) if f == fold]
        others = [q for q, f in zip(questions, fold_of, strict=True) if f != fold]
        setting = choose(others, settings, target_purity)
        tally = measure(held_out, setting)
        total.add(tally)
        chosen.append({"fold": fold, "setting": setting.label(), **tally.summary()})
    return total, chosen


def run(
    rows: Sequence[Row],
    *,
    choose_rows: Sequence[Row] = (),
    cv_folds: int | None = None,
    setting: Setting | None = None,
    sweep: bool = False,
    use_criteria: bool = True,
    target_purity: float = TARGET_PURITY,
) -> dict[str, Any]:
    started = time.perf_counter()
    questions = prepare(rows)
    settings = grid(use_criteria)
    out: dict[str, Any] = {}
    table: list[dict[str, Any]] = []
    baseline = Setting(1.0, None, use_criteria=False)
    table.append({"setting": "exact duplicates only", **measure(questions, baseline).summary()})
    one = Setting(1.0, ONE_GROUP, use_criteria=False)
    table.append({"setting": "one group per question", **measure(questions, one).summary()})
    if cv_folds:
        tally, folds = cross_validate(questions, cv_folds, settings, target_purity)
        out["folds"] = folds
        table.append({"setting": f"chosen by {cv_folds}-fold CV", **tally.summary()})
    elif choose_rows:
        chosen = choose(prepare(choose_rows), settings, target_purity)
        out["chosen"] = asdict(chosen)
        label = f"chosen on other split ({chosen.label()})"
        table.append({"setting": label, **measure(questions, chosen).summary()})
    else:
        default = AnswerGrouping()
        setting = setting or Setting(
            default.duplicate_similarity, default.distance_threshold, use_criteria
        )
        table.append({"setting": setting.label(), **measure(questions, setting).summary()})
    if sweep:
        table.extend({"setting": s.label(), **measure(questions, s).summary()} for s in settings)
    out["table"] = table
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


_COLUMNS = (
    ("answers", "answers", "{:d}"),
    ("groups", "groups", "{:d}"),
    ("purity", "purity", "{:.3f}"),
    ("saved_by_groups", "saved (groups)", "{:.1%}"),
    ("decisions_to_gold", "to gold", "{:d}"),
    ("saved_to_gold", "saved (to gold)", "{:.1%}"),
)


def format_table(table: Sequence[dict[str, Any]]) -> str:
    width = max(len(row["setting"]) for row in table)
    header = "setting".ljust(width) + "".join(f"  {title:>15}" for _, title, _ in _COLUMNS)
    lines = [header]
    for row in table:
        cells = "".join(f"  {form.format(row[key]):>15}" for key, _, form in _COLUMNS)
        lines.append(row["setting"].ljust(width) + cells)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.evaluation.grouping", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("test", type=Path, help="JSON Lines file of graded answers")
    parser.add_argument("--split", help="rows reported: only this `split`")
    parser.add_argument("--choose-split", help="choose the thresholds on this `split`")
    parser.add_argument("--cv-folds", type=int, help="choose the thresholds on the other folds")
    parser.add_argument("--duplicate-similarity", type=float, help="fixed setting")
    parser.add_argument("--distance-threshold", type=float, help="fixed setting")
    parser.add_argument("--text-only", action="store_true", help="group without the criteria")
    parser.add_argument("--sweep", action="store_true", help="a row per grid setting")
    parser.add_argument(
        "--include-excluded",
        action="store_true",
        help="keep rows marked excluded_in_published_work",
    )
    parser.add_argument(
        "--target-purity",
        type=float,
        default=TARGET_PURITY,
        help="choose the setting with the fewest groups at least this pure",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    rows = load_rows(args.test, split=args.split, include_excluded=args.include_excluded)
    if not rows:
        parser.error("no rows match the filters")
    choose_rows: list[Row] = []
    if args.choose_split is not None:
        if args.choose_split == args.split:
            parser.error("--choose-split must differ from --split (no tuning on reported rows)")
        choose_rows = load_rows(
            args.test, split=args.choose_split, include_excluded=args.include_excluded
        )
    setting = None
    if args.duplicate_similarity is not None or args.distance_threshold is not None:
        default = AnswerGrouping()
        setting = Setting(
            default.duplicate_similarity
            if args.duplicate_similarity is None
            else args.duplicate_similarity,
            default.distance_threshold
            if args.distance_threshold is None
            else args.distance_threshold,
            not args.text_only,
        )
    result = run(
        rows,
        choose_rows=choose_rows,
        cv_folds=args.cv_folds,
        setting=setting,
        sweep=args.sweep,
        use_criteria=not args.text_only,
        target_purity=args.target_purity,
    )
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(format_table(result["table"]) + "\n")
        for fold in result.get("folds", ()):
            sys.stdout.write(
                f"fold {fold['fold']}: {fold['setting']}, purity {fold['purity']:.3f}, "
                f"saved to gold {fold['saved_to_gold']:.1%}\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
