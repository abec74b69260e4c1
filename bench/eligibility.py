"""Eligibility benchmark (SPEC section 12): 100,000 request rows against 200,000 producers /
1,000,000 licenses in under 2 s on 2 cores (the engine alone, data in memory).

Generates a world with the NIPR sandbox (`generate_world`, the companies of
config/companies.yaml, so that generated appointments are with those CoCodes), maps its frames
to the SPEC section 3 inputs (every producer synced, a few not), takes the companies, their
state settings, categories and business rules from config/, and fees and LOA categories from
config/reference. Then builds the requests: mostly (producer, state) pairs where the producer
holds a license and the company appoints, a mix of categories and CoCodes (some the company
does not appoint for), 3% unknown NPNs, and some open transactions that the requests repeat.

Only `evaluate_appointment_requests` is timed (DuckDB with 2 threads). A first call warms the
process (page faults of a fresh heap, lazy imports) and is reported on its own; the median of
the runs after it is the figure, with the rows out per status and the process's peak RSS. Figures go to stdout and
to bench/results/eligibility.json.

Usage: .venv/bin/python bench/eligibility.py [--producers 200000] [--requests 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results" / "eligibility.json"
TARGET_SECONDS = 2.0
THREADS = 2
AS_OF = dt.date(2026, 11, 20)
UNKNOWN_NPN_SHARE = 0.03
OPEN_TRANSACTIONS_SHARE = 0.05  # of the requests, repeated by an open transaction


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict:
    import duckdb

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "duckdb": duckdb.__version__,
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def build_inputs(producers: int, seed: int) -> dict[str, pd.DataFrame]:
    """The SPEC section 3 frames, from the sandbox world and config/."""
    from assets.reference.loading import load_company_config, load_reference_data
    from npnflow.sandbox.generator import generate_world
    from resources import paths

    reference = load_reference_data(paths.reference_dir())
    company_config = load_company_config(paths.config_dir(), reference)
    companies = company_config["companies"]
    world = generate_world(seed=seed, producers=producers, companies=companies, today=AS_OF)
    frames = world.to_frames()

    rng = np.random.default_rng(seed)
    producer_frame = frames["producers"].copy()
    # Most producers synced; a few waiting for their first sync or in error.
    producer_frame["sync_status"] = rng.choice(
        ["Success", "Success - No Licenses", "Not Started", "NIPR Error"],
        size=len(producer_frame),
        p=[0.97, 0.01, 0.015, 0.005],
    )
    return {
        "producers": producer_frame,
        "licenses": frames["licenses"],
        "license_loas": frames["license_loas"],
        "appointments": frames["appointments"],
        "companies": companies,
        "company_loa_categories": company_config["company_loa_categories"],
        "company_state_settings": company_config["company_state_settings"],
        "gateway_business_rules": company_config["gateway_business_rules"],
        "producer_assignments": pd.DataFrame(
            columns=["npn", "loa_category", "state_code", "cocode"]
        ),
        "loa_categories": reference["loa_categories"],
        "state_fees": reference["state_fees"],
        "lines_of_authority": reference["lines_of_authority"],
    }


def build_requests(inputs: dict[str, pd.DataFrame], count: int, seed: int) -> pd.DataFrame:
    """Requests for states where the producer holds a license and the company appoints."""
    rng = np.random.default_rng(seed + 1)
    settings = inputs["company_state_settings"][["cocode", "state_code"]]
    licensed = inputs["licenses"][["npn", "state_code"]].drop_duplicates()
    pairs = licensed.merge(settings, on="state_code")
    picked = pairs.iloc[rng.integers(0, len(pairs), size=count)].reset_index(drop=True)

    categories_of = inputs["company_loa_categories"].groupby("cocode")["loa_category"].agg(list)
    own = np.array([rng.choice(categories_of[c]) for c in picked["cocode"]], dtype=object)
    # One request in ten asks for a category the company may not appoint for.
    other = rng.choice(["Life", "Accident & Health", "Property", "Casualty"], size=count)
    category = np.where(rng.random(count) < 0.1, other, own)

    npn = picked["npn"].to_numpy(dtype=object).copy()
    unknown = rng.random(count) < UNKNOWN_NPN_SHARE
    npn[unknown] = [f"9{n:09d}" for n in rng.integers(0, 10**9, size=int(unknown.sum()))]
    requests = pd.DataFrame(
        {
            "request_row": np.arange(2, count + 2) // 2 + 1,  # about two states per upload row
            "npn": npn,
            "state_code": picked["state_code"].to_numpy(dtype=object),
            "cocode": picked["cocode"].to_numpy(dtype=object),
            "loa_category": category,
            "agent_type": rng.choice(["Producer", "Agency", ""], size=count, p=[0.8, 0.1, 0.1]),
            "submit": rng.random(count) < 0.5,
            "submit_just_in_time": rng.random(count) < 0.3,
            "effective_date": AS_OF,
        }
    )
    return requests


def add_assignments_and_open_transactions(
    inputs: dict[str, pd.DataFrame], requests: pd.DataFrame, seed: int
) -> None:
    """Assignments for most requests of the company that requires them; open transactions for
    a few requested lines, so the repeat rule has work to do."""
    rng = np.random.default_rng(seed + 2)
    required = inputs["companies"].loc[
        inputs["companies"]["producer_assignment_required"], "cocode"
    ]
    needing = requests[requests["cocode"].isin(required)]
    covered = needing[rng.random(len(needing)) < 0.8]
    inputs["producer_assignments"] = covered[
        ["npn", "loa_category", "state_code", "cocode"]
    ].drop_duplicates()

    rules = inputs["gateway_business_rules"][["cocode", "state_code", "loa_code"]].drop_duplicates()
    sample = requests.sample(frac=OPEN_TRANSACTIONS_SHARE, random_state=seed)
    lines = sample.merge(rules, on=["cocode", "state_code"]).drop_duplicates(
        ["npn", "state_code", "cocode"]
    )
    inputs["transactions"] = pd.DataFrame(
        {
            "transaction_id": [f"txn-{i}" for i in range(len(lines))],
            "npn": lines["npn"].to_numpy(),
            "state_code": lines["state_code"].to_numpy(),
            "cocode": lines["cocode"].to_numpy(),
            "loa_code": lines["loa_code"].to_numpy(),
            "status": rng.choice(
                ["Submitted", "Held (JIT)", "Accepted", "Cancelled"], size=len(lines)
            ),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="Timed runs; the median is reported.")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from assets.appointments.eligibility import evaluate_appointment_requests

    started = time.perf_counter()
    inputs = build_inputs(args.producers, args.seed)
    requests = build_requests(inputs, args.requests, args.seed)
    add_assignments_and_open_transactions(inputs, requests, args.seed)
    prepare_seconds = time.perf_counter() - started
    sizes = {name: len(frame) for name, frame in inputs.items()}
    print(
        f"world: {sizes['producers']:,} producers, {sizes['licenses']:,} licenses, "
        f"{sizes['license_loas']:,} license LOAs, {sizes['appointments']:,} appointments, "
        f"{sizes['transactions']:,} existing transactions (prepared in {prepare_seconds:.1f} s)"
    )
    print(f"requests: {len(requests):,} rows, {requests['npn'].nunique():,} NPNs")

    rss_before_mb = _rss_mb("VmRSS")
    mark = time.perf_counter()
    evaluate_appointment_requests(requests, inputs, AS_OF, threads=THREADS)
    first_run_seconds = time.perf_counter() - mark
    seconds = []
    result = None
    for _ in range(args.repeat):
        mark = time.perf_counter()
        result = evaluate_appointment_requests(requests, inputs, AS_OF, threads=THREADS)
        seconds.append(time.perf_counter() - mark)
    assert result is not None
    peak_rss_mb = _rss_mb("VmHWM")

    median = statistics.median(seconds)
    verdict = "PASS" if median < TARGET_SECONDS else "FAIL"
    by_status = result["status"].value_counts().to_dict()
    by_reason = result["eligibility_reason"].value_counts().to_dict()
    repeats = len(result.attrs["repeats"])
    fees = float(result["estimated_fee"].sum())

    runs = ", ".join(f"{s:.3f}" for s in seconds)
    print(
        f"engine seconds (threads={THREADS}): median {median:.3f}, runs {runs}; "
        f"first (warm-up) run {first_run_seconds:.3f}"
    )
    print(f"rows out: {len(result):,}; repeats left out: {repeats:,}; estimated fees ${fees:,.2f}")
    for status, rows in by_status.items():
        print(f"  {status:<20} {rows:>9,}")
    print("reasons:")
    for reason, rows in by_reason.items():
        print(f"  {reason[:60]:<60} {rows:>9,}")
    print(f"RSS before the engine {rss_before_mb:,.0f} MB; process peak {peak_rss_mb:,.0f} MB")
    info = machine()
    print(f"machine: {info}")
    print(
        f"target: {args.requests:,} requests against {args.producers:,} producers in "
        f"< {TARGET_SECONDS:g} s on {THREADS} threads: {verdict}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "eligibility",
                "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": info,
                "threads": THREADS,
                "inputs": sizes,
                "requests": len(requests),
                "target_seconds": TARGET_SECONDS,
                "verdict": verdict,
                "median_seconds": round(median, 3),
                "runs_seconds": [round(s, 3) for s in seconds],
                "first_run_seconds": round(first_run_seconds, 3),
                "rows_out": len(result),
                "rows_by_status": by_status,
                "rows_by_reason": by_reason,
                "repeats_left_out": repeats,
                "estimated_fees": round(fees, 2),
                "rss_before_engine_mb": round(rss_before_mb, 1),
                "peak_rss_mb": round(peak_rss_mb, 1),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {RESULTS}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
