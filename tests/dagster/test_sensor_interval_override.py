"""NPNFLOW_SENSOR_INTERVAL_SECONDS: one minimum interval for every sensor (tests driving a real
daemon); unset, each sensor keeps its own; anything but a whole number of seconds fails loudly."""

from __future__ import annotations

import pytest

from pipelines.sensors import (
    APPROVED_SENSOR_INTERVAL_SECONDS,
    INBOX_SENSOR_INTERVAL_SECONDS,
    POLL_SENSOR_INTERVAL_SECONDS,
    SensorConfigError,
    build_sensors,
)


def intervals(environ: dict[str, str]) -> dict[str, int | None]:
    return {s.name: s.minimum_interval_seconds for s in build_sensors("ci", environ)}


def test_unset_keeps_each_sensors_interval():
    got = intervals({})
    assert got["inbox_file_sensor"] == INBOX_SENSOR_INTERVAL_SECONDS == 30
    assert got["approved_batch_sensor"] == APPROVED_SENSOR_INTERVAL_SECONDS
    assert got["submitted_batches_poll_sensor"] == POLL_SENSOR_INTERVAL_SECONDS == 15 * 60
    assert intervals({"NPNFLOW_SENSOR_INTERVAL_SECONDS": " "}) == got


def test_the_override_applies_to_every_sensor():
    got = intervals({"NPNFLOW_SENSOR_INTERVAL_SECONDS": "3"})
    assert set(got.values()) == {3}
    assert len(got) == 6


@pytest.mark.parametrize("value", ["0", "-5", "2.5", "soon"])
def test_a_bad_value_names_the_variable(value):
    with pytest.raises(SensorConfigError, match="NPNFLOW_SENSOR_INTERVAL_SECONDS"):
        build_sensors("ci", {"NPNFLOW_SENSOR_INTERVAL_SECONDS": value})
