"""docs/configuration.md against the code, both ways, so the reference cannot drift.

Plain file reading (no Dagster, no database). What the code reads: the string constants of
pipelines/, resources/ and npnflow/ that name a variable (`NPNFLOW_…`, `NIPR_…`, `DAGSTER_…`,
`DBT_…`, `GX_…`; environments.py's among them), the `env:` references of the deploy/ instance
files, what dbt_reports/profiles.yml asks of `env_var()`, and the variables the deployment
files pass on. What the page documents: the first column of its tables.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
NAMING = re.compile(r"(?:NPNFLOW|NIPR|DAGSTER|DBT|GX)_[A-Z0-9_]+")
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|", re.MULTILINE)
# The Python that reads the environment. npnflow/sandbox is a stand-in NIPR server and
# resources/nipr_gateway_xml.py writes and reads NIPR's Gateway documents: their constants are
# XML tag names (NIPR_TRANS ...), not settings.
CODE_DIRS = ("pipelines", "resources", "npnflow")
XML_TAG_MODULES = ("nipr_gateway_xml.py",)
# Python beyond them that reads a documented variable: the checks (GX), the test fixtures.
OTHER_PYTHON = ("schemas/expectations.py", "tests/conftest.py")
# Files that set, pass on or template variables rather than read them in Python.
SETTING_FILES = (
    "Makefile",
    ".ci/run",
    "deploy/Dockerfile",
    "deploy/docker-compose.yaml",
    "deploy/dagster.yaml",
    "deploy/dagster-docker.yaml",
    "deploy/npnflow.env.example",
    "deploy/dagster.env.example",
    "dbt_reports/profiles.yml",
)
INSTANCE_FILES = ("deploy/dagster.yaml", "deploy/dagster-docker.yaml")
ENV_FILES = ("deploy/npnflow.env.example", "deploy/dagster.env.example")


def documented() -> set[str]:
    return set(ROW.findall(DOC.read_text(encoding="utf-8")))


def _python_files() -> list[Path]:
    files = [
        p
        for d in CODE_DIRS
        for p in (ROOT / d).rglob("*.py")
        if "sandbox" not in p.parts and p.name not in XML_TAG_MODULES
    ]
    return files + [ROOT / p for p in OTHER_PYTHON]


def string_constants(files: list[Path]) -> set[str]:
    """Every string literal that is a whole upper-case name (docstrings never are)."""
    found = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"[A-Z][A-Z0-9_]*", node.value)
            ):
                found.add(node.value)
    return found


def words_outside_comments(path: Path) -> set[str]:
    text = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
    return set(re.findall(r"[A-Z][A-Z0-9_]+", text))


def env_references(node: object) -> set[str]:
    """The `{env: NAME}` values of a Dagster instance file."""
    if isinstance(node, dict):
        found = {node["env"]} if isinstance(node.get("env"), str) else set()
        return found.union(*(env_references(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(env_references(v) for v in node))
    return set()


def env_file_names(path: Path) -> set[str]:
    return {
        line.split("=", 1)[0].strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }


def read_by_code() -> set[str]:
    names = {c for c in string_constants(_python_files()) if NAMING.fullmatch(c)}
    for name in INSTANCE_FILES:
        config = yaml.safe_load((ROOT / name).read_text())
        names |= env_references(config)
        names |= set(config.get("run_launcher", {}).get("config", {}).get("env_vars", []))
    profiles = (ROOT / "dbt_reports" / "profiles.yml").read_text()
    names |= set(re.findall(r"env_var\('([A-Z0-9_]+)'", profiles))
    for name in ENV_FILES:
        names |= env_file_names(ROOT / name)
    return names


def test_the_scan_finds_what_environments_py_reads():
    # Guards the scan itself: if it stopped finding variables, the next tests would pass empty.
    assert {
        "NPNFLOW_ENV",
        "DAGSTER_DEPLOYMENT",
        "NPNFLOW_DATABASE_URL",
        "NIPR_USERNAME",
        "NIPR_PASSWORD",
        "NIPR_GATEWAY_CUSTOMER_ID",
        "NPNFLOW_S3_BUCKET",
        "NPNFLOW_S3_SECRET_ACCESS_KEY",
        "NPNFLOW_NIPR_SANDBOX_URL",
        "DAGSTER_PG_PASSWORD",
        "NPNFLOW_DBT_PG_HOST",
    } <= read_by_code()
    assert len(documented()) > 40


def test_every_variable_the_code_reads_is_documented():
    missing = sorted(read_by_code() - documented())
    assert not missing, f"read by the code but not in docs/configuration.md: {missing}"


def test_every_documented_variable_exists_in_the_code():
    known = string_constants(_python_files())
    for name in SETTING_FILES:
        known |= words_outside_comments(ROOT / name)
    unknown = sorted(documented() - known)
    assert not unknown, f"in docs/configuration.md but nowhere in the code: {unknown}"


def test_each_variable_is_documented_once():
    rows = ROW.findall(DOC.read_text(encoding="utf-8"))
    assert len(rows) == len(set(rows)), sorted({r for r in rows if rows.count(r) > 1})
