"""tests/support's waiting: deadlines scale with NPNFLOW_TEST_TIME_SCALE, and a timeout says
what was awaited and what the last poll saw."""

from __future__ import annotations

import pytest

from support.waiting import scaled, time_scale, wait_until


def test_the_scale_defaults_to_three_and_follows_the_variable(monkeypatch):
    monkeypatch.delenv("NPNFLOW_TEST_TIME_SCALE", raising=False)
    assert time_scale() == 3 and scaled(60) == 180
    monkeypatch.setenv("NPNFLOW_TEST_TIME_SCALE", "0.5")
    assert scaled(60) == 30
    monkeypatch.setenv("NPNFLOW_TEST_TIME_SCALE", "fast")
    with pytest.raises(ValueError, match="NPNFLOW_TEST_TIME_SCALE='fast' is not a number"):
        time_scale()


def test_wait_until_returns_the_first_truthy_value_and_skips_ignored_errors():
    answers = iter([ConnectionError("still starting"), [], ["run-1"]])

    def poll():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    found = wait_until(poll, "a run", 5, interval=0, ignore=(ConnectionError,))
    assert found == ["run-1"]


def test_a_timeout_names_what_was_awaited_and_what_was_last_seen(monkeypatch):
    monkeypatch.setenv("NPNFLOW_TEST_TIME_SCALE", "0.01")
    with pytest.raises(AssertionError) as timed_out:
        wait_until(
            lambda: [],
            "the batch to complete",
            1,
            interval=0,
            describe=lambda: "batch B-1: Submitted",
        )
    message = str(timed_out.value)
    assert "waiting for the batch to complete; last seen: []" in message
    assert "NPNFLOW_TEST_TIME_SCALE=0.01" in message and "batch B-1: Submitted" in message


def test_check_stops_the_wait_at_once():
    def dead():
        raise AssertionError("dagster-daemon exited with status 1")

    with pytest.raises(AssertionError, match="dagster-daemon exited"):
        wait_until(lambda: False, "anything", 60, check=dead)
