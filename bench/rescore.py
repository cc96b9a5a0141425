"""Batch rescoring benchmark: what a rubric change does to 100,000 stored answers.

    .venv/bin/python -m bench.rescore                        # SQLite file, 100,000 answers
    .venv/bin/python -m bench.rescore --n 10000 --batch-size 500
    .venv/bin/python -m bench.rescore --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

Builds a fresh database (a temporary SQLite file, or the PostgreSQL database given, whose
``public`` schema is DROPPED and rebuilt: give it a throwaway one) migrated with alembic,
imports the seed question ``backchannel-q1``, bulk-inserts ``--n`` submissions already
scored by its rubric (one stored result each, as the service would have left them), then
saves a new rubric version (a criterion dropped, so many scores change). Then it measures,
with the same warm ``GraderCache``:

(i)  in memory: ``Grader.grade`` over the same answers, already in a list;
(ii) end to end: the real job path, ``create_rescore_job`` + ``run_next_job`` with
     ``JobPolicy(batch_size=--batch-size)``: read each batch, score, write results,
     commit per batch, exactly as ``python -m service worker`` does (logging configured as
     the worker configures it, at INFO, but written to /dev/null).

and prints answers/s for both, end-to-end / in-memory (target: at least 60%) and the
database overhead per answer (end-to-end time minus in-memory time, over ``--n``).
``--profile`` also prints where the end-to-end time goes (cProfile, top functions).
The answers are deterministic (``random.Random(SEED)``): references, shuffled paraphrases
and samples of the rubric's words, cycled.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import logging
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.scoring import SEED, corpus
from service.__main__ import alembic_config
from service.db.base import utcnow
from service.db.models import ApiKey, GradingResult, Question, RescoreJob, Submission
from service.db.session import make_engine, make_sessionmaker, session_scope
from service.domain.access.principal import Scope
from service.domain.jobs import service as job_service
from service.domain.jobs.service import JobPolicy, create_rescore_job, run_next_job
from service.domain.keys import service as key_service
from service.domain.organizations import service as organization_service
from service.domain.questions import service as question_service
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.service import GraderCache, load_rubric_file
from service.domain.submissions.service import _result_row
from service.logging import configure_logging

QUESTION = "backchannel-q1"
RUBRIC = Path(__file__).resolve().parent.parent / "rubrics" / f"{QUESTION}.yaml"
INSERT_CHUNK = 5000


@contextmanager
def database(postgres_url: str | None) -> Iterator[str]:
    """A fresh, migrated database URL (temporary SQLite file unless PostgreSQL is given)."""
    if postgres_url is not None:
        engine = make_engine(postgres_url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        command.upgrade(alembic_config(postgres_url), "head")
        yield postgres_url
        return
    with tempfile.TemporaryDirectory(prefix="bench-rescore-") as directory:
        url = f"sqlite:///{directory}/grader.db"
        command.upgrade(alembic_config(url), "head")
        yield url


def answers_for(n: int) -> list[str]:
    """``n`` answers to the seed question, cycling a deterministic corpus."""
    grader = GraderCache().get_for(
        "bench", load_rubric_file(RUBRIC).model_dump(mode="json")
    )  # only for its rubric text
    base = corpus(grader, random.Random(SEED))
    return [base[i % len(base)] for i in range(n)]


def _question(session: Session) -> Question:
    home = organization_service.ensure_default_organization(session)
    return question_service.get_question(
        session, Scope.organization(home.organization.id), QUESTION
    )


def populate(factory: sessionmaker[Session], graders: GraderCache, answers: Sequence[str]) -> int:
    """Seed question, keys and scored submissions; a new rubric version. Returns its id."""
    rng = random.Random(SEED)
    with session_scope(factory) as session:
        home = organization_service.ensure_default_organization(session)
        org = home.organization.id
        rubric_service.import_document(
            session, load_rubric_file(RUBRIC), source="file", course=home.course
        )
        poster = ApiKey(
            name="lms",
            role="integration",
            prefix="bench-lms",
            key_hash="0" * 64,
            organization_id=org,
        )
        session.add(poster)
        session.add(
            ApiKey(
                name="teacher",
                role="admin",
                prefix="bench-tch",
                key_hash="1" * 64,
                organization_id=org,
            )
        )
        session.flush()
        question = _question(session)
        version = rubric_service.current_version(session, question)
        grader = graders.get(version)
        # One stored result per distinct answer, reused for its repeats (same row content).
        templates: dict[str, dict[str, Any]] = {}
        for answer in dict.fromkeys(answers):
            breakdown = grader.grade(answer)
            row = _result_row(breakdown, version=version)
            templates[answer] = {
                column.key: getattr(row, column.key)
                for column in GradingResult.__table__.columns
                if column.key not in ("id", "submission_id", "created_at")
            }
        start = utcnow() - timedelta(seconds=len(answers))
        poster_id = poster.id
        for offset in range(0, len(answers), INSERT_CHUNK):
            submissions = []
            results = []
            for i in range(offset, min(offset + INSERT_CHUNK, len(answers))):
                answer = answers[i]
                template = templates[answer]
                submission_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                created = start + timedelta(milliseconds=i)
                submissions.append(
                    {
                        "id": submission_id,
                        "question_id": question.id,
                        "organization_id": question.organization_id,
                        "course_id": question.course_id,
                        "learner_id": f"learner-{i}",
                        "answer": answer,
                        "status": "scored",
                        "created_at": created,
                        "api_key_id": poster_id,
                        "feedback_token_hash": f"{rng.getrandbits(256):064x}",
                        "points": template["points"],
                        "machine_points": template["points"],
                        "max_points": template["max_points"],
                        "needs_review": template["needs_review"],
                        "is_overridden": False,
                    }
                )
                results.append({**template, "submission_id": submission_id, "created_at": created})
            session.execute(insert(Submission), submissions)
            session.execute(insert(GradingResult), results)
    # The rubric change: drop the first criterion, as an instructor editing the rubric would.
    with session_scope(factory) as session:
        question = _question(session)
        latest = rubric_service.list_versions(session, question)[-1]
        content = dict(latest.content)
        content.pop("id", None)
        content["criteria"] = content["criteria"][1:]
        outcome = rubric_service.update_rubric(session, question, content)
        new = rubric_service.list_versions(session, question)[-1]
        assert new.version == outcome.version
        graders.get(new)  # compile once, as a warm worker would have
        return new.id


def in_memory(
    graders: GraderCache, factory: sessionmaker[Session], answers: Sequence[str]
) -> float:
    """Seconds to grade ``answers`` with the new rubric's grader, nothing else."""
    with session_scope(factory) as session:
        question = _question(session)
        grader = graders.get(rubric_service.current_version(session, question))
    started = time.perf_counter()
    for answer in answers:
        grader.grade(answer)
    return time.perf_counter() - started


