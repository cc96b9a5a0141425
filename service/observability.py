"""Prometheus metrics, as plain ``prometheus_client`` objects.

No web imports: the domain (scoring, rescoring jobs) records into these
directly, the HTTP middleware records requests, and ``/metrics`` renders them. They live
in the process-wide default registry, created once at import, so building several apps in
one process (as the tests do) shares them instead of registering duplicates.

Label values are always bounded and never identify anyone or anything in the data: HTTP
routes are route *templates* (``/v1/submissions/{submission_id}``), never raw paths, which
would be unbounded and would put students' feedback tokens into the metrics; no label
carries a question id, learner id or key id (a scrape credential must not reveal which
courses exist or how busy each is). Per-question figures belong in the analytics, behind
the instructor role.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.models import RescoreJob

# Request latencies: a JSON read is milliseconds, a 500-answer batch can take seconds.
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# One answer through the engine: typically a few milliseconds.
_SCORING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

UNMATCHED_ROUTE = "<unmatched>"

# No "_created" sample next to every series: it doubles the series count and the scrape,
# and Prometheus only needs it for OpenMetrics counter resets, which it detects anyway.
disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_REQUESTS = Counter(
    "grader_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "grader_http_request_duration_seconds",
    "Time from receiving a request to the end of its response, by route template.",
    ["method", "route", "status"],
    buckets=_HTTP_BUCKETS,
)
SCORING_DURATION = Histogram(
    "grader_scoring_duration_seconds",
    "Time the engine takes to score one answer (submissions and rescoring).",
    buckets=_SCORING_BUCKETS,
)
SCORING_FAILURES = Counter(
    "grader_scoring_failures",
    "Answers the engine failed to score (left pending, retried at the next start).",
)
SUBMISSIONS = Counter(
    "grader_submissions",
    "Answers stored (all questions together: no question or learner labels).",
)
RESCORED = Counter(
    "grader_rescored_submissions",
    "Submissions processed by rescoring jobs, by outcome (changed, unchanged, failed).",
    ["outcome"],
)
RATE_LIMITED = Counter(
    "grader_rate_limited_requests",
    "Requests refused with 429, by what was limited (api_key, failed_auth).",
    ["scope"],
)


def observe_http(*, method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_REQUEST_DURATION.labels(method, route, str(status)).observe(seconds)


def observe_scoring(seconds: float, *, failed: bool = False) -> None:
    """Called where an answer is scored; ``seconds`` is the engine call alone."""
    if failed:
        SCORING_FAILURES.inc()
    else:
        SCORING_DURATION.observe(seconds)


def count_submission() -> None:
    SUBMISSIONS.inc()


def count_rescored(outcome: str) -> None:
    RESCORED.labels(outcome).inc()


JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class JobProgressCollector(Collector):
    """Rescoring job counts and progress, queried when scraped (one grouped query)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        stmt = select(
            RescoreJob.status,
            func.count(),
            func.coalesce(func.sum(RescoreJob.total), 0),
            func.coalesce(func.sum(RescoreJob.processed), 0),
        ).group_by(RescoreJob.status)
        rows = {
            status: (count, total, done)
            for status, count, total, done in self.session.execute(stmt)
        }
        jobs = GaugeMetricFamily(
            "grader_rescore_jobs", "Rescoring jobs by status.", labels=["status"]
        )
        for status in JOB_STATUSES:
            jobs.add_metric([status], rows.get(status, (0, 0, 0))[0])
        unfinished = [rows.get(status, (0, 0, 0)) for status in ("queued", "running")]
        progress = GaugeMetricFamily(
            "grader_rescore_job_submissions",
            "Submissions in unfinished (queued or running) rescoring jobs: to process in all "
            "(total) and done so far (processed).",
            labels=["state"],
        )
        progress.add_metric(["total"], sum(row[1] for row in unfinished))
        progress.add_metric(["processed"], sum(row[2] for row in unfinished))
        yield jobs
        yield progress
