"""Pages benchmark: what the student page and the console's busiest pages cost.

    .venv/bin/python -m bench.pages                 # SQLite file, 100 vs 10,000 answers
    .venv/bin/python -m bench.pages --large 2000 --rounds 15
    .venv/bin/python -m bench.pages --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

Builds a fresh migrated database (a temporary SQLite file, or the PostgreSQL database given,
whose ``public`` schema is DROPPED: give it a throwaway one) and the real app in process,
then stores answers through the real batch endpoint (scored as in production) on two
copies of the seed question: ``bench-small`` with ``--small`` answers and ``bench-large``
with ``--large``. It then requests, interleaved round by round so that both sides of each
ratio see the same machine:

- the student's feedback link as JSON and as the HTML page (target: page <= 2x JSON);
- the console's question page and review queue for the small and the large question
  (target: large <= 3x small: the cost must not grow with the class);

and prints the median of each and the ratios, plus the bytes of assets (CSS, JS, icons)
each page makes a browser fetch on first load (target: <= 100 KB). Only loopback.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from bench.rescore import database
from bench.scoring import SEED, corpus
from service.config import Settings
from service.domain.rubrics.service import GraderCache, load_rubric_file
from service.main import create_app

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = ROOT / "rubrics" / "backchannel-q1.yaml"
ADMIN_KEY = "grk_bench-pages-admin-key-0123456789abcdefghij"
BATCH = 500
_ASSET = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def _answers(n: int) -> list[str]:
    grader = GraderCache().get_for("bench", load_rubric_file(RUBRIC).model_dump(mode="json"))
    base = corpus(grader, random.Random(SEED))
    return [base[i % len(base)] for i in range(n)]


def _create_question(api: TestClient, slug: str) -> None:
    document: dict[str, Any] = yaml.safe_load(RUBRIC.read_text())
    document["id"] = slug
    response = api.post("/v1/questions", json=document)
    assert response.status_code == 201, response.text


def _store(api: TestClient, lms: dict[str, str], slug: str, answers: Sequence[str]) -> str:
    """Stores the answers; returns the feedback URL path of the last one."""
    link = ""
    for offset in range(0, len(answers), BATCH):
        items = [
            {"question_id": slug, "learner_id": f"{slug}-{offset + i}", "answer": answer}
            for i, answer in enumerate(answers[offset : offset + BATCH])
        ]
        response = api.post("/v1/submissions/batch", json={"items": items}, headers=lms)
        assert response.status_code in (200, 201, 207), response.text
        results = response.json().get("items") or response.json().get("results") or []
        for item in results:
            url = (item.get("submission") or item).get("feedback_url")
            if url:
                link = "/v1/feedback/" + url.rsplit("/", 1)[1]
    return link


def _sign_in(app: Any) -> TestClient:
    browser = TestClient(app)
    page = browser.get("/console/sign-in")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert token
    signed = browser.post(
        "/console/sign-in", data={"key": ADMIN_KEY, "csrftoken": token[1]}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text
    return browser


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _time(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return elapsed


def _asset_bytes(client: TestClient, page_html: str) -> int:
    total = 0
    for path in sorted(set(_ASSET.findall(page_html))):
        total += len(client.get(path.replace("&amp;", "&")).content)
    return total


def run(url: str, small: int, large: int, rounds: int) -> int:
    settings = Settings(
        database_url=url,
        rubrics_dir=ROOT / "rubrics",
        bootstrap_admin_key=ADMIN_KEY,
        worker_enabled=False,
        trusted_hosts="testserver",
        rate_limit="1000000/minute",
        rate_limit_integration="1000000/minute",
    )
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as api:
        lms_key = api.post("/v1/keys", json={"name": "lms", "role": "integration"}).json()["key"]
        lms = {"Authorization": f"Bearer {lms_key}"}
        for slug in ("bench-small", "bench-large"):
            _create_question(api, slug)
        answers = _answers(large)
        started = time.perf_counter()
        link = _store(api, lms, "bench-small", answers[:small])
        _store(api, lms, "bench-large", answers)
        out(f"stored {small + large} answers in {time.perf_counter() - started:.1f} s")
        browser = _sign_in(app)
        anon = TestClient(app)
        html_accept = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        cases: dict[str, Callable[[], Any]] = {
            "feedback JSON": lambda: anon.get(link),
            "feedback page": lambda: anon.get(link, headers=html_accept),
            "question page, small": lambda: browser.get("/console/questions/bench-small"),
            "question page, large": lambda: browser.get("/console/questions/bench-large"),
            "review queue, small": lambda: browser.get("/console/review?question_id=bench-small"),
            "review queue, large": lambda: browser.get("/console/review?question_id=bench-large"),
        }
        for call in cases.values():  # warm: templates compiled, caches filled
            _time(call)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        names = list(cases)
        for index in range(rounds):
            order = names if index % 2 == 0 else names[::-1]
            for name in order:
                samples[name].append(_time(cases[name]))
        medians = {name: statistics.median(values) for name, values in samples.items()}
        out(f"\n{'request':<24} {'median ms':>10}   (rounds={rounds})")
        for name in names:
            out(f"{name:<24} {medians[name] * 1000:>10.2f}")
        ratios = {
            "feedback page / JSON (target <= 2)": medians["feedback page"]
            / medians["feedback JSON"],
            f"question page {large} / {small} (target <= 3)": medians["question page, large"]
            / medians["question page, small"],
            f"review queue {large} / {small} (target <= 3)": medians["review queue, large"]
            / medians["review queue, small"],
        }
        out("")
        for label, value in ratios.items():
            out(f"{label:<44} {value:.2f}")
        out("\nassets fetched on first load (target <= 100 KB):")
        pages = {
            "student page": anon.get(link, headers=html_accept).text,
            "question page": browser.get("/console/questions/bench-large").text,
            "review queue": browser.get("/console/review?question_id=bench-large").text,
        }
        for name, body in pages.items():
            assets = _asset_bytes(anon, body) / 1024
            out(f"{name:<24} {assets:>8.1f} KB (+ {len(body) / 1024:.1f} KB HTML)")
    limits = [2.0, 3.0, 3.0]
    return 0 if all(v <= limit for v, limit in zip(ratios.values(), limits, strict=True)) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--postgres-url")
    args = parser.parse_args(argv)
    with database(args.postgres_url) as url:
        return run(url, args.small, args.large, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
