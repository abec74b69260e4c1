"""config/portals.yaml: the shipped sample loads, and each mistake is reported with the file,
the portal and the value, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assets.portal.portal_config import PORTAL_COLUMNS, load_portal_config
from assets.reference.loading import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def _write(folder: Path, portals: object) -> Path:
    (folder / "portals.yaml").write_text(yaml.safe_dump({"portals": portals}))
    return folder


def _problems(folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_portal_config(folder)
    return [str(p) for p in caught.value.problems]


GOOD = {
    "portal_id": "agents",
    "portal_name": "Agent Portal",
    "seats_total": 10,
    "registration_url": "https://agents.example/register",
}


def test_the_shipped_sample_loads() -> None:
    frame = load_portal_config(CONFIG_DIR)

    assert frame is not None
    assert list(frame.columns) == list(PORTAL_COLUMNS)
    assert len(frame) >= 2
    assert (frame["seats_total"] > 0).all()
    assert frame["registration_url"].str.startswith("https://").all()
    # Fictional: the reserved .example domain never resolves.
    assert frame["registration_url"].str.contains(r"\.example/").all()


def test_no_file_means_no_change(tmp_path: Path) -> None:
    assert load_portal_config(tmp_path) is None


def test_an_empty_list_means_no_portals(tmp_path: Path) -> None:
    (tmp_path / "portals.yaml").write_text("portals:\n")
    frame = load_portal_config(tmp_path)
    assert frame is not None and frame.empty


def test_names_are_tidied_and_seats_are_whole_numbers(tmp_path: Path) -> None:
    frame = load_portal_config(_write(tmp_path, [{**GOOD, "portal_name": "  Agent   Portal "}]))

    assert frame.to_dict("records") == [{**GOOD, "portal_name": "Agent Portal"}]
    assert str(frame["seats_total"].dtype) == "int64"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, [
        {**GOOD, "seats_total": -1},
        {**GOOD, "portal_id": "bad id!", "portal_name": "Other"},
        {"portal_id": "no-name", "seats_total": "ten", "registration_url": "ftp://x.example/"},
        {**GOOD, "portal_id": "plain", "portal_name": "Plain",
         "registration_url": "http://plain.example/register", "colour": "blue"},
        "not a mapping",
    ]))  # fmt: skip

    assert problems == [
        "portals.yaml: portal agents: seats_total -1 must be a whole number, 0 or more",
        "portals.yaml: portal bad id!: portal_id 'bad id!' must be letters, digits, '-', '_' or "
        "'.' (up to 64), starting with a letter or digit",
        "portals.yaml: portal no-name: portal_name is required",
        "portals.yaml: portal no-name: seats_total 'ten' must be a whole number, 0 or more",
        "portals.yaml: portal no-name: registration_url 'ftp://x.example/' must be a web address "
        "(https://...)",
        "portals.yaml: portal plain: unknown key 'colour' (expected portal_id, portal_name, "
        "seats_total, registration_url)",
        "portals.yaml: portal plain: registration_url 'http://plain.example/register' must use "
        "https: the invitation link carries the producer's registration token",
        "portals.yaml: portals[5]: each portal must be a mapping of keys to values",
    ]


def test_ids_and_names_must_not_be_ambiguous(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, [
        GOOD,
        {**GOOD, "portal_id": "AGENTS", "portal_name": "Second"},
        {**GOOD, "portal_id": "third", "portal_name": "agent portal"},
        {**GOOD, "portal_id": "fourth", "portal_name": "Agents"},
    ]))  # fmt: skip

    assert problems == [
        "portals.yaml: portal AGENTS: portal_id 'AGENTS' is used twice (also portal agents)",
        "portals.yaml: portal third: portal_name 'agent portal' is used twice (also portal agents)",
        "portals.yaml: portal fourth: portal_name 'Agents' is the portal_id of portal agents: "
        "a request naming it would be ambiguous",
    ]


def test_a_loopback_registration_page_may_use_http(tmp_path: Path) -> None:
    local = {**GOOD, "registration_url": "http://127.0.0.1:8000/register"}
    assert len(load_portal_config(_write(tmp_path, [local]))) == 1


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "portals.yaml").write_text("portals:\n  - portal_id: a\n   portal_name: b\n")

    (problem,) = _problems(tmp_path)
    assert problem.startswith("portals.yaml: line 3, column 4: YAML syntax error")


def test_a_file_without_the_portals_list_says_what_it_expects(tmp_path: Path) -> None:
    (tmp_path / "portals.yaml").write_text("- portal_id: a\n")

    assert _problems(tmp_path) == [
        "portals.yaml: expected a top-level 'portals:' list (see the comments at the top of the "
        "shipped file)"
    ]
