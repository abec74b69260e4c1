"""One license number under several classes, over HTTP from the NIPR sandbox (issue 14,
ADR 0023): NIPR's real data files one number under more than one class, so the sandbox does
too (`npnflow/sandbox/building.py`, SHARED_NUMBER_EVERY), and the client, the parser and the
applier keep each class's lines with their own class and status."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import pytest

from assets.nipr.current_state import CurrentRows, apply_report
from assets.nipr.parsing import parse_pdb_report
from npnflow.sandbox.server import NiprSandbox
from resources.nipr import NiprClient
from schemas.nipr_frames import validate_parsed_report
from support.sandbox import client_settings, sandbox_fixture

pytestmark = pytest.mark.sandbox

TODAY = datetime(2025, 3, 28, 12, 0)

server = sandbox_fixture(seed=21, producers=600, today=TODAY)


def producers_with_a_shared_number(sandbox: NiprSandbox) -> dict[str, tuple[str, str]]:
    """NPN -> (state, license number) of the world's producers holding one number under
    several classes."""
    found = {}
    for npn in sandbox.world.npns:
        classes = defaultdict(set)
        for lic in sandbox.world.producer(npn).licenses:
            classes[(lic.state, lic.number)].add(lic.class_code)
        shared = [key for key, codes in classes.items() if len(codes) > 1]
        if shared:
            found[npn] = shared[0]
    return found


def test_the_sandbox_files_some_license_numbers_under_several_classes(server):
    assert producers_with_a_shared_number(server)  # as NIPR's own data does


def test_entity_info_over_http_keeps_each_class_lines_apart(server):
    npn, (state, number) = next(iter(producers_with_a_shared_number(server).items()))
    world_lines = {
        (str(lic.class_code), str(loa.code), loa.is_active)
        for lic in server.world.producer(npn).licenses
        if (lic.state, lic.number) == (state, number)
        for loa in lic.loas
    }
    client = NiprClient(**client_settings(server), timeout_seconds=5.0, read_retries=1)

    report = parse_pdb_report(client.fetch_entity_info(npn))
    applied = apply_report(
        CurrentRows(), report, data_as_of=TODAY, tracked_npns=[npn], applied_at=TODAY
    ).result

    assert validate_parsed_report(report).empty  # each line belongs to its number and class
    lines = applied.license_loas
    lines = lines[(lines.state_code == state) & (lines.license_number == number)]
    stored = {
        (row.license_class_code, row.loa_code, bool(row.is_active))
        for row in lines.itertuples(index=False)
    }
    assert len({code for code, _, _ in stored}) > 1  # two classes under one number
    assert stored == world_lines
