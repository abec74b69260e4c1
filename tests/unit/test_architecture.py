"""The floor plan, held still: imports point down and modules stay small enough to read.

Read from the source files with `ast` (nothing is imported or run):

- `resources/` and `schemas/` import neither `assets`, `pipelines` nor `npnflow`;
- `assets/` imports neither `pipelines` nor `npnflow`, and no domain imports another domain's
  `assets.py` (the shared names are in `assets/keys.py`);
- `assets/appointments` and `assets/terminations` do not import each other;
- `pipelines/` does not import `npnflow` (the CLI, the demo and the sandbox sit on top);
- no product module (migrations aside) is over 600 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("assets", "resources", "schemas", "pipelines", "npnflow")
MAX_LINES = 600


def modules(*tops: str) -> list[Path]:
    return sorted(
        path
        for top in tops
        for path in (ROOT / top).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """Every module name an import statement of the file names (`from a.b import c` gives
    `a.b` and `a.b.c`), with its line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def domain_of(path: Path) -> str | None:
    parts = path.relative_to(ROOT).parts
    return parts[1] if parts[0] == "assets" and len(parts) > 2 else None


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("resources", ("assets", "pipelines", "npnflow")),
        ("schemas", ("assets", "pipelines", "npnflow")),
        ("assets", ("pipelines", "npnflow")),
        ("pipelines", ("npnflow",)),
    ],
)
def test_imports_point_down(layer: str, forbidden: tuple[str, ...]) -> None:
    upward = [
        f"{where(path, line)} imports {name}"
        for path in modules(layer)
        for name, line in imported(path)
        if name.split(".")[0] in forbidden
    ]
    assert not upward, "imports that point up:\n" + "\n".join(sorted(set(upward)))


def test_no_domain_imports_another_domain_s_assets_module() -> None:
    crossing = [
        f"{where(path, line)} imports {name}"
        for path in modules("assets")
        for name, line in imported(path)
        if (parts := name.split("."))[0] == "assets"
        and len(parts) >= 3
        and parts[2] == "assets"
        and parts[1] != domain_of(path)
    ]
    assert not crossing, "use assets/keys.py instead:\n" + "\n".join(sorted(set(crossing)))


@pytest.mark.parametrize(
    ("domain", "other"), [("appointments", "terminations"), ("terminations", "appointments")]
)
def test_appointments_and_terminations_do_not_import_each_other(domain: str, other: str) -> None:
    found = [
        f"{where(path, line)} imports {name}"
        for path in modules(f"assets/{domain}")
        for name, line in imported(path)
        if name.startswith(f"assets.{other}")
    ]
    assert not found, "\n".join(sorted(set(found)))


def test_no_product_module_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in modules(*PRODUCT)
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split by what the parts do (at most {MAX_LINES} lines): {long}"


def test_the_scan_sees_the_product() -> None:
    # Guards the scans above: an empty file list would make every test pass.
    names = {str(p.relative_to(ROOT)) for p in modules(*PRODUCT)}
    assert {"assets/keys.py", "resources/database.py", "schemas/tables.py"} <= names
    assert any(name == "assets.keys" for name, _ in imported(ROOT / "pipelines" / "jobs.py"))
