"""Command line: ``python -m service {migrate,check-rubrics,serve,worker,keys}``."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@contextlib.contextmanager
def _session_factory() -> Iterator[Any]:
    """A sessionmaker on the configured database; its connections are closed on exit."""
    from service.db.session import make_engine, make_sessionmaker

    engine = make_engine(get_settings().database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def bootstrap() -> None:
    """Create the first admin key on an empty database; print it once if generated."""
    from service.db.session import session_scope
    from service.domain.keys import service as key_service
    from service.domain.organizations import service as organization_service

    settings = get_settings()
    configured = settings.bootstrap_admin_key
    with _session_factory() as factory, session_scope(factory) as session:
        home = organization_service.ensure_default_organization(session)
        key = key_service.bootstrap_admin(
            session,
            organization_id=home.organization.id,
            configured_key=configured.get_secret_value() if configured else None,
        )
    if key is not None:
        sys.stdout.write(
            "\nNo API keys existed, so an admin key of the default organisation (which can also\n"
            "create organisations) was created. It is shown only now:\n\n"
            f"    {key}\n\n"
            "Create more with `python -m service keys create --role ...` or POST /v1/keys.\n\n"
        )
        sys.stdout.flush()


def serve(host: str | None, port: int | None, workers: int) -> int:
    import uvicorn

    settings = get_settings()
    # Fail with a readable message before starting workers if a rubric is broken.
    if check_rubrics() != 0:
        return 2
    bootstrap()
    uvicorn.run(
        "service.main:build_default_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        # Our own access log (service.access) names the route template; uvicorn's would
        # write raw paths and query strings, and a feedback URL's token is a secret.
        access_log=False,
        # X-Forwarded-For/-Proto are honoured by the app itself, from exactly the peers in
        # GRADER_FORWARDED_ALLOW_IPS (service/main.py). uvicorn's own handling would trust
        # loopback (its default) or $FORWARDED_ALLOW_IPS on top of that, so it is off.
        proxy_headers=False,
    )
    return 0


def worker() -> int:
    """Run background work (rescoring jobs, callbacks) until interrupted."""
    import signal
    import threading

    from service.domain.rubrics.service import GraderCache
    from service.logging import configure_logging
    from service.worker import Worker

    settings = get_settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with _session_factory() as factory:
        background = Worker(factory, GraderCache(settings.grader_cache_size), settings)
        # Long-lived objects out of the collector's way (see create_app's lifespan).
        gc.collect()
        gc.freeze()
        background.start()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        background.stop()
    return 0


def keys(args: argparse.Namespace) -> int:
    import uuid

    from service.db.session import session_scope
    from service.domain.access.principal import Role, Scope
    from service.domain.keys import service as key_service
    from service.domain.organizations import service as organization_service
    from service.errors import DomainError

    with _session_factory() as factory, session_scope(factory) as session:
        try:
            organization_service.ensure_default_organization(session)
            organization = organization_service.get_organization_by_slug(session, args.organization)
            scope = Scope.organization(organization.id)
            if args.keys_command == "create":
                courses = [
                    organization_service.get_course(session, scope, organization.id, slug)
                    for slug in args.course
                ]
                created = key_service.create_key(
                    session,
                    organization_id=organization.id,
                    name=args.name,
                    role=Role(args.role),
                    courses=courses,
                )
                sys.stdout.write(f"{created.row.id} {created.row.role} {created.key}\n")
            elif args.keys_command == "list":
                for row in key_service.list_keys(session, scope):
                    state = "revoked" if row.revoked_at else "active"
                    sys.stdout.write(
                        f"{row.id} {row.role:<11} {state:<7} {row.prefix}… {row.name}\n"
                    )
            else:
                key_service.revoke_key(session, scope, uuid.UUID(args.key_id))
                sys.stdout.write(f"revoked {args.key_id}\n")
        except (DomainError, ValueError) as exc:
            sys.stderr.write(f"error: {getattr(exc, 'detail', exc)}\n")
            return 2
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
    sub.add_parser("worker", help="run background jobs and callback deliveries")
    keys_parser = sub.add_parser("keys", help="manage API keys")
    keys_parser.add_argument(
        "--organization",
        default="default",
        help="the organisation (its id) whose keys to manage (default: %(default)s)",
    )
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True)
    create_parser = keys_sub.add_parser("create", help="create a key and print it once")
    create_parser.add_argument("--name", required=True)
    create_parser.add_argument(
        "--role", required=True, choices=["admin", "instructor", "integration"]
    )
    create_parser.add_argument(
        "--course",
        action="append",
        default=[],
        help="instructor keys: a course id to grant (repeat for several)",
    )
    keys_sub.add_parser("list", help="list keys (never their secrets)")
    revoke_parser = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke_parser.add_argument("key_id")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        return migrate()
    if args.command == "check-rubrics":
        return check_rubrics()
    if args.command == "worker":
        return worker()
    if args.command == "keys":
        return keys(args)
    return serve(args.host, args.port, args.workers)


if __name__ == "__main__":
    sys.exit(main())
