"""``grader migrate``, ``grader serve`` and ``grader worker``."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys

from alembic import command

from service.cli import database
from service.cli.errors import StartupError, mask_url
from service.cli.rubrics import load_rubrics
from service.config import Settings, get_settings


def migrate(_args: argparse.Namespace) -> int:
    settings = get_settings()
    database.announce(settings, creates=True)
    engine = database.connect(settings)  # a readable error for a wrong URL or server down
    try:
        state = database.revisions(engine, settings.database_url)
    finally:
        engine.dispose()
    database.check_not_newer(state)
    command.upgrade(database.alembic_config(settings.database_url), "head")
    sys.stdout.write(f"database schema is at {', '.join(state.heads)} (newest)\n")
    return 0


def bootstrap(settings: Settings | None = None) -> None:
    """Create the first admin key on an empty database; print it once if generated."""
    settings = settings or get_settings()
    from service.db.session import make_sessionmaker, session_scope
    from service.domain.keys import service as key_service
    from service.domain.organizations import service as organization_service

    configured = settings.bootstrap_admin_key
    engine = database.open_database(settings, announce_it=False)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            home = organization_service.ensure_default_organization(session)
            key = key_service.bootstrap_admin(
                session,
                organization_id=home.organization.id,
                configured_key=configured.get_secret_value() if configured else None,
            )
    finally:
        engine.dispose()
    if key is not None:
        sys.stdout.write(
            "\nNo API keys existed, so an admin key of the default organisation (which can also\n"
            "create organisations) was created. It is shown only now:\n\n"
            f"    {key}\n\n"
            "Create more with `grader keys create --role ...` or POST /v1/keys.\n\n"
        )
        sys.stdout.flush()


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    # The options reach every uvicorn worker process (each builds its app from the
    # environment, service.main.build_default_app) as the settings they stand for.
    if args.forwarded_allow_ips is not None:
        os.environ["GRADER_FORWARDED_ALLOW_IPS"] = args.forwarded_allow_ips
    if args.log_format is not None:
        os.environ["GRADER_LOG_JSON"] = "true" if args.log_format == "json" else "false"
    if args.host is not None:
        os.environ["GRADER_HOST"] = args.host
    if args.port is not None:
        os.environ["GRADER_PORT"] = str(args.port)
    # Absolute already (Settings resolves a relative SQLite path): children share the file.
    settings = get_settings()
    os.environ["GRADER_DATABASE_URL"] = settings.database_url
    get_settings.cache_clear()
    settings = get_settings()
    # Fail with a readable message before starting workers if anything is wrong.
    database.announce(settings, creates=False)
    load_rubrics(settings)
    bootstrap(settings)
    sys.stdout.write(
        f"serving on http://{settings.host}:{settings.port} with {args.workers} worker "
        f"process(es); trusted proxies: {settings.forwarded_allow_ips or 'none'}\n"
    )
    sys.stdout.flush()
    uvicorn.run(
        "service.main:build_default_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=None if args.reload else args.workers,
        reload=args.reload,
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


def describe_worker(settings: Settings) -> str:
    """What a worker does and where, printed when it starts."""
    return (
        f"grader worker: database {mask_url(settings.database_url)}\n"
        "  queues: rescoring jobs, outbox (webhooks, LTI scores), scoring retries"
        f"{', retention' if settings.retention_days else ''}, housekeeping\n"
        f"  concurrency: {settings.callback_concurrency} deliveries at once "
        f"({settings.callback_concurrency_per_destination} per destination), "
        f"jobs in batches of {settings.job_batch_size}; polls every "
        f"{settings.worker_poll_seconds:g} s when idle\n"
        "  database outages: one line when it goes, retries backing off 1 s to 30 s, "
        "one line when it is back\n"
    )


def worker(_args: argparse.Namespace) -> int:
    """Run background work (rescoring jobs, callbacks) until interrupted."""
    import signal
    import threading

    from service.db.session import make_sessionmaker
    from service.domain.rubrics.service import GraderCache
    from service.logging import configure_logging
    from service.worker import Worker

    settings = get_settings()
    engine = database.open_database(settings, announce_it=False)
    sys.stdout.write(describe_worker(settings))
    sys.stdout.flush()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        background = Worker(
            make_sessionmaker(engine), GraderCache(settings.grader_cache_size), settings
        )
        # Long-lived objects out of the collector's way (see create_app's lifespan).
        gc.collect()
        gc.freeze()
        background.start()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        background.stop()
    finally:
        engine.dispose()
    return 0


def _workers(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not between 1 and 65535")
    return number


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "migrate",
        help="apply database migrations (alembic upgrade head)",
        description="Bring the database in GRADER_DATABASE_URL to the newest schema; creates "
        "the SQLite file (and its folder) when it does not exist, and says so.",
    )
    parser.set_defaults(handler=migrate)

    parser = sub.add_parser(
        "serve",
        help="serve the HTTP API and pages",
        description="Serve the API. Every option overrides the GRADER_* setting named in its "
        "help; rubrics are checked and the first admin key made (and shown once) first.",
    )
    parser.add_argument(
        "--host", default=None, help="address to listen on (default: GRADER_HOST, 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=_port, default=None, help="port to listen on (default: GRADER_PORT, 8000)"
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="API processes, each with its own pool (default: %(default)s)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="IPS",
        help="proxies trusted to set X-Forwarded-For/-Proto: comma-separated IPs or CIDRs, "
        "'*' for any (default: GRADER_FORWARDED_ALLOW_IPS, empty: trust nobody)",
    )
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=None,
        help="log lines as text or JSON (default: GRADER_LOG_JSON, false: text)",
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="restart on code changes, for development; one process (default: off)",
    )
    parser.set_defaults(handler=serve)

    parser = sub.add_parser(
        "worker",
        help="run background jobs, callback deliveries and scoring retries",
        description="Run the background work (rescoring jobs, the outbox of webhooks and LTI "
        "scores, scoring retries) until SIGTERM or Ctrl-C; any number may run at once.",
    )
    parser.set_defaults(handler=worker)


__all__ = ["StartupError", "add_parsers", "bootstrap"]
