"""Cost of ``Grader.grade`` and of building a grader when questions hold graded answers.

    .venv/bin/python -m bench.neighbours ../shared/datasets/mohler2011/answers.jsonl

Per question, the first 80% of its answers (file order) become its graded answers and a
calibration is fitted on them as ``service.evaluate`` does; the other 20% are graded
``--runs`` times. Prints the graders' build time and the CPU time per answer (median and
minimum over the runs). Run it from two checkouts, interleaved, to compare engines side by
side on the same machine (``OPENBLAS_NUM_THREADS=1`` keeps the BLAS threads from
competing with other work).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from service.evaluate import Row, build_grader, by_question, fit_calibration, load_rows, score_step


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.neighbours")
    parser.add_argument("dataset", type=Path, help="JSON Lines file of graded answers")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    rows = load_rows(args.dataset)
    step = score_step(rows)
    train: list[Row] = []
    test: list[Row] = []
    for question_rows in by_question(rows).values():
        cut = int(len(question_rows) * 0.8)
        train += question_rows[:cut]
        test += question_rows[cut:]
    calibration = fit_calibration(train, step)
    graded = by_question(train)
    start = time.perf_counter()
    graders = {
        question: build_grader(question_rows, graded.get(question, []), step, calibration)
        for question, question_rows in by_question(test).items()
    }
    build = time.perf_counter() - start
    pairs = [(grader, row.answer) for row in test if (grader := graders[row.question_id])]
    runs = []
    for _ in range(args.runs):
        start = time.process_time()
        for grader, answer in pairs:
            grader.grade(answer)
        runs.append((time.process_time() - start) / len(pairs))
    sys.stdout.write(
        f"answers {len(pairs)}, graded {len(train)}, build {build:.2f} s, "
        f"grade CPU per answer: median {statistics.median(runs) * 1e3:.3f} ms, "
        f"min {min(runs) * 1e3:.3f} ms\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
