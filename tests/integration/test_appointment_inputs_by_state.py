"""An upload's appointment inputs read for the requested (NPN, state) pairs
(`read_eligibility_inputs(..., state_codes=...)`) evaluate exactly as the inputs read for the
whole of the requested producers, on SQLite and PostgreSQL, open transactions included."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from assets.appointments.eligibility import evaluate_appointment_requests
from assets.appointments.store import plan_appointment_batches, read_eligibility_inputs
from assets.batches.store import write_batch_plan
from assets.reference.loading import load_company_config, load_reference_data
from assets.uploads.store import save_upload_row
from npnflow.sandbox.generator import generate_world
from resources import paths
from schemas.tables import metadata
from support.seed import seeded_database

TODAY = dt.date(2026, 11, 20)


def _world_and_requests() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    reference = load_reference_data(paths.reference_dir())
    config = load_company_config(paths.config_dir(), reference)
    world = generate_world(seed=3, producers=300, companies=config["companies"], today=TODAY)
    frames = world.to_frames()
    tables = {
        name: frames[name][[c for c in frames[name].columns if c in metadata.tables[name].c]]
        for name in ("producers", "licenses", "license_loas", "appointments")
    }
    tables["producers"] = tables["producers"].assign(sync_status="Success")
    settings = config["company_state_settings"][["cocode", "state_code"]]
    pairs = tables["licenses"][["npn", "state_code"]].drop_duplicates().merge(settings)
    pairs = pairs.sample(n=min(400, len(pairs)), random_state=1).reset_index(drop=True)
    categories = config["company_loa_categories"].groupby("cocode")["loa_category"].first()
    requests = pairs.assign(
        request_row=np.arange(len(pairs)) + 2,
        loa_category=pairs["cocode"].map(categories),
        agent_type="Producer",
        submit=True,
        submit_just_in_time=False,
    )
    tables["producer_assignments"] = requests[["npn", "loa_category", "state_code", "cocode"]]
    return tables, requests


def test_inputs_by_state_evaluate_as_inputs_by_npn(database_url):
    tables, requests = _world_and_requests()
    database = seeded_database(database_url, tables)
    now = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    with database.begin() as connection:
        # A first upload's transactions: the second one's open lines (repeats).
        first = requests.iloc[::3]
        save_upload_row(
            connection,
            "U-FIRST",
            {
                "object_key": "inbox/appoint/first.csv",
                "content_sha256": "0" * 64,
                "kind": "appoint",
                "status": "Processed",
                "received_at": now,
            },
        )
        inputs = read_eligibility_inputs(connection, first["npn"])
        evaluated = evaluate_appointment_requests(first, inputs, as_of=TODAY)
        write_batch_plan(connection, plan_appointment_batches(evaluated, "U-FIRST", now))
    with database.begin() as connection:
        by_npn = read_eligibility_inputs(connection, requests["npn"])
        by_state = read_eligibility_inputs(
            connection, requests["npn"], state_codes=requests["state_code"]
        )
    assert len(by_state["license_loas"]) < len(by_npn["license_loas"])
    assert len(by_state["transactions"]) > 0
    whole = evaluate_appointment_requests(requests, by_npn, as_of=TODAY)
    narrow = evaluate_appointment_requests(requests, by_state, as_of=TODAY)
    assert len(whole.attrs["repeats"]) > 0
    pd.testing.assert_frame_equal(whole.attrs.pop("repeats"), narrow.attrs.pop("repeats"))
    pd.testing.assert_frame_equal(whole, narrow)
    assert set(whole["status"]) >= {"Ready to Submit", "Not Eligible"}
    database.engine.dispose()
