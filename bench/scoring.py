"""Scoring-engine benchmark: microseconds per answer on the seed questions, one core.

    taskset -c 0 .venv/bin/python -m bench.scoring            # pinned to one core
    .venv/bin/python -m bench.scoring --runs 15 --json out.json

Three paths are timed over the same fixed corpus, interleaved within every run (so the
ratios compare figures measured side by side, under the same machine load):

(a) ``grade``: ``Grader.grade(answer)``, what a request does (tokenising, spelling,
    keyword matching, word and character TF-IDF similarity, advisories, the breakdown);
(b) ``naive``: the TF-IDF part done the naive way, as issue 5 defines it: for each answer,
    ``TfidfVectorizer.transform([answer])`` of the fitted word and character vectorisers,
    then the cosine to the reference rows (``SimilarityScorer.transform_score``);
(c) ``fast``: the same two similarities through ``TfidfSpace`` (``score``), which must give
    the same floats; the benchmark checks that they do before timing anything.

The corpus (per seed question in ``rubrics/``): its reference answers; paraphrases made
by shuffling each reference's sentences; answers sampled from the rubric's own words
(``random.Random(SEED)``, 3 to 60 words); misspelt variants of those; and a few edge cases
(empty, punctuation only, non-Latin, accented). It is the same on every run and machine.

Each run times every path over the whole corpus once; the report gives the median over
runs of microseconds per answer, and the median of the per-run ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.domain.rubrics.service import build_grader, load_rubric_file
from service.scoring.engine import Grader

SEED = 20261126
RUBRICS = Path(__file__).resolve().parent.parent / "rubrics"
EDGE_CASES = (
    "",
    "...",
    "the of and",
    "Лидеры договорились тайно, чтобы избежать войны.",
    "Les dirigeants ont négocié en secret pour éviter la guerre nucléaire.",
    "asdfgh qwrtyp zxcvbn",
)


@dataclass(frozen=True)
class Item:
    grader: Grader
    answer: str


def corpus(grader: Grader, rng: random.Random) -> list[str]:
    """The fixed answers of one question (see the module docstring)."""
    rubric = grader.rubric
    references = list(rubric.reference_answers)
    answers = list(references)
    for reference in references:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", reference) if s]
        for _ in range(5):
            rng.shuffle(sentences)
            answers.append(" ".join(sentences))
    words = " ".join([rubric.prompt, *references, *rubric.background]).split()
    samples = [" ".join(rng.sample(words, rng.randint(3, 60))) for _ in range(30)]
    answers += samples
    for sample in samples[:10]:  # drop one letter of every third long word
        answers.append(
            " ".join(
                word[:2] + word[3:] if len(word) > 6 and i % 3 == 0 else word
                for i, word in enumerate(sample.split())
            )
        )
    return answers + list(EDGE_CASES)


def build() -> list[Item]:
    rng = random.Random(SEED)
    items = []
    for path in sorted(RUBRICS.glob("*.yaml")):
        grader = build_grader(load_rubric_file(path))
        items += [Item(grader, answer) for answer in corpus(grader, rng)]
    return items


def naive(item: Item) -> float:
    grader = item.grader
    assert grader.similarity is not None
    assert grader.char_similarity is not None
    return grader.similarity.transform_score(item.answer) + (
        grader.char_similarity.transform_score(item.answer)
    )


def fast(item: Item) -> float:
    grader = item.grader
    assert grader.similarity is not None
    assert grader.char_similarity is not None
    return grader.similarity.score(item.answer) + grader.char_similarity.score(item.answer)


def grade(item: Item) -> object:
    return item.grader.grade(item.answer)


PATHS: dict[str, Callable[[Item], object]] = {"grade": grade, "naive": naive, "fast": fast}


def check_equal(items: Sequence[Item]) -> None:
    """The fast similarities equal scikit-learn's, bit for bit, on the whole corpus."""
    for item in items:
        grader = item.grader
        assert grader.similarity is not None
        assert grader.char_similarity is not None
        pairs = (
            (grader.similarity.score(item.answer), grader.similarity.transform_score(item.answer)),
            (
                grader.char_similarity.score(item.answer),
                grader.char_similarity.transform_score(item.answer),
            ),
        )
        for mine, theirs in pairs:
            if mine != theirs:
                raise SystemExit(f"fast path differs on {item.answer!r}: {mine!r} != {theirs!r}")


def time_path(function: Callable[[Item], object], items: Sequence[Item]) -> float:
    """Microseconds per answer for one pass over ``items``."""
    start = time.perf_counter()
    for item in items:
        function(item)
    return (time.perf_counter() - start) / len(items) * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="timed runs (default 11)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    items = build()
    check_equal(items)
    for function in PATHS.values():  # warm up: memoised stems, n-grams, spellings
        time_path(function, items)
    runs: dict[str, list[float]] = {name: [] for name in PATHS}
    for run in range(args.runs):
        order = list(PATHS.items())
        if run % 2:  # alternate the order, so no path always runs on a cold cache
            order.reverse()
        for name, function in order:
            runs[name].append(time_path(function, items))
    median = {name: statistics.median(values) for name, values in runs.items()}
    naive_over_fast = statistics.median(
        n / f for n, f in zip(runs["naive"], runs["fast"], strict=True)
    )
    naive_over_grade = statistics.median(
        n / g for n, g in zip(runs["naive"], runs["grade"], strict=True)
    )
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    lines = [
        f"scoring benchmark: {len(items)} answers x {args.runs} runs, seed {SEED}",
        f"python {platform.python_version()}, {platform.machine()}, CPUs allowed: {affinity}",
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}",
        "",
        f"{'path':<8}{'median us/answer':>18}{'min':>10}{'max':>10}",
        *(
            f"{name:<8}{median[name]:>18.1f}{min(runs[name]):>10.1f}{max(runs[name]):>10.1f}"
            for name in PATHS
        ),
        "",
        f"naive / fast  (TF-IDF similarity alone): {naive_over_fast:6.1f}x   (target >= 8x)",
        f"naive / grade (whole service path):      {naive_over_grade:6.1f}x",
        f"grade: {median['grade']:.1f} us/answer (target <= 60 us)",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "answers": len(items),
                    "runs": runs,
                    "median_us": median,
                    "naive_over_fast": naive_over_fast,
                    "naive_over_grade": naive_over_grade,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
