"""The one composition root loads in every environment, with the asset graph a user expects."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.environments import ENVIRONMENTS, UnknownEnvironment, current_environment
from pipelines.schedules import ScheduleConfigError
from resources.database import OperationalDatabase
from resources.mailer import OutboxFolderMailer, SmtpMailer
from resources.nipr import NiprClient

REFERENCE_KEYS = {
    f"core_reference__{t}"
    for t in (
        "jurisdictions",
        "license_classes",
        "lines_of_authority",
        "license_class_loas",
        "producer_license_classes",
        "loa_categories",
        "termination_reasons",
        "state_termination_reasons",
        "state_fees",
        "state_appointment_rules",
    )
}
COMPANY_KEYS = {
    f"core_config__{t}"
    for t in (
        "companies",
        "company_loa_categories",
        "company_state_settings",
        "gateway_business_rules",
    )
}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_definitions_load_in_every_environment(environment):
    defs = build_definitions(environment)
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert keys >= REFERENCE_KEYS | COMPANY_KEYS
    assert defs.resolve_job_def("load_reference_data_job") is not None
    assert set(defs.resources) >= {"database", "object_store", "nipr", "mailer"}


def test_asset_groups_and_lineage():
    graph = build_definitions("local").get_repository_def().asset_graph
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {groups[k] for k in REFERENCE_KEYS} == {"reference"}
    assert {groups[k] for k in COMPANY_KEYS} == {"company_config"}
    # The company setup is validated against the reference tables it reads.
    companies = graph.get(dg.AssetKey("core_config__companies"))
    assert dg.AssetKey("core_reference__jurisdictions") in companies.parent_keys


def test_production_secrets_are_environment_variables_not_values():
    resources = build_definitions("prod").resources
    nipr = resources["nipr"]
    assert isinstance(nipr, NiprClient)
    # EnvVar fields stay unresolved until a run starts: the password is never in the definitions.
    assert nipr.password == dg.EnvVar("NIPR_PASSWORD")
    assert nipr.username == dg.EnvVar("NIPR_USERNAME")
    assert "api.nipr.com" in nipr.gateway_base_url
    database = resources["database"]
    assert isinstance(database, OperationalDatabase)
    assert database.url == dg.EnvVar("NPNFLOW_DATABASE_URL")


def test_local_environment_uses_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NPNFLOW_DATABASE_URL", raising=False)
    resources = build_definitions("local").resources
    assert resources["database"].url == f"sqlite:///{tmp_path / 'npnflow.db'}"
    assert resources["object_store"].root == str(tmp_path / "bucket")
    assert resources["nipr"].pdb_base_url.startswith("http://127.0.0.1")


def test_unknown_environment_fails_loudly():
    with pytest.raises(UnknownEnvironment, match="staging"):
        current_environment({"NPNFLOW_ENV": "staging"})
    assert current_environment({}) == "local"
    assert current_environment({"DAGSTER_DEPLOYMENT": "prod"}) == "prod"


NIPR_DAILY_KEYS = {
    "raw_nipr__pdb_alerts",
    "core_nipr__producers",
    "core_nipr__licenses",
    "core_nipr__license_loas",
    "core_nipr__appointments",
}
NIPR_KEYS = NIPR_DAILY_KEYS | {"core_nipr__initial_sync", "core_nipr__subscriptions"}
# Judged after each daily sync, in the same job (issue 18).
COMPLIANCE_DAILY_KEYS = {"compliance__appointment_standing", "compliance__sales_authorization"}


def test_nipr_sync_assets_jobs_and_schedules_are_registered():
    defs = build_definitions("local")
    graph = defs.get_repository_def().asset_graph
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {groups[k] for k in NIPR_KEYS} == {"nipr"}
    licenses = graph.get(dg.AssetKey("core_nipr__licenses"))
    assert dg.AssetKey("raw_nipr__pdb_alerts") in licenses.parent_keys
    assert licenses.partitions_def == graph.get(dg.AssetKey("raw_nipr__pdb_alerts")).partitions_def
    subscriptions = graph.get(dg.AssetKey("core_nipr__subscriptions"))
    assert dg.AssetKey("core_nipr__initial_sync") in subscriptions.parent_keys

    daily = defs.resolve_job_def("daily_nipr_sync_job")
    assert {k.to_user_string() for k in daily.asset_layer.executable_asset_keys} == (
        NIPR_DAILY_KEYS | COMPLIANCE_DAILY_KEYS | {"compliance__at_risk_digest"}
    )
    new_producers = defs.resolve_job_def("sync_new_producers_job")
    assert {k.to_user_string() for k in new_producers.asset_layer.executable_asset_keys} == {
        "core_nipr__initial_sync",
        "core_nipr__subscriptions",
    }
    schedule = defs.resolve_schedule_def("daily_nipr_sync_schedule")
    assert schedule.cron_schedule == "30 10 * * 1-6"
    assert schedule.execution_timezone == "America/Chicago"
    assert schedule.job_name == "daily_nipr_sync_job"
    assert defs.resolve_schedule_def("sync_new_producers_schedule").job_name == (
        "sync_new_producers_job"
    )


def test_daily_schedule_requests_the_partition_of_its_own_day():
    defs = build_definitions("local")
    schedule = defs.resolve_schedule_def("daily_nipr_sync_schedule")
    tick = dt.datetime(2026, 3, 10, 10, 30, tzinfo=ZoneInfo("America/Chicago"))
    context = dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    )
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2026-03-10"
    assert request.run_key == "2026-03-10"


def test_schedule_is_configurable_from_the_environment(monkeypatch):
    monkeypatch.setenv("NPNFLOW_NIPR_SYNC_CRON", "15 11 * * 1-5")
    monkeypatch.setenv("NPNFLOW_NIPR_SYNC_TIMEZONE", "America/New_York")
    defs = build_definitions("local")
    schedule = defs.resolve_schedule_def("daily_nipr_sync_schedule")
    assert schedule.cron_schedule == "15 11 * * 1-5"
    assert schedule.execution_timezone == "America/New_York"
    # An evening tick in New York is still that day in Chicago: the same report day.
    tick = dt.datetime(2026, 3, 10, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    context = dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    )
    assert schedule.evaluate_tick(context).run_requests[0].partition_key == "2026-03-10"


@pytest.mark.parametrize(
    ("name", "value"),
    [("NPNFLOW_NIPR_SYNC_CRON", "every morning"), ("NPNFLOW_NIPR_SYNC_TIMEZONE", "Mars/Olympus")],
)
def test_a_bad_schedule_setting_fails_loudly_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ScheduleConfigError, match=name):
        build_definitions("local")


def test_schedules_run_by_themselves_only_in_production():
    local = build_definitions("local").resolve_schedule_def("daily_nipr_sync_schedule")
    prod = build_definitions("prod").resolve_schedule_def("daily_nipr_sync_schedule")
    assert local.default_status == dg.DefaultScheduleStatus.STOPPED
    assert prod.default_status == dg.DefaultScheduleStatus.RUNNING


UPLOAD_KEYS = {"raw_uploads__file", "core_uploads__validated", "core_onboarding__producers"}


def test_upload_assets_job_and_sensors_are_registered():
    defs = build_definitions("local")
    graph = defs.get_repository_def().asset_graph
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {k: groups[k] for k in UPLOAD_KEYS} == {
        "raw_uploads__file": "uploads",
        "core_uploads__validated": "uploads",
        "core_onboarding__producers": "onboarding",
    }
    for key in UPLOAD_KEYS:
        partitions = graph.get(dg.AssetKey(key)).partitions_def
        assert isinstance(partitions, dg.DynamicPartitionsDefinition)
        assert partitions.name == "uploads"
    onboarding = graph.get(dg.AssetKey("core_onboarding__producers"))
    assert dg.AssetKey("core_uploads__validated") in onboarding.parent_keys
    job = defs.resolve_job_def("process_upload_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == (
        UPLOAD_KEYS
        | APPOINTMENT_KEYS
        | TERMINATION_KEYS
        | PORTAL_UPLOAD_KEYS
        | OFFBOARDING_KEYS
        | JIT_KEYS
    )
    assert defs.resolve_sensor_def("inbox_file_sensor").job_name == "process_upload_job"
    assert defs.resolve_sensor_def("onboarded_producers_sensor").job_name == (
        "sync_new_producers_job"
    )


APPOINTMENT_KEYS = {"core_appointments__transactions", "core_appointments__batches"}
TERMINATION_KEYS = {"core_terminations__transactions", "core_terminations__batches"}
PORTAL_UPLOAD_KEYS = {"core_portal__invitations"}
OFFBOARDING_KEYS = {"core_offboarding__producers"}
JIT_KEYS = {"core_jit__released"}


def test_jit_release_asset_and_job_are_registered():
    """A jit_release file is followed in the UI like the others (partition per file), and
    release_jit_job is on the Launchpad."""
    defs = build_definitions("local")
    graph = defs.get_repository_def().asset_graph
    released = graph.get(dg.AssetKey("core_jit__released"))
    assert released.group_name == "jit"
    assert dg.AssetKey("core_uploads__validated") in released.parent_keys
    assert released.partitions_def.name == "uploads"
    job = defs.resolve_job_def("release_jit_job")
    assert [node.name for node in job.nodes] == ["release_named_jit_lines"]
    assert job.tags.get("npnflow/action") == "jit_release"
    config = job.run_config_schema.config_type.fields["ops"].config_type.fields
    op_config = config["release_named_jit_lines"].config_type.fields["config"].config_type
    assert set(op_config.fields) == {
        "released_by",
        "transaction_ids",
        "npn",
        "state",
        "cocode",
        "loa_category",
        "business_date",
    }
    required = {name for name, f in op_config.fields.items() if f.is_required}
    assert required == {"released_by"}


def test_offboarding_asset_and_job_are_registered():
    """An offboard file is followed in the UI like the others (partition per file), and
    offboard_producers_job is on the Launchpad."""
    defs = build_definitions("local")
    graph = defs.get_repository_def().asset_graph
    offboarding = graph.get(dg.AssetKey("core_offboarding__producers"))
    assert offboarding.group_name == "offboarding"
    assert dg.AssetKey("core_uploads__validated") in offboarding.parent_keys
    assert offboarding.partitions_def.name == "uploads"
    job = defs.resolve_job_def("offboard_producers_job")
    assert [node.name for node in job.nodes] == ["offboard_named_producers"]
    assert job.tags.get("npnflow/action") == "offboard"
    config = job.run_config_schema.config_type.fields["ops"].config_type.fields
    op_config = config["offboard_named_producers"].config_type.fields["config"].config_type
    assert set(op_config.fields) == {
        "npns",
        "offboarded_by",
        "reason",
        "effective_date",
        "cocodes",
        "submit_immediately",
    }
    required = {name for name, f in op_config.fields.items() if f.is_required}
    assert required == {"npns", "offboarded_by"}


def test_appointment_and_submission_assets_jobs_and_sensors_are_registered():
    """A dropped appoint file can be followed in the UI: upload -> transactions -> batches ->
    submissions (a partition per batch), with the jobs and sensors that move it along."""
    defs = build_definitions("local")
    graph = defs.get_repository_def().asset_graph
    transactions = graph.get(dg.AssetKey("core_appointments__transactions"))
    batches = graph.get(dg.AssetKey("core_appointments__batches"))
    submissions = graph.get(dg.AssetKey("out_nipr__gateway_submissions"))
    assert transactions.group_name == batches.group_name == "appointments"
    assert submissions.group_name == "submissions"
    assert dg.AssetKey("core_uploads__validated") in transactions.parent_keys
    assert dg.AssetKey("core_appointments__transactions") in batches.parent_keys
    assert dg.AssetKey("core_appointments__batches") in submissions.parent_keys
    assert transactions.partitions_def.name == batches.partitions_def.name == "uploads"
    assert submissions.partitions_def.name == "batches"
    submit = defs.resolve_job_def("submit_batch_job")
    assert {k.to_user_string() for k in submit.asset_layer.executable_asset_keys} == {
        "out_nipr__gateway_submissions"
    }
    assert defs.resolve_job_def("approve_batch_job") is not None
    # NIPR down: the submission step tries again in the same run, looking up before resending.
    step = next(iter(submit.graph.node_defs))
    assert step.retry_policy is not None and step.retry_policy.max_retries >= 1
    assert defs.resolve_sensor_def("approved_batch_sensor").job_name == "submit_batch_job"
    assert defs.resolve_sensor_def("submitted_batches_poll_sensor").job_name == "submit_batch_job"


def test_the_gateway_credentials_are_environment_variables_in_prod():
    gateway = build_definitions("prod").resources["nipr_gateway"]
    assert gateway.username == dg.EnvVar("NIPR_USERNAME")
    assert gateway.password == dg.EnvVar("NIPR_PASSWORD")
    assert gateway.customer_id == dg.EnvVar("NIPR_GATEWAY_CUSTOMER_ID")
    assert "api.nipr.com" in gateway.base_url
    local = build_definitions("local").resources["nipr_gateway"]
    assert local.base_url.startswith("http://127.0.0.1")


def test_the_gateway_submitter_comes_from_the_environment_in_prod_and_nipr_sample_locally():
    gateway = build_definitions("prod").resources["nipr_gateway"]
    assert gateway.entity_id == dg.EnvVar("NIPR_GATEWAY_ENTITY_ID")
    assert gateway.payment_account_id == dg.EnvVar("NIPR_GATEWAY_PAYMENT_ACCOUNT_ID")
    assert gateway.payment_type == dg.EnvVar("NIPR_GATEWAY_PAYMENT_TYPE")
    assert gateway.authorizer_last_name == dg.EnvVar("NIPR_GATEWAY_AUTHORIZER_LAST_NAME")
    assert gateway.authorizer_zip_code == dg.EnvVar("NIPR_GATEWAY_AUTHORIZER_ZIP_CODE")
    # The sandbox gets the submitter of NIPR's sample request (its PAYMENT and AUTHORIZATION).
    local = build_definitions("local").resources["nipr_gateway"].submitter()
    assert (local.payment_account_id, local.payment_type) == ("001", "2")
    assert (local.first_name, local.last_name, local.title) == ("Joe", "Submitter", "Coordinator")


def test_the_ssn_key_is_an_environment_variable_when_set(monkeypatch):
    monkeypatch.delenv("NPNFLOW_SSN_KEY", raising=False)
    assert build_definitions("local").resources["ssn_vault"].key is None
    monkeypatch.setenv("NPNFLOW_SSN_KEY", "a-key-that-must-not-be-copied")
    for environment in ENVIRONMENTS:
        vault = build_definitions(environment).resources["ssn_vault"]
        assert vault.key == dg.EnvVar("NPNFLOW_SSN_KEY")


def test_termination_assets_follow_the_upload_and_feed_the_same_submission():
    graph = build_definitions("local").get_repository_def().asset_graph
    transactions = graph.get(dg.AssetKey("core_terminations__transactions"))
    batches = graph.get(dg.AssetKey("core_terminations__batches"))
    submissions = graph.get(dg.AssetKey("out_nipr__gateway_submissions"))
    assert transactions.group_name == batches.group_name == "terminations"
    assert dg.AssetKey("core_uploads__validated") in transactions.parent_keys
    assert dg.AssetKey("core_terminations__transactions") in batches.parent_keys
    assert dg.AssetKey("core_terminations__batches") in submissions.parent_keys
    assert transactions.partitions_def.name == batches.partitions_def.name == "uploads"


def test_portal_invitations_follow_the_upload_and_the_portal_setup():
    defs = build_definitions("local")
    graph = defs.get_repository_def().asset_graph
    invitations = graph.get(dg.AssetKey("core_portal__invitations"))
    portals = graph.get(dg.AssetKey("core_config__portals"))
    assert invitations.group_name == "portal"
    assert invitations.partitions_def.name == "uploads"
    assert invitations.parent_keys == {
        dg.AssetKey("core_uploads__validated"),
        dg.AssetKey("core_config__portals"),
    }
    # The portal setup loads with the company setup.
    assert portals.group_name == "company_config"
    loaded = defs.resolve_job_def("load_reference_data_job").asset_layer.executable_asset_keys
    assert dg.AssetKey("core_config__portals") in loaded
    # Launchpad: NPNs, a portal and who invites.
    job = defs.resolve_job_def("invite_to_portal_job")
    config = job.run_config_schema.config_type.fields["ops"].config_type.fields
    op_config = config["invite_producers_to_portal"].config_type.fields["config"].config_type
    assert set(op_config.fields) == {"npns", "portal", "invited_by", "resend_unconfirmed"}
    assert not op_config.fields["resend_unconfirmed"].is_required
    assert op_config.fields["invited_by"].is_required  # who invites is never left out


def test_the_mailer_writes_an_outbox_locally_and_uses_smtp_from_environment_variables_in_prod(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NPNFLOW_OUTBOX_DIR", raising=False)
    for environment in ("local", "ci"):
        mailer = build_definitions(environment).resources["mailer"]
        assert isinstance(mailer, OutboxFolderMailer)
        assert mailer.folder == str(tmp_path / "outbox")
    monkeypatch.setenv("NPNFLOW_SMTP_PASSWORD", "a-password-that-must-not-be-copied")
    monkeypatch.setenv("NPNFLOW_SMTP_USERNAME", "npnflow")
    smtp = build_definitions("prod").resources["mailer"]
    assert isinstance(smtp, SmtpMailer)
    assert smtp.host == dg.EnvVar("NPNFLOW_SMTP_HOST")
    assert smtp.password == dg.EnvVar("NPNFLOW_SMTP_PASSWORD")
    assert smtp.from_address == dg.EnvVar("NPNFLOW_SMTP_FROM")
    assert "a-password-that-must-not-be-copied" not in repr(smtp)


def test_the_weekly_quality_schedule_runs_the_checks_alone_on_sunday():
    local = build_definitions("local")
    schedule = local.resolve_schedule_def("weekly_nipr_quality_schedule")
    assert schedule.job_name == "check_nipr_current_state_job"
    assert schedule.cron_schedule == "0 4 * * 0"
    assert schedule.execution_timezone == "America/Chicago"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    prod = build_definitions("prod").resolve_schedule_def("weekly_nipr_quality_schedule")
    assert prod.default_status == dg.DefaultScheduleStatus.RUNNING
    # The checks without their assets: with nothing applied in the run, whole tables.
    job = local.resolve_job_def("check_nipr_current_state_job")
    assert not job.asset_layer.executable_asset_keys
    assert {key.name for key in job.asset_layer.asset_graph.asset_check_keys} == {
        f"{table}_meets_expectations"
        for table in ("producers", "licenses", "license_loas", "appointments")
    }
    tick = dt.datetime(2026, 3, 8, 4, tzinfo=ZoneInfo("America/Chicago"))
    context = dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=local.get_repository_def()
    )
    assert len(schedule.evaluate_tick(context).run_requests) == 1
