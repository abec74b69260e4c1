"""`npnflow can-sell` on a seeded database: Yes (exit 0) and No (exit 1) with every line's
reasons, and a clear refusal (exit 2) for what npnflow does not know."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from npnflow.cli import main
from support import compliance as c
from support import seed


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('can_sell') / 'npnflow.db'}"
    seed.seeded_database(url, c.book()).engine.dispose()
    return url


def _can_sell(url: str, *args: str):
    arguments = ["can-sell", "--state", c.STATE, "--cocode", c.COCODE, *args]
    return CliRunner().invoke(main, arguments, env={"NPNFLOW_DATABASE_URL": url})


def test_yes_exits_0_and_lists_each_line_of_the_category(database_url):
    result = _can_sell(database_url, "--npn", c.STANDS, "--category", "life", "--on", "2026-06-01")
    assert result.exit_code == 0, result.output
    first, *rest = result.output.splitlines()
    assert first.startswith("May Pat Producer 1001 (NPN 1001) sell Life in TX for ")
    assert first.endswith("(91234) on 2026-06-01? Yes")
    body = "\n".join(rest)
    assert "L1001TX" in body and "825" in body
    assert "Yes: line(s) 16 stand and are appointed with the company." in body
    assert "nan" not in result.output and "None" not in result.output


def test_no_exits_1_with_the_failing_answer(database_url):
    result = _can_sell(
        database_url, "--npn", c.LINE_INACTIVE, "--category", "Life", "--on", "2026-06-01"
    )
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0].endswith("? No")
    assert "No: no line of the category both stands" in result.output
    line_16 = next(line for line in result.output.splitlines() if line.strip().startswith("16 "))
    # Line, License, Class, Licensed in state, Line active, Resident, Appointed, Sells
    assert line_16.split()[3:8] == ["yes", "no", "yes", "yes", "no"]
    assert line_16.endswith("Line no longer active on the license")


def test_an_expired_license_is_a_no_from_the_day_after_it_expired(database_url):
    before = _can_sell(
        database_url, "--npn", c.LICENSE_EXPIRED, "--category", "Life", "--on", "2026-03-31"
    )
    after = _can_sell(
        database_url, "--npn", c.LICENSE_EXPIRED, "--category", "Life", "--on", "2026-04-01"
    )
    assert (before.exit_code, after.exit_code) == (0, 1)


def test_a_company_that_does_not_appoint_for_the_category_is_a_no(database_url):
    result = _can_sell(database_url, "--npn", c.STANDS, "--category", "Property")
    assert result.exit_code == 1
    assert "does not appoint for Property" in result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ("--npn", "99999999", "--category", "Life"),
            "NPN 99999999 is not a producer npnflow tracks",
        ),
        (
            ("--npn", c.STANDS, "--category", "Pet Grooming"),
            "Category 'Pet Grooming' is not an LOA category",
        ),
        (
            ("--npn", c.STANDS, "--category", "Life", "--on", "tomorrow"),
            "--on 'tomorrow' is not a date",
        ),
    ],
)
def test_what_npnflow_does_not_know_exits_2_with_what_to_do(database_url, args, says):
    result = _can_sell(database_url, *args)
    assert result.exit_code == 2, result.output
    assert says in result.output


def test_an_unknown_cocode_or_state_exits_2(database_url):
    arguments = ["can-sell", "--npn", c.STANDS, "--category", "Life"]
    env = {"NPNFLOW_DATABASE_URL": database_url}
    cocode = CliRunner().invoke(main, [*arguments, "--state", "TX", "--cocode", "00000"], env=env)
    state = CliRunner().invoke(main, [*arguments, "--state", "ZZ", "--cocode", c.COCODE], env=env)
    assert cocode.exit_code == 2 and "CoCode '00000' is not one of your companies" in cocode.output
    assert state.exit_code == 2 and "State 'ZZ' is not a jurisdiction" in state.output
