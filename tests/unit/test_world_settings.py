"""The data folder's NIPR world (npnflow/sandbox/world_settings.py): written once with the
defaults, read by every command after, overridden per command only, and a bad line said."""

from __future__ import annotations

import datetime as dt

import pytest

from npnflow.demo.data_folder import demo_run_for
from npnflow.sandbox.generator import generate_world
from npnflow.sandbox.world_settings import (
    DEFAULT_PRODUCERS,
    WorldFileError,
    data_folder_world,
    world_npns,
)

DAY = dt.date(2026, 12, 7)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    return tmp_path


def test_the_first_use_writes_the_world_and_later_uses_read_it(data_dir):
    first = data_folder_world(today=DAY)
    assert first.created and first.settings.producers == DEFAULT_PRODUCERS
    assert first.settings.world_date == DAY
    text = (data_dir / "nipr_world.yaml").read_text()
    assert "producers: 200" in text and "world_date: 2026-12-07" in text

    # A day later the world is the same one: generated around the recorded date.
    later = data_folder_world(today=DAY + dt.timedelta(days=1))
    assert not later.created and later.settings == first.settings and later.overrides == ()


def test_an_option_overrides_for_one_command_and_says_so(data_dir):
    data_folder_world(today=DAY)
    chosen = data_folder_world(producers=150, today=DAY)
    assert chosen.settings.producers == 150
    assert chosen.overrides == ("150 producers (the data folder's world: 200)",)
    assert "producers: 200" in (data_dir / "nipr_world.yaml").read_text()


def test_options_on_a_new_data_folder_are_the_world_it_is_born_with(data_dir):
    born = data_folder_world(producers=150, seed=3, today=DAY)
    assert born.created and born.overrides == ()
    again = data_folder_world(today=DAY)
    assert (again.settings.producers, again.settings.seed) == (150, 3)


def test_an_analysts_edit_is_read_and_a_mistake_names_the_line(data_dir):
    (data_dir / "nipr_world.yaml").write_text(
        "seed: 9\nproducers: 80\nworld_date: 2026-11-30\nfrozen_today: 2026-12-01\n"
    )
    settings = data_folder_world(today=DAY).settings
    assert (settings.seed, settings.producers) == (9, 80)
    assert settings.frozen_today == dt.date(2026, 12, 1)

    (data_dir / "nipr_world.yaml").write_text("seed: 9\nproducers: many\n")
    with pytest.raises(WorldFileError, match="producers: 'many' is not a whole number"):
        data_folder_world(today=DAY)
    (data_dir / "nipr_world.yaml").write_text("seed: 9\nproducer: 80\n")
    with pytest.raises(WorldFileError, match="unknown setting"):
        data_folder_world(today=DAY)


def test_the_npns_listed_are_producers_nipr_knows():
    world = generate_world(seed=7, producers=40, today=DAY)
    listed = world_npns(world, limit=5)
    assert len(listed) == 5
    for producer in listed:
        known = world.producer(producer.npn)
        assert known is not None and not known.is_firm
        assert producer.resident_state == known.resident_state
        active = {lic.state for lic in known.licenses if lic.is_active}
        assert set(producer.licensed_states) == active


def test_the_demo_run_number_counts_the_rosters_earlier_runs_dropped(tmp_path):
    assert demo_run_for(tmp_path).number == 1
    assert demo_run_for(tmp_path).key("inbox/agent", "demo-roster-2026-12-07.csv") == (
        "inbox/agent/demo-roster-2026-12-07.csv"
    )
    folder = tmp_path / "inbox" / "agent"
    folder.mkdir(parents=True)
    (folder / "demo-roster-2026-12-07.csv").write_text("x")
    second = demo_run_for(tmp_path)
    assert second.number == 2 and second.continuing
    assert second.key("inbox/agent", "demo-roster-2026-12-07.csv") == (
        "inbox/agent/demo-roster-2026-12-07-run2.csv"
    )
