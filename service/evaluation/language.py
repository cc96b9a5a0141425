"""How often the ``other_language`` advisory flags an answer, where it should and should not.

    python -m service.evaluation.language [DATASETS_DIR] [--answers FILE] [--json]

(a) False flags: every answer of the four English datasets (``mohler2011``,
    ``semeval2013_scientsbank``, ``semeval2013_beetle``, ``asap_sas``; all rows, all splits,
    the published-work exclusions included), each checked against its own question's
    language as the service infers it from the prompt and reference answers. Every flagged
    answer is printed: one really written in another language (ASAP has a few Spanish
    answers) is a correct flag, so the flagged answers are to be read by hand before a rate
    is quoted as "false".
(b) Detection: the answers of ``tests/data/non_english_answers.jsonl`` (translations of
    plausible answers to Mohler, SemEval and seed questions, each with its question and
    reference answer), per language.

Nothing is fitted here: the detector's thresholds are fixed in
``service/scoring/advisories/other_language.py``. The cost per answer, next to the
hand-written detector it replaced, is measured by ``python -m bench.language``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from service.evaluate import load_rows
from service.scoring.advisories.base import Answer
from service.scoring.advisories.other_language import is_other_language
from service.scoring.language import QuestionLanguage, identify

ENGLISH_DATASETS = ("mohler2011", "semeval2013_scientsbank", "semeval2013_beetle", "asap_sas")
DEFAULT_DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
DEFAULT_ANSWERS = (
    Path(__file__).resolve().parents[2] / "tests" / "data" / "non_english_answers.jsonl"
)
# The brief's bound on false flags among English answers.
TARGET_FALSE_FLAG_RATE = 0.005


@dataclass(frozen=True, slots=True)
class Flagged:
    dataset: str
    question_id: str
    question_language: str
    identified: str
    probability: float
    answer: str


@dataclass(frozen=True, slots=True)
class FalseFlags:
    answers: dict[str, int]
    flagged: list[Flagged]

    @property
    def total(self) -> int:
        return sum(self.answers.values())

    @property
    def rate(self) -> float:
        return len(self.flagged) / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class Detection:
    answers: dict[str, int]
    detected: dict[str, int]
    missed: list[dict[str, str]]

    @property
    def rate(self) -> float:
        total = sum(self.answers.values())
        return sum(self.detected.values()) / total if total else 0.0


def false_flags(datasets_dir: Path, datasets: Sequence[str] = ENGLISH_DATASETS) -> FalseFlags:
    """Every answer of ``datasets`` checked against its question's inferred language."""
    answers: dict[str, int] = {}
    flagged: list[Flagged] = []
    for dataset in datasets:
        rows = load_rows(datasets_dir / dataset / "answers.jsonl", include_excluded=True)
        answers[dataset] = len(rows)
        languages: dict[str, QuestionLanguage] = {}
        for row in rows:
            language = languages.get(row.question_id)
            if language is None:
                language = QuestionLanguage.of([row.question, *row.references])
                languages[row.question_id] = language
            if is_other_language(Answer.of(row.answer), language):
                code, probability = identify(row.answer)
                flagged.append(
                    Flagged(dataset, row.question_id, language.code, code, probability, row.answer)
                )
    return FalseFlags(answers, flagged)


def detection(path: Path) -> Detection:
    """The advisory on each answer of ``path`` (``question``, ``reference_answer``,
    ``answer``, ``language`` per line), counted per language."""
    answers: Counter[str] = Counter()
    detected: Counter[str] = Counter()
    missed: list[dict[str, str]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            item = json.loads(line)
            language = QuestionLanguage.of([item["question"], item["reference_answer"]])
            answers[item["language"]] += 1
            if is_other_language(Answer.of(item["answer"]), language):
                detected[item["language"]] += 1
            else:
                missed.append({"language": item["language"], "answer": item["answer"]})
    return Detection(dict(answers), dict(detected), missed)


def report(flags: FalseFlags, found: Detection) -> str:
    lines = ["(a) false flags on the English datasets (all rows, all splits)"]
    lines += [f"    {dataset:<26}{count:>6} answers" for dataset, count in flags.answers.items()]
    lines.append(
        f"    flagged {len(flags.flagged)} of {flags.total} = {flags.rate:.3%}"
        f" (target < {TARGET_FALSE_FLAG_RATE:.1%} of false flags)"
    )
    for item in flags.flagged:
        lines.append(
            f"      {item.dataset} {item.question_id} [{item.identified} "
            f"{item.probability:.3f}, question {item.question_language}]: {item.answer!r}"
        )
    total = sum(found.answers.values())
    lines += [
        "",
        f"(b) detection on {total} answers in other languages: "
        f"{sum(found.detected.values())} = {found.rate:.1%}",
        "    "
        + ", ".join(
            f"{language} {found.detected.get(language, 0)}/{count}"
            for language, count in sorted(found.answers.items())
        ),
    ]
    lines += [f"      missed [{m['language']}]: {m['answer']!r}" for m in found.missed]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="?", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--answers", type=Path, default=DEFAULT_ANSWERS)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    flags = false_flags(args.datasets)
    found = detection(args.answers)
    if args.json:
        payload = {
            "false_flags": {
                "answers": flags.answers,
                "flagged": [asdict(item) for item in flags.flagged],
                "rate": flags.rate,
            },
            "detection": {**asdict(found), "rate": found.rate},
        }
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(report(flags, found) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
