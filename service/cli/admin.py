"""``grader keys``, ``grader orgs`` and ``grader courses``: the same domain services as the
API, run as the deployment's operator (whoever can run the command can read the database)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import uuid
from collections.abc import Iterator

from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.cli import database
from service.cli.errors import StartupError
from service.config import get_settings
from service.domain.access.principal import Principal, Role, Scope

# Exit code when the request itself is refused (unknown organisation, duplicate id).
REFUSED_EXIT_CODE = 2
DEFAULT_ORGANIZATION = "default"


@contextlib.contextmanager
def _session() -> Iterator[Session]:
    """One committed unit of work on the checked database (nothing is printed about it:
    these commands' output is meant for scripts)."""
    from service.db.session import make_sessionmaker, session_scope
    from service.domain.organizations import service as organization_service

    engine = database.open_database(get_settings(), announce_it=False)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            organization_service.ensure_default_organization(session)
            yield session
    finally:
        engine.dispose()


def _refused(exc: Exception) -> StartupError:
    if isinstance(exc, ValidationError):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
    else:
        detail = str(getattr(exc, "detail", exc))
    return StartupError(f"error: {detail}", exit_code=REFUSED_EXIT_CODE)


def _admin_of(organization_id: uuid.UUID) -> Principal:
    """The command line acting as an admin of one organisation (no key row behind it)."""
    return Principal(
        key_id=uuid.UUID(int=0),
        name="command line",
        role=Role.ADMIN,
        organization_id=organization_id,
        course_ids=frozenset(),
    )


def keys(args: argparse.Namespace) -> int:
    from service.domain.keys import service as key_service
    from service.domain.organizations import service as organization_service
    from service.errors import DomainError

    try:
        with _session() as session:
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
        raise _refused(exc) from exc
    return 0


def orgs(args: argparse.Namespace) -> int:
    from service.domain.organizations import onboarding
    from service.domain.organizations import service as organization_service
    from service.domain.organizations.schemas import OrganizationCreate
    from service.errors import DomainError

    try:
        with _session() as session:
            if args.orgs_command == "create":
                body = OrganizationCreate(id=args.id, name=args.name)
                onboarded = onboarding.create_organization(session, body)
                sys.stdout.write(
                    f"{onboarded.home.organization.slug} {onboarded.home.organization.name!r}"
                    f" default course {onboarded.home.course.slug}\n"
                    f"admin key (shown only now): {onboarded.admin_key.key}\n"
                )
            else:
                for organization in organization_service.list_organizations(session):
                    sys.stdout.write(f"{organization.slug:<24} {organization.name}\n")
    except (DomainError, ValidationError) as exc:
        raise _refused(exc) from exc
    return 0


def courses(args: argparse.Namespace) -> int:
    from service.domain.organizations import service as organization_service
    from service.domain.organizations.schemas import CourseCreate
    from service.errors import DomainError

    try:
        with _session() as session:
            organization = organization_service.get_organization_by_slug(session, args.organization)
            admin = _admin_of(organization.id)
            if args.courses_command == "create":
                course = organization_service.create_course(
                    session, admin, CourseCreate(id=args.id, title=args.title)
                )
                sys.stdout.write(f"{course.slug} {course.title!r}\n")
            else:
                for course in organization_service.list_courses(session, admin.scope):
                    marker = " (default)" if course.is_default else ""
                    sys.stdout.write(f"{course.slug:<24} {course.title}{marker}\n")
    except (DomainError, ValidationError) as exc:
        raise _refused(exc) from exc
    return 0


def _organization_option(parser: argparse.ArgumentParser, *, inherited: bool) -> None:
    parser.add_argument(
        "--organization",
        metavar="ID",
        # On a subcommand, only a value given there overrides the group's option.
        default=argparse.SUPPRESS if inherited else DEFAULT_ORGANIZATION,
        help=f"the organisation (its id) to act on (default: {DEFAULT_ORGANIZATION})",
    )


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys_parser = sub.add_parser(
        "keys",
        help="create, list and revoke API keys (also: recover a lost admin key)",
        description="Manage API keys directly in the database. A lost admin key is replaced "
        "with `grader keys create --role admin --organization ID`.",
    )
    _organization_option(keys_parser, inherited=False)
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    create = keys_sub.add_parser("create", help="create a key and print it once")
    create.add_argument(
        "--name",
        default="created with grader keys",
        help="a label shown in key lists (default: %(default)r)",
    )
    create.add_argument(
        "--role",
        required=True,
        choices=["admin", "instructor", "integration"],
        help="admin: the organisation; instructor: granted courses; integration: an LMS (required)",
    )
    create.add_argument(
        "--course",
        action="append",
        default=[],
        metavar="ID",
        help="instructor keys: a course id to grant (repeat for several; default: none)",
    )
    _organization_option(create, inherited=True)
    listing = keys_sub.add_parser("list", help="list keys (never their secrets)")
    _organization_option(listing, inherited=True)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id (see keys list)")
    revoke.add_argument("key_id", help="the key's id (a UUID, first column of keys list)")
    _organization_option(revoke, inherited=True)
    keys_parser.set_defaults(handler=keys)

    orgs_parser = sub.add_parser(
        "orgs",
        help="list and create organisations",
        description="Organisations of this deployment (the operator's view).",
    )
    orgs_sub = orgs_parser.add_subparsers(dest="orgs_command", required=True, metavar="COMMAND")
    orgs_sub.add_parser("list", help="list organisations: id and name")
    create = orgs_sub.add_parser(
        "create", help="create an organisation, its default course and first admin key"
    )
    create.add_argument("--id", required=True, help="public id, e.g. lincoln-high (required)")
    create.add_argument(
        "--name", required=True, help="display name, e.g. 'Lincoln High' (required)"
    )
    orgs_parser.set_defaults(handler=orgs)

    courses_parser = sub.add_parser(
        "courses",
        help="list and create the courses of an organisation",
        description="Courses of one organisation; questions and instructor grants belong to one.",
    )
    _organization_option(courses_parser, inherited=False)
    courses_sub = courses_parser.add_subparsers(
        dest="courses_command", required=True, metavar="COMMAND"
    )
    listing = courses_sub.add_parser("list", help="list courses: id and title")
    _organization_option(listing, inherited=True)
    create = courses_sub.add_parser("create", help="create a course")
    create.add_argument(
        "--id", required=True, help="public id in the organisation, e.g. hist-101 (required)"
    )
    create.add_argument(
        "--title", required=True, help="display title, e.g. 'History 101' (required)"
    )
    _organization_option(create, inherited=True)
    courses_parser.set_defaults(handler=courses)
