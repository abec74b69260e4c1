"""compliance_reports_sensor: after the daily sync judged the Appointed lines again, the two
reports that read the judgement are rebuilt through build_reports_job, once per judging run."""

import dagster as dg

from assets.keys import APPOINTMENT_STANDING_KEY
from pipelines.definitions import build_definitions


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    return sensor.evaluate_tick(context)


def test_a_new_standing_asks_for_the_compliance_reports_once():
    defs = build_definitions("local")
    sensor = defs.resolve_sensor_def("compliance_reports_sensor")
    assert sensor.job_name == "build_reports_job"
    with dg.DagsterInstance.ephemeral() as instance:
        nothing = _tick(sensor, instance, None)
        assert nothing.run_requests == []
        instance.report_runless_asset_event(dg.AssetMaterialization(APPOINTMENT_STANDING_KEY))
        first = _tick(sensor, instance, None)
        assert len(first.run_requests) == 1
        request = first.run_requests[0]
        assert request.run_key is not None and request.run_key.startswith("standing:")
        assert {key.to_user_string() for key in request.asset_selection or []} == {
            "rpt_appointments_at_risk",
            "rpt_sales_authorization",
        }
        # The cursor moved past that materialization: nothing more until the next one.
        assert _tick(sensor, instance, first.cursor).run_requests == []


def test_every_sensor_is_named_once_and_the_ui_starts_only_known_ones():
    # NPNFLOW_SENSORS_RUNNING is checked against SENSOR_NAMES when the code location loads:
    # a sensor missing there would fail `npnflow ui`'s location.
    from npnflow.cli import UI_SENSORS_RUNNING
    from pipelines.sensors import SENSOR_NAMES, build_sensors

    built = [sensor.name for sensor in build_sensors("local", {})]
    assert sorted(built) == sorted(SENSOR_NAMES)
    assert set(UI_SENSORS_RUNNING) <= set(SENSOR_NAMES)
    running = build_sensors("local", {"NPNFLOW_SENSORS_RUNNING": ",".join(UI_SENSORS_RUNNING)})
    assert {s.name for s in running if s.default_status == dg.DefaultSensorStatus.RUNNING} == set(
        UI_SENSORS_RUNNING
    )
