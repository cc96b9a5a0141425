"""README.md runs as written: every shell block a user is meant to run is run, in order, in
one bash session, against a live server started the way ``make run`` starts it
(``python -m service migrate``, then ``python -m service serve`` on a free loopback port
with a fresh SQLite file and ``GRADER_BOOTSTRAP_ADMIN_KEY`` set).

- Blocks marked ``<!-- illustrative -->`` on the line before their fence are not run (see
  tests/docs/readme.py for the conventions).
- The session starts with ``BASE`` and ``ADMIN`` set to this server's address and admin key;
  the README's own first block keeps them (``BASE=${BASE:-...}``), so the same text works on
  any port. ``GRADER_DATABASE_URL`` and ``GRADER_RUBRICS_DIR`` are exported as for the
  server, so the README's ``.venv/bin/grader`` lines talk to the same database.
- ``set -euo pipefail`` and a ``curl`` function that adds ``--fail-with-body`` (and a newline
  after each answer, so every answer is one line of output): any failing command, HTTP
  error included, fails the test with the block, its line and its output.
- A ```` ```json ```` sample after a runnable block is compared with the block's last line
  of output, by the rule of ``readme.json_mismatches``: same keys at every level, same
  types, equal values except those that vary from run to run (ids, timestamps, keys and
  secrets, URLs, host:port addresses) and strings the README shortens with "...".
- The blocks run in a scratch folder holding links to the repository's ``examples/`` and the
  virtual environment (``.venv``), so files the README writes (``scores.csv``) land there.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.readme import Block, fenced_blocks, json_mismatches, sample_responses
from tests.support.server import PROJECT_ROOT, ServerProcess, run_command, service_env

README = PROJECT_ROOT / "README.md"
ADMIN_KEY = "grk_readme-walkthrough-admin-key-0123456789"
SESSION_TIMEOUT_SECONDS = 120.0

PRELUDE = """\
set -euo pipefail
# The README's curl lines with failures made fatal; a newline after each answer.
curl() { command curl --fail-with-body --show-error --write-out '\\n' "$@"; }
"""


Server = tuple[ServerProcess, dict[str, str]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Fail, not skip: CI must prove the README, and the README asks for exactly these tools.
    missing = [tool for tool in ("bash", "curl", "python3") if shutil.which(tool) is None]
    assert not missing, f"the README's commands need {', '.join(missing)} on PATH"
    folder = tmp_path_factory.mktemp("readme-server")
    env = service_env(
        f"sqlite:///{folder / 'grader.db'}", {"GRADER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY}
    )
    run_command(["migrate"], env)
    process = ServerProcess(env, folder / "server.log")
    process.start()
    try:
        yield process, env
    finally:
        process.stop()


def _scratch_folder(root: Path) -> Path:
    """Where the blocks run: the repository's examples/ and the venv, nothing else."""
    root.mkdir()
    (root / "examples").symlink_to(PROJECT_ROOT / "examples")
    (root / ".venv").symlink_to(Path(sys.prefix))
    return root


def _script(blocks: list[Block], runnable: list[int], out: Path, base_url: str) -> str:
    lines = [PRELUDE, f"BASE={shlex.quote(base_url)}", f"ADMIN={shlex.quote(ADMIN_KEY)}"]
    for index in runnable:
        path = out / f"{index}.sh"
        path.write_text(blocks[index].text)
        lines.append(
            f"{{ source {shlex.quote(str(path))}; }} "
            f"> {shlex.quote(str(out / f'{index}.out'))} 2>&1"
        )
        lines.append(f"echo {index} >> {shlex.quote(str(out / 'done'))}")
    return "\n".join(lines) + "\n"


def _failure(blocks: list[Block], runnable: list[int], out: Path, session: str) -> str:
    done_file = out / "done"
    finished = done_file.read_text().split() if done_file.exists() else []
    failed = next((i for i in runnable if str(i) not in finished), None)
    if failed is None:
        return f"the session failed after its last block:\n{session}"
    output = out / f"{failed}.out"
    text = output.read_text(errors="replace") if output.exists() else "(no output)"
    return (
        f"README.md block at line {blocks[failed].line} failed:\n{blocks[failed].text}\n"
        f"--- its output:\n{text[-4000:]}\n--- bash:\n{session[-2000:]}"
    )


def test_readme_runs_as_written(server: Server, tmp_path: Path) -> None:
    process, env = server
    blocks = fenced_blocks(README.read_text(encoding="utf-8"))
    runnable = [index for index, block in enumerate(blocks) if block.runnable]
    samples = sample_responses(blocks)
    assert len(runnable) >= 10, "the README lost its runnable blocks (or their fences)"
    out = tmp_path / "out"
    out.mkdir()
    script = out / "session.sh"
    script.write_text(_script(blocks, runnable, out, process.base_url))
    done = subprocess.run(
        ["bash", str(script)],
        cwd=_scratch_folder(tmp_path / "work"),
        env=env,
        capture_output=True,
        text=True,
        timeout=SESSION_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(_failure(blocks, runnable, out, done.stdout + done.stderr), pytrace=False)
    problems: list[str] = []
    for index, sample in samples.items():
        printed = (out / f"{index}.out").read_text().strip().splitlines()
        assert printed, f"README.md line {blocks[index].line}: the block printed nothing"
        mismatches = json_mismatches(json.loads(sample.text), json.loads(printed[-1]))
        problems += [f"README.md line {sample.line}: {problem}" for problem in mismatches]
    assert not problems, "sample responses differ from the real ones:\n" + "\n".join(problems)


def test_first_block_makes_an_admin_key_when_none_is_given(server: Server, tmp_path: Path) -> None:
    """A reader who did not copy the key `make run` printed gets one from the command line."""
    process, env = server
    first = next(b for b in fenced_blocks(README.read_text(encoding="utf-8")) if b.runnable)
    work = _scratch_folder(tmp_path / "work")
    (work / "first.sh").write_text(first.text)
    script = (
        f"{PRELUDE}BASE={shlex.quote(process.base_url)}\nunset ADMIN\nsource first.sh\n"
        'curl -s "$BASE/v1/keys" -H "Authorization: Bearer $ADMIN" > /dev/null\n'
        'test "$ADMIN" != "$BOOTSTRAP"\n'
    )
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=work,
        env={**env, "BOOTSTRAP": ADMIN_KEY},
        capture_output=True,
        text=True,
        timeout=SESSION_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
