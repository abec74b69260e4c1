"""`npnflow drop` refuses what inbox_file_sensor would never pick up, and names too long for the
local bucket, with one sentence and no traceback (issue 13, item 11); through click's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assets.uploads.inbox import is_upload_key
from npnflow.cli import MAX_DROPPED_NAME_BYTES, main
from resources.object_store import LocalFolderObjectStore

AGENT_CSV = (
    Path(__file__).resolve().parents[1] / "fixtures" / "uploads" / "agent_valid.csv"
).read_bytes()


@pytest.fixture
def bucket(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NPNFLOW_BUCKET_DIR", raising=False)
    return tmp_path / "data" / "bucket"


def drop(tmp_path: Path, name: str):
    source = tmp_path / "files" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(AGENT_CSV)
    return CliRunner().invoke(main, ["drop", str(source), "--kind", "agent"])


def dropped(bucket: Path) -> list[Path]:
    return [p for p in bucket.rglob("*") if p.is_file()] if bucket.exists() else []


@pytest.mark.parametrize(
    ("name", "why", "instead"),
    [
        (".hidden.csv", "names that start with '.'", "rename it, e.g. to hidden.csv"),
        (
            "~$roster.xlsx",
            "names that start with '~$'",
            "drop the workbook itself, e.g. roster.xlsx",
        ),
        ("x.errors.csv", "names ending in .errors.csv or .errors.xlsx", "e.g. x-corrected.csv"),
        (
            "roster.xlsx.errors.xlsx",
            "names ending in .errors.csv or .errors.xlsx",
            "e.g. roster-corrected.xlsx",
        ),
    ],
)
def test_names_the_sensor_ignores_are_refused(tmp_path, bucket, name, why, instead):
    assert not is_upload_key(f"inbox/agent/{name}")  # the sensor's own rule says so
    result = drop(tmp_path, name)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{name} was not dropped: inbox_file_sensor ignores {why}")
    assert instead in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert dropped(bucket) == []


def test_a_244_character_name_is_refused_without_a_traceback(tmp_path, bucket):
    name = "a" * 240 + ".csv"
    result = drop(tmp_path, name)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr == (
        f"{'a' * 40}... was not dropped: its name is 244 bytes long, too long for the bucket "
        "folder once the error report's '.errors.csv' is added beside it (file names are at "
        f"most 255 bytes there); rename it to at most {MAX_DROPPED_NAME_BYTES} bytes and drop "
        "it again.\n"
    )
    assert dropped(bucket) == []


def test_the_limit_counts_bytes_not_characters(tmp_path, bucket):
    name = "é" * 111 + ".csv"  # 115 characters, 226 bytes
    result = drop(tmp_path, name)
    assert result.exit_code == 1 and "its name is 226 bytes long" in result.stderr


def test_the_longest_name_allowed_fits_with_its_error_reports(tmp_path, bucket):
    name = "b" * (MAX_DROPPED_NAME_BYTES - 4) + ".csv"
    result = drop(tmp_path, name)
    assert result.exit_code == 0, result.output
    assert f"the error report, if any, appears beside it as inbox/agent/{name}.errors.csv" in (
        result.output
    )
    # What the pipeline writes beside it (the report of a workbook is the longest) fits too.
    store = LocalFolderObjectStore(root=str(bucket))
    for suffix in (".errors.csv", ".errors.xlsx"):
        store.put_bytes(f"inbox/agent/{name}{suffix}", b"report")
    assert len(dropped(bucket)) == 3
