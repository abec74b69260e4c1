"""Entity Info replies read into lists and made into one report per batch
(assets/nipr/initial_sync_parse.py) hold what `parse_pdb_report` gives reply by reply, and
`classify_reply` decides what `roster.classify_entity_info` decides, on every reply of a
generated world and on NIPR's error, firm and wrong-producer replies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from assets.nipr.initial_sync_parse import (
    batch_report,
    classify_reply,
    read_entity_info,
    rows_of_report,
)
from assets.nipr.parsing import NiprReportError, parse_pdb_report
from assets.nipr.roster import classify_entity_info
from npnflow.sandbox.entity_info import render_entity_info, render_error
from npnflow.sandbox.generator import generate_world

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nipr"
TODAY = dt.date(2026, 3, 6)
FRAMES = ("producers", "licenses", "license_loas", "appointments", "reported_scopes")


@pytest.fixture(scope="module")
def replies() -> list[tuple[str, bytes]]:
    """(NPN asked for, reply): a generated world, the fixtures, an error and a wrong reply."""
    world = generate_world(seed=5, producers=40, today=TODAY)
    pairs = [(npn, render_entity_info(world.producer(npn))) for npn in world.npns]
    pairs += [
        ("12345678", (FIXTURES / "entity_info_individual.xml").read_bytes()),
        ("87654321", (FIXTURES / "entity_info_firm.xml").read_bytes()),
        ("99999999", render_error("No entity was found for id_entity 99999999.")),
        ("11111111", (FIXTURES / "entity_info_individual.xml").read_bytes()),  # not 11111111
        ("0012345678", (FIXTURES / "entity_info_individual.xml").read_bytes()),  # padded
    ]
    return [(npn.lstrip("0"), content) for npn, content in pairs]


def test_a_reply_s_status_is_classify_entity_info_s(replies):
    decided = [classify_reply(read_entity_info(content, npn)) for npn, content in replies]
    expected = [
        classify_entity_info(parse_pdb_report(content, requested_npn=npn), npn)
        for npn, content in replies
    ]
    assert decided == expected
    statuses = {outcome.status for outcome in decided}
    assert statuses == {"Success", "Not Found", "NIPR Error"}  # every branch is exercised


def rows(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    values = frame.astype(object).where(frame.notna(), None)
    return sorted(tuple(map(repr, row)) for row in values.itertuples(index=False, name=None))


def test_a_batch_report_holds_each_reply_s_own_rows_with_the_parser_s_dtypes(replies):
    applied = [
        (npn, content)
        for npn, content in replies
        if classify_reply(read_entity_info(content, npn)).apply
    ]
    batch = batch_report([read_entity_info(content, npn) for npn, content in applied])
    alone = [(npn, parse_pdb_report(content, requested_npn=npn)) for npn, content in applied]
    for name in FRAMES:
        parts = [getattr(report, name) for _, report in alone]
        parts = [part[part.npn == npn] for (npn, _), part in zip(alone, parts, strict=True)]
        expected = pd.concat(parts, ignore_index=True)
        assert rows(getattr(batch, name)) == rows(expected), name
        assert dict(getattr(batch, name).dtypes) == dict(parts[0].dtypes), name
    assert len(batch.licenses) > 100
    assert batch.report_kind == "entity_info"
    assert batch.firm_npns == frozenset().union(*(r.firm_npns for _, r in alone))
    assert "87654321" in batch.firm_npns


def test_a_report_made_into_lists_gives_the_same_batch(replies):
    npn, content = replies[0]
    direct = batch_report([read_entity_info(content, npn)])
    through = batch_report([rows_of_report(parse_pdb_report(content, requested_npn=npn), npn)])
    for name in FRAMES:
        assert rows(getattr(direct, name)) == rows(getattr(through, name)), name


@pytest.mark.parametrize("content", [b"", b"<PDB><unclosed>", b"<html>busy</html>"])
def test_an_unreadable_reply_is_refused_as_the_parser_refuses_it(content):
    with pytest.raises(NiprReportError) as ours:
        read_entity_info(content, "123")
    with pytest.raises(NiprReportError) as parsers:
        parse_pdb_report(content, requested_npn="123")
    assert str(ours.value) == str(parsers.value)