def end_to_end(
    graders: GraderCache, factory: sessionmaker[Session], batch_size: int, profile: bool
) -> tuple[float, RescoreJob]:
    """Seconds for a whole rescore job through the real job code, and the finished job."""
    with session_scope(factory) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.name == "teacher")).one()
        principal = key_service.principal_for(session, row)
        job_id = create_rescore_job(session, question=_question(session), principal=principal).id
    profiler = cProfile.Profile() if profile else None
    database_profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    with _profiled_database_steps(database_profiler):
        if profiler is not None:
            profiler.enable()
        run_next_job(factory, graders, JobPolicy(batch_size=batch_size, lease_seconds=600.0))
        if profiler is not None:
            profiler.disable()
    elapsed = time.perf_counter() - started
    with session_scope(factory) as session:
        job = session.get(RescoreJob, job_id)
        assert job is not None
        session.expunge(job)
    for name, stats in (("scoring", profiler), ("database", database_profiler)):
        if stats is not None:
            out = io.StringIO()
            pstats.Stats(stats, stream=out).sort_stats("cumulative").print_stats(35)
            sys.stdout.write(f"--- {name} thread ---\n{out.getvalue()}")
    return elapsed, job


@contextmanager
def _profiled_database_steps(profiler: cProfile.Profile | None) -> Iterator[None]:
    """cProfile sees one thread only: the job's database thread gets its own profiler."""
    if profiler is None:
        yield
        return
    original = job_service._database_step

    def step(*args: Any) -> Any:
        profiler.enable()
        try:
            return original(*args)
        finally:
            profiler.disable()

    job_service._database_step = step  # type: ignore[assignment]
    try:
        yield
    finally:
        job_service._database_step = original


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="stored answers (100000)")
    parser.add_argument("--batch-size", type=int, default=500, help="job batch size (500)")
    parser.add_argument("--postgres-url", help="use this PostgreSQL database (schema dropped!)")
    parser.add_argument("--profile", action="store_true", help="cProfile the end-to-end run")
    args = parser.parse_args(argv)

    configure_logging(level="INFO")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - open for the life of the process
    for handler in logging.getLogger("service").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)

    answers = answers_for(args.n)
    with database(args.postgres_url) as url:
        engine: Engine = make_engine(url)
        try:
            factory = make_sessionmaker(engine)
            graders = GraderCache()
            started = time.perf_counter()
            populate(factory, graders, answers)
            populated = time.perf_counter() - started
            with engine.connect() as connection:
                stored = connection.scalar(select(func.count()).select_from(Submission))
            assert stored == args.n
            # As the API process and `python -m service worker` do after start-up: long-lived
            # objects out of the collector's way, for both measurements alike.
            gc.collect()
            gc.freeze()
            memory = in_memory(graders, factory, answers)
            elapsed, job = end_to_end(graders, factory, args.batch_size, args.profile)
        finally:
            engine.dispose()
    assert (job.status, job.processed, job.failed) == ("succeeded", args.n, 0), job.status
    backend = make_url(url).get_backend_name()
    memory_rate = args.n / memory
    e2e_rate = args.n / elapsed
    lines = [
        f"rescore benchmark: {args.n} stored answers, {backend}, batch size {args.batch_size}",
        f"python {sys.version.split()[0]}, CPUs allowed: "
        f"{sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}",
        f"setup (migrate + bulk insert + rubric change): {populated:.1f} s",
        f"job: {job.processed} processed, {job.changed} changed, {job.failed} failed",
        "",
        f"in memory (grade only):      {memory_rate:10.0f} answers/s  ({memory:.1f} s)",
        f"end to end (read/score/write): {e2e_rate:8.0f} answers/s  ({elapsed:.1f} s)",
        f"end to end / in memory: {e2e_rate / memory_rate:.0%}   (target >= 60%)",
        # What the database adds per answer: with scoring k times faster, the ratio becomes
        # about (memory / k) / (memory / k + overhead), if the overhead does not shrink.
        f"database overhead: {(elapsed - memory) / args.n * 1e6:.0f} us/answer "
        f"(in-memory grade: {memory / args.n * 1e6:.0f} us/answer)",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
