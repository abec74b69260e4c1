"""One NIPR world per data folder: the NPNs `npnflow sandbox-nipr npns` lists are the producers
the sandbox that `npnflow ui` and `npnflow demo` start answers for (Entity Info over HTTP), and
`npnflow ui` hands its `dagster dev` the sandbox's address and the walkthrough's sensors."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from npnflow.cli import UI_SENSORS_RUNNING, main, ui_environment
from npnflow.sandbox.server import ENTITY_INFO_PATH
from npnflow.sandbox.world_settings import data_folder_world, sandbox_for

pytestmark = [pytest.mark.sandbox]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    return tmp_path


def test_the_npns_listed_are_known_to_the_data_folders_sandbox(data_dir):
    listed = CliRunner().invoke(main, ["sandbox-nipr", "npns", "--limit", "3"])
    assert listed.exit_code == 0, listed.output
    assert "New NIPR world for" in listed.output  # the first use wrote the world
    assert (data_dir / "nipr_world.yaml").exists()
    rows = listed.output.splitlines()[3:]
    npns = [row.split()[0] for row in rows]
    assert len(npns) == 3 and all(npn.isdigit() for npn in npns)

    with sandbox_for(data_folder_world().settings) as sandbox:
        for npn in npns:
            reply = requests.get(
                f"{sandbox.base_url}{ENTITY_INFO_PATH}",
                params={"id_entity": npn},
                auth=sandbox.auth,
                timeout=10,
            )
            assert reply.ok and f"<NPN>{npn}</NPN>" in reply.text, reply.text[:300]


def test_an_option_differing_from_the_world_says_so(data_dir):
    CliRunner().invoke(main, ["sandbox-nipr", "npns", "--limit", "1"])
    other = CliRunner().invoke(main, ["sandbox-nipr", "--producers", "50", "npns", "--limit", "1"])
    assert other.exit_code == 0, other.output
    assert "50 producers (the data folder's world: 200)" in other.output
    assert "producers: 200" in (data_dir / "nipr_world.yaml").read_text()


def test_a_broken_world_file_is_said_and_refused(data_dir):
    (data_dir / "nipr_world.yaml").write_text("seed: seven\n")
    result = CliRunner().invoke(main, ["sandbox-nipr", "npns"])
    assert result.exit_code == 2
    assert "seed: 'seven' is not a whole number" in result.output


def test_the_ui_starts_the_walkthroughs_sensors_unless_told_otherwise():
    child = ui_environment({}, "http://127.0.0.1:8790")
    assert child["NPNFLOW_NIPR_SANDBOX_URL"] == "http://127.0.0.1:8790"
    assert child["NPNFLOW_SENSORS_RUNNING"].split(",") == list(UI_SENSORS_RUNNING)
    assert child["NPNFLOW_SENSOR_INTERVAL_SECONDS"] == "5"
    chosen = ui_environment({"NPNFLOW_SENSORS_RUNNING": "inbox_file_sensor"}, None)
    assert chosen["NPNFLOW_SENSORS_RUNNING"] == "inbox_file_sensor"
    assert "NPNFLOW_NIPR_SANDBOX_URL" not in chosen
