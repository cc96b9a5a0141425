"""Sampling profiles of a running server process (py-spy), summarised as text.

py-spy samples every thread of another process from outside, so the profile is of the
real server under the benchmark's load (uvicorn's event loop and the thread pool where
FastAPI runs synchronous endpoints), not of an in-process imitation. The summary lists
the share of busy samples (idle threads excluded) in which a function was on the stack
("inclusive") and at the top of it ("self").
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SAMPLES_PER_SECOND = 200
_LINE_NUMBER = re.compile(r":\d+\)")


def py_spy() -> str:
    """The py-spy executable of this environment (a dev dependency)."""
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy (pip install -e '.[dev]')")
    return found


@contextmanager
def sampling(pid: int, seconds: float, out: Path) -> Iterator[None]:
    """Record ``pid`` (and its children: ``serve --workers N``) for ``seconds`` while the
    body runs; raw collapsed stacks are written to ``out``."""
    recorder = subprocess.Popen(
        [
            py_spy(),
            "record",
            "--format",
            "raw",
            "--subprocesses",
            "--nonblocking",
            "--rate",
            str(SAMPLES_PER_SECOND),
            "--duration",
            str(max(1, round(seconds))),
            "--pid",
            str(pid),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        try:
            recorder.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()


def _frame(frame: str) -> str:
    return _LINE_NUMBER.sub(")", frame)


# The request path's parts, by the functions they run in (before and after issue 13: the
# names of both versions), for the side-by-side table of docs/performance.md.
PARTS: dict[str, tuple[str, ...]] = {
    "key lookups (authentication, own key)": ("get_principal (", "own_key ("),
    "idempotency record (find, insert, seal)": ("IdempotencyRepository.", "seal ("),
    "question and rubric reads": (
        "get_question (",
        "current_version (",
        "get_for_submission (",
    ),
    "scoring (Grader.grade)": ("Grader.grade (",),
    "rows written (apply_score)": ("apply_score (",),
    "  of which: groups marked stale": ("mark_stale (",),
    "commit": ("GraderSession.commit (",),
    "background worker thread": ("Worker._loop (",),
}


def parts(raw: Path) -> dict[str, float]:
    """Share of busy samples in which each part of ``PARTS`` was on the stack."""
    counts: Counter[str] = Counter()
    total = 0
    for frames, samples in _busy_stacks(raw):
        total += samples
        for part, markers in PARTS.items():
            if any(marker in frame for frame in frames for marker in markers):
                counts[part] += samples
    return {part: counts[part] / total if total else 0.0 for part in PARTS}


def _busy_stacks(raw: Path) -> Iterator[tuple[list[str], int]]:
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_frame(frame) for frame in stack.split(";")]
        # Threads parked in a wait are not work: py-spy --nonblocking cannot tell idle
        # threads apart, so the pool's idle workers and the event loop's select are dropped.
        if frames[-1].startswith(("Condition.wait", "select (", "EpollSelector.select")):
            continue
        yield frames, int(count)


def summarise(raw: Path, *, focus: str = "service/", top: int = 25) -> str:
    """Inclusive shares of ``focus`` functions and the top self-time functions overall."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for frames, samples in _busy_stacks(raw):
        total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    if total == 0:
        return f"{raw.name}: no busy samples"
    lines = [f"{raw.name}: {total} busy samples", "  parts of the request path:"]
    lines += [f"    {100 * share:5.1f}%  {part}" for part, share in parts(raw).items()]
    lines.append(f"  inclusive, {focus} functions:")
    focused = [(frame, n) for frame, n in inclusive.most_common() if focus in frame]
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in focused[:top]]
    lines.append("  self, all functions:")
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)
