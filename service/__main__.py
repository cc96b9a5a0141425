"""Command line: ``python -m service {migrate,check-rubrics,serve}``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from service.config import get_settings
from service.db.session import ensure_sqlite_directory
from service.errors import RubricInvalid

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def migrate() -> int:
    url = get_settings().database_url
    ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), "head")
    return 0


def check_rubrics() -> int:
    from service.domain.rubrics.service import load_rubric_dir

    settings = get_settings()
    try:
        documents = load_rubric_dir(settings.rubrics_dir)
    except RubricInvalid as exc:
        sys.stderr.write(f"invalid rubric: {exc.detail}\n")
        return 2
    for document in documents:
        sys.stdout.write(f"ok {document.id}: {len(document.criteria)} criteria\n")
    return 0


def serve(host: str | None, port: int | None, workers: int) -> int:
    import uvicorn

    settings = get_settings()
    # Fail with a readable message before starting workers if a rubric is broken.
    if check_rubrics() != 0:
        return 2
    uvicorn.run(
        "service.main:build_default_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    sub.add_parser("check-rubrics", help="validate every rubric file and exit")
    serve_parser = sub.add_parser("serve", help="serve the HTTP API")
    serve_parser.add_argument("--host", default=None)
    serve_parser.add_argument("--port", type=int, default=None)
    serve_parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "migrate":
        return migrate()
    if args.command == "check-rubrics":
        return check_rubrics()
    return serve(args.host, args.port, args.workers)


if __name__ == "__main__":
    sys.exit(main())
