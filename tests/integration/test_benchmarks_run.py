"""Every end-to-end benchmark (`bench/e2e_*.py`) still runs, at a tiny size, and writes its
figures: time, its floor measured in the same run, the ratio and the peak RSS.

The figures themselves are not judged here (a tiny run on a shared machine says nothing about
the targets; the benchmarks at their real sizes do). What is judged is that the benchmark did
its work and wrote a result a person can read, so a change elsewhere cannot leave a benchmark
broken until the next time someone measures. The JSON goes to a temporary folder
(NPNFLOW_BENCH_RESULTS), never over a real measurement in bench/results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (script, tiny arguments, the result files it writes on SQLite)
TINY_RUNS = [
    (
        "e2e_initial_sync.py",
        ["--producers", "40", "--memory-sizes", "20", "40"],
        ["e2e_initial_sync_sqlite.json"],
    ),
    (
        "e2e_daily_sync.py",
        ["--producers", "300", "--touched", "30"],
        ["e2e_daily_sync_sqlite.json"],
    ),
    (
        "e2e_appoint_file.py",
        ["--producers", "300", "--rows", "300"],
        ["e2e_appoint_file_sqlite.json"],
    ),
    ("e2e_agent_file.py", ["--rows", "300"], ["e2e_agent_file_sqlite.json"]),
    (
        "e2e_write_transactions.py",
        ["--producers", "300", "--requests", "600"],
        ["e2e_write_transactions_sqlite.json"],
    ),
    ("e2e_submission.py", ["--lines", "60"], ["e2e_submission_sqlite.json"]),
    ("e2e_cli.py", ["--lines", "200", "--runs", "1"], ["e2e_cli_sqlite.json"]),
]


def _run(script: str, arguments: list[str], results: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "NPNFLOW_BENCH_RESULTS": str(results), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.sandbox
@pytest.mark.parametrize(("script", "arguments", "files"), TINY_RUNS, ids=[r[0] for r in TINY_RUNS])
def test_benchmark_runs_and_writes_its_figures(
    script: str, arguments: list[str], files: list[str], tmp_path: Path
) -> None:
    finished = _run(script, arguments, tmp_path)
    said = f"stdout:\n{finished.stdout[-3000:]}\nstderr:\n{finished.stderr[-3000:]}"
    # 1 is a target missed (expected at a tiny size); anything else is the benchmark failing.
    assert finished.returncode in (0, 1), said
    assert "ratio" in finished.stdout, said
    for name in files:
        path = tmp_path / name
        assert path.exists(), (
            f"{script} wrote no {name}; it wrote {sorted(os.listdir(tmp_path))}\n{said}"
        )
        result = json.loads(path.read_text())
        assert result["backend"] == "sqlite"
        assert result["peak_rss_mb"] > 0
        assert result["measurements"], f"{name} holds no measurement"
        for measurement in result["measurements"]:
            assert measurement["seconds"] > 0, measurement
            assert measurement["floor_seconds"] > 0, measurement
            assert measurement["ratio"] > 0, measurement
