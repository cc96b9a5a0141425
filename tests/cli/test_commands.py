"""The command line's help texts and its admin commands, by the installed ``grader`` script
and ``python -m service`` (the same program)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import grader
from tests.support.server import service_env

COMMANDS = [
    ["serve"],
    ["worker"],
    ["migrate"],
    ["check-rubrics"],
    ["keys"],
    ["keys", "create"],
    ["keys", "list"],
    ["keys", "revoke"],
    ["orgs"],
    ["orgs", "create"],
    ["courses"],
    ["courses", "create"],
    ["backup"],
    ["restore"],
]


def test_grader_script_and_python_m_service_are_the_same(tmp_path: Path) -> None:
    env = service_env(f"sqlite:///{tmp_path / 'x.db'}")
    by_script = grader("--help", env=env, script=True)
    by_module = grader("--help", env=env)
    assert by_script.code == by_module.code == 0
    assert by_script.out == by_module.out
    for name in ("serve", "worker", "migrate", "check-rubrics", "keys", "orgs", "courses"):
        assert name in by_script.out
    for name in ("evaluate", "backup", "restore", "--debug"):
        assert name in by_script.out


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_option_has_help_with_its_default(tmp_path: Path, command: list[str]) -> None:
    done = grader(*command, "--help", env=service_env(f"sqlite:///{tmp_path / 'x.db'}"))
    assert done.code == 0, done.err
    assert "usage: grader" in done.out
    options = [
        line.strip()
        for line in done.out.split("options:", 1)[1].splitlines()
        if line.strip().startswith("--") and not line.strip().startswith("--help")
    ]
    body = " ".join(done.out.split())
    for option in options:
        name = option.split()[0].rstrip(",")
        assert name in body
    if options:
        # Each option says its default, or that it is required.
        assert body.count("default") + body.count("(required)") >= len(options), done.out


def test_serve_help_names_its_options(tmp_path: Path) -> None:
    done = grader("serve", "--help", env=service_env(f"sqlite:///{tmp_path / 'x.db'}"))
    for option in ("--host", "--port", "--workers", "--forwarded-allow-ips", "--log-format"):
        assert option in done.out
    assert "--reload" in done.out


def test_evaluate_delegates_to_the_accuracy_command(tmp_path: Path) -> None:
    env = service_env(f"sqlite:///{tmp_path / 'x.db'}")
    done = grader("evaluate", "--help", env=env, script=True)
    assert done.code == 0, done.err
    assert "--cv-folds" in done.out


def test_orgs_courses_and_keys(sqlite_env: dict[str, str]) -> None:
    created = grader("orgs", "create", "--id", "lincoln", "--name", "Lincoln High", env=sqlite_env)
    assert created.code == 0, created.err
    assert "admin key (shown only now): grk_" in created.out
    listed = grader("orgs", "list", env=sqlite_env, script=True)
    assert "lincoln" in listed.out
    assert "default" in listed.out
    again = grader("orgs", "create", "--id", "lincoln", "--name", "Again", env=sqlite_env)
    assert again.code == 2
    assert "exists" in again.err
    course = grader(
        "courses", "create", "--organization", "lincoln", "--id", "hist-101",
        "--title", "History 101", env=sqlite_env,
    )  # fmt: skip
    assert course.code == 0, course.err
    courses = grader("courses", "list", "--organization", "lincoln", env=sqlite_env)
    assert "hist-101" in courses.out
    assert "(default)" in courses.out
    # A lost admin key: a new one straight from the database.
    key = grader("keys", "create", "--role", "admin", "--organization", "lincoln", env=sqlite_env)
    assert key.code == 0, key.err
    key_id, role, secret = key.out.split()
    assert role == "admin"
    assert secret.startswith("grk_")
    keys = grader("keys", "list", "--organization", "lincoln", env=sqlite_env)
    assert f"{key_id} admin" in keys.out
    assert secret not in keys.out
    revoked = grader("keys", "revoke", key_id, "--organization", "lincoln", env=sqlite_env)
    assert revoked.code == 0, revoked.err
    unknown = grader("courses", "list", "--organization", "nowhere", env=sqlite_env)
    assert unknown.code == 2
    assert "Traceback" not in unknown.err


def test_migrate_from_another_folder_names_the_new_file(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = service_env("sqlite:///./data/grader.db")
    done = grader("migrate", env=env, cwd=elsewhere)
    assert done.code == 0, done.err
    created = elsewhere / "data" / "grader.db"
    assert f"creating a NEW, empty SQLite database file: {created}" in done.out
    assert f"database: sqlite:///{created}" in done.out
    again = grader("migrate", env=env, cwd=elsewhere)
    assert "NEW" not in again.out
    # Another command from a folder with no database refuses, naming the file.
    other = tmp_path / "other"
    other.mkdir()
    keys = grader("keys", "list", env=env, cwd=other)
    assert keys.code == 3
    assert str(other / "data" / "grader.db") in keys.err
    assert not (other / "data" / "grader.db").exists()
