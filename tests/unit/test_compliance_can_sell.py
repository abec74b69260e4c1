"""can-sell's rule agrees with the eligibility engine on a generated world (issue 18 item 4).

For sampled (npn, state, cocode, category), the lines the engine answers `Already Appointed`
(checks 6 to 8 pass and the line is appointed, check 9) are lines `sales_authorization` says
the producer may sell, and the only other Yes lines are appointed lines held under another
license class than the company's rule names (docs/compliance.md). Both read the same frames;
the requests are sampled from the world's appointments and licenses so every answer occurs.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from assets.appointments.eligibility import (
    REASON_ALREADY_APPOINTED,
    REASON_LICENSE_NOT_ACTIVE,
    REASON_LICENSE_NOT_FOUND,
    REASON_NO_ACTIVE_RESIDENT_LICENSE,
    evaluate_appointment_requests,
)
from assets.compliance.authorization import appointed_lines, category_lines, sales_authorization
from assets.reference.loading import load_company_config, load_reference_data
from npnflow.sandbox.generator import generate_world
from resources import paths

AS_OF = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def world_inputs() -> dict[str, pd.DataFrame]:
    reference = load_reference_data(paths.reference_dir())
    config = load_company_config(paths.config_dir(), reference)
    world = generate_world(seed=11, producers=1_500, companies=config["companies"], today=AS_OF)
    frames = world.to_frames()
    producers = frames["producers"].copy()
    producers["sync_status"] = "Success"
    producers["is_active"] = True
    companies = config["companies"].copy()
    companies["producer_assignment_required"] = False  # check 4 is not can-sell's question
    return {
        "producers": producers,
        "licenses": frames["licenses"],
        "license_loas": frames["license_loas"],
        "appointments": frames["appointments"],
        "companies": companies,
        "company_loa_categories": config["company_loa_categories"],
        "company_state_settings": config["company_state_settings"],
        "gateway_business_rules": config["gateway_business_rules"],
        "producer_assignments": pd.DataFrame(
            columns=["npn", "loa_category", "state_code", "cocode"]
        ),
        "loa_categories": reference["loa_categories"],
        "state_fees": reference["state_fees"],
    }


def _sampled_keys(inputs: dict[str, pd.DataFrame], count: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    settings = inputs["company_state_settings"][["cocode", "state_code"]]
    categories = inputs["company_loa_categories"][["cocode", "loa_category"]]
    appointed = inputs["appointments"][["npn", "state_code", "cocode"]].drop_duplicates()
    licensed = inputs["licenses"][["npn", "state_code"]].drop_duplicates().merge(settings)
    pairs = pd.concat([appointed.merge(settings), licensed], ignore_index=True).drop_duplicates()
    keys = pairs.merge(categories, on="cocode")
    return keys.iloc[rng.choice(len(keys), size=min(count, len(keys)), replace=False)]


def test_can_sell_lines_are_the_engines_already_appointed_lines(world_inputs):
    keys = _sampled_keys(world_inputs, 3_000).reset_index(drop=True)
    requests = keys.assign(request_row=range(1, len(keys) + 1), agent_type="Producer")
    engine = evaluate_appointment_requests(requests, world_inputs, AS_OF)
    already = engine[engine["eligibility_reason"] == REASON_ALREADY_APPOINTED]
    engine_lines = set(
        zip(
            already["npn"],
            already["state_code"],
            already["cocode"],
            already["loa_category"],
            already["loa_code"],
            strict=True,
        )
    )

    per_key, lines = sales_authorization(
        keys,
        world_inputs["gateway_business_rules"],
        world_inputs["loa_categories"],
        world_inputs["licenses"],
        world_inputs["license_loas"],
        appointed_lines(world_inputs["appointments"]),
        AS_OF,
    )
    selling = lines[lines["can_sell"]].merge(
        per_key[["key_id", "npn", "state_code", "cocode", "loa_category"]], on="key_id"
    )
    can_sell_lines = set(
        zip(
            selling["npn"],
            selling["state_code"],
            selling["cocode"],
            selling["loa_category"],
            selling["loa_code"],
            strict=True,
        )
    )
    assert len(engine_lines) > 20, "the sample must hold appointed lines that stand"
    # Every line the engine calls Already Appointed, can-sell sells.
    assert engine_lines <= can_sell_lines
    # Any other Yes line is an appointed line the engine, judging a NEW request, does not
    # look at as the at-risk list does: (a) a line the company's rules do not list for the
    # category in the state (can-sell also judges the lines the producer holds appointed, by
    # NIPR's facts), or (b) a line held active on a license of another class than the rule
    # names (the engine's check 5 looks at the rule's class only; an existing appointment
    # stands on the license that holds it, ADR 0023). docs/compliance.md.
    ruled = category_lines(
        keys, world_inputs["gateway_business_rules"], world_inputs["loa_categories"]
    )
    ruled = ruled.merge(
        keys.assign(key_id=range(len(keys))), on=["key_id", "npn", "state_code", "cocode"]
    )
    rule_classes = {
        key: set(group["license_class_code"].astype(str))
        for key, group in ruled.groupby(["npn", "state_code", "cocode", "loa_category", "loa_code"])
    }
    judged = selling.set_index(["npn", "state_code", "cocode", "loa_category", "loa_code"])
    other_class = 0
    for line in can_sell_lines - engine_lines:
        if line not in rule_classes:
            continue  # (a)
        other_class += 1
        assert judged.loc[line, "license_class_code"] not in rule_classes[line]
        npn, state, cocode, category, loa = line
        engine_row = engine[
            (engine["npn"] == npn)
            & (engine["state_code"] == state)
            & (engine["cocode"] == cocode)
            & (engine["loa_category"] == category)
            & (engine["loa_code"] == loa)
        ]
        assert set(engine_row["eligibility_reason"]) <= {
            REASON_LICENSE_NOT_FOUND,
            REASON_LICENSE_NOT_ACTIVE,
            REASON_NO_ACTIVE_RESIDENT_LICENSE,
        }
    assert other_class <= len(engine_lines) // 50
    # And the per-key Yes is "at least one line sells".
    yes = per_key[per_key["can_sell"]]
    yes_keys = set(
        zip(yes["npn"], yes["state_code"], yes["cocode"], yes["loa_category"], strict=True)
    )
    assert yes_keys == {line[:4] for line in can_sell_lines}
