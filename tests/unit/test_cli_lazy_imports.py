"""`npnflow --help` and `npnflow batches list` start without Dagster (issue 17): the command
groups are imported when invoked, and `--help` lists them from summaries that must stay their
own first sentences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from npnflow.cli import LAZY_COMMANDS, main
from schemas.migrate import upgrade

REPO = Path(__file__).resolve().parents[2]
# pandas too: `batches list` and `show` read rows, not frames.
HEAVY = ("dagster", "dagster_dbt", "great_expectations", "pandas")

# Runs the command as `npnflow` does, then says which heavy packages it imported.
PROBE = """
import json, sys
from npnflow.cli import main
try:
    main(sys.argv[1:], prog_name="npnflow")
except SystemExit as end:
    code = end.code
else:
    code = 0
heavy = [name for name in {heavy!r} if name in sys.modules]
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def _probe(*args: str, data_dir: Path) -> tuple[str, dict]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NPNFLOW_DATA_DIR": str(data_dir),
    }
    environment.pop("NPNFLOW_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        timeout=120,
    )
    probe = json.loads(result.stderr.strip().splitlines()[-1])
    return result.stdout, probe


def test_help_lists_every_command_without_importing_dagster(tmp_path):
    output, probe = _probe("--help", data_dir=tmp_path)
    assert probe == {"code": 0, "heavy": []}
    listed = {line.split()[0] for line in output.split("Commands:")[1].splitlines() if line}
    assert set(LAZY_COMMANDS) <= listed
    assert {"db", "demo", "drop", "template", "ui", "validate", "runs", "ssn-key"} <= listed


def test_batches_list_on_an_empty_database_does_not_import_dagster(tmp_path):
    upgrade(f"sqlite:///{tmp_path / 'npnflow.db'}")
    output, probe = _probe("batches", "list", data_dir=tmp_path)
    assert probe == {"code": 0, "heavy": []}
    assert output.strip() == "No batches yet."


def test_batches_list_on_a_database_behind_the_code_exits_1_without_dagster(tmp_path):
    output, probe = _probe("batches", "list", data_dir=tmp_path)
    assert probe == {"code": 1, "heavy": []}
    assert not (tmp_path / "npnflow.db").exists()


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_each_summary_is_the_commands_own_first_sentence(name):
    context = click.Context(main)
    command = main.get_command(context, name)
    assert isinstance(command, click.Command)
    summary = click.Command(name, help=LAZY_COMMANDS[name].summary)
    assert summary.get_short_help_str(10_000) == command.get_short_help_str(10_000)


def test_a_lazy_group_runs_its_subcommands_and_their_help():
    result = CliRunner().invoke(main, ["batches", "--help"])
    assert result.exit_code == 0, result.output
    for subcommand in ("list", "show", "approve", "reject", "retry"):
        assert f"  {subcommand} " in result.output
    assert CliRunner().invoke(main, ["no-such-command"]).exit_code == 2


def test_the_quick_migration_check_reads_the_head_alembic_reads(tmp_path):
    from npnflow.read_only import head_of_migration_files
    from schemas.migrate import head_revision

    assert head_of_migration_files() == head_revision()
    # A file that does not read plainly leaves the decision to Alembic.
    (tmp_path / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (tmp_path / "0002_b.py").write_text('revision = "0002"\ndown_revision = "0001"\n')
    assert head_of_migration_files(tmp_path) == "0002"
    (tmp_path / "0003_c.py").write_text("revision = make_revision()\n")
    assert head_of_migration_files(tmp_path) is None


def test_batches_list_refuses_a_database_one_migration_behind(tmp_path, monkeypatch):
    from schemas.migrate import head_revision

    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url, revision="0011")
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    result = CliRunner().invoke(main, ["batches", "list"])
    assert result.exit_code == 1
    assert (
        f"The operational database is at migration 0011, the code needs {head_revision()}. "
        "Run `npnflow db upgrade`" in result.stderr
    )
