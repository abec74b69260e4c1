"""The world of the dry-run tests (`npnflow check`): one producer, Ann (NPN 1000001), with the
licenses of tests/dagster/test_appointment_assets.py and a few appointments with Harborstone
(91234), on the shipped reference tables and company setup (tests/support/seed.py).

The appoint file's outcomes, worked out by hand from SPEC section 6 and the shipped business
rules (the same as test_appointment_assets.py's):

- row 2, TX (JIT): line 825 In Good Order, Ready to Submit (auto); line 16 license not found;
- row 3, CA (JIT): line 16 Held (JIT), line 296 license not found;
- row 4, OH 93456: line 16 license not found; row 5: Producer Not Found (a request rejection);
- row 6, TX 92345: Outside Producer Assignment (both lines);
- row 7, VA (not JIT): line 42 In Good Standing, Ready to Submit; line 39 license not found.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

TODAY = dt.date.today()
FAR = TODAY + dt.timedelta(days=700)
NPN = "1000001"
UNKNOWN = "2000002"
HARBORSTONE = "91234"

APPOINT_FILE = "\r\n".join(
    [
        "NPN,States,CoCode,LOA Category,Agent Type,Submit,Submit Just In Time",
        f"{NPN},TX,91234,Life,Producer,TRUE,TRUE",  # row 2
        f"{NPN},CA,91234,Life,Producer,FALSE,FALSE",  # row 3
        f"{NPN},OH,93456,Life,Producer,FALSE,FALSE",  # row 4
        f"{UNKNOWN},TX,91234,Life,Producer,TRUE,TRUE",  # row 5
        f"{NPN},TX,92345,Property,Producer,FALSE,FALSE",  # row 6
        f"{NPN},VA,91234,Accident & Health,Producer,FALSE,FALSE",  # row 7
    ]
).encode()

TERMINATE_FILE = "\r\n".join(
    [
        "Agent NPN,States,Line of Authority,CoCode,Termination Reason Code,Effective Date,"
        "Submit Immediately",
        f"{NPN},NJ,16,{HARBORSTONE},,,TRUE",  # row 2: appointed: terminable
        f"{NPN},TX,825,{HARBORSTONE},,,FALSE",  # row 3: no such appointment
    ]
).encode()


def _license(state: str, number: str, license_class: str, resident: bool) -> dict[str, object]:
    return {
        "npn": NPN,
        "state_code": state,
        "license_number": number,
        "license_class_code": license_class,
        "is_resident": resident,
        "is_active": True,
        "expiration_date": FAR,
    }


def _line(state: str, number: str, license_class: str, loa: str) -> dict[str, object]:
    return {
        "npn": NPN,
        "state_code": state,
        "license_number": number,
        "license_class_code": license_class,
        "loa_code": loa,
        "is_active": True,
    }


def world_tables() -> dict[str, pd.DataFrame]:
    return {
        "producers": pd.DataFrame(
            [
                {
                    "npn": NPN,
                    "first_name": "Ann",
                    "last_name": "Lee",
                    "agent_type": "Producer",
                    "is_active": True,
                    "sync_status": "Success",
                }
            ]
        ),
        "licenses": pd.DataFrame(
            [
                _license("TX", "TX-1", "465", True),
                _license("CA", "CA-1", "3", False),
                _license("VA", "VA-1", "3", False),
                _license("NJ", "NJ-1", "3", False),
            ]
        ),
        "license_loas": pd.DataFrame(
            [
                _line("TX", "TX-1", "465", "825"),
                _line("CA", "CA-1", "3", "16"),
                _line("VA", "VA-1", "3", "42"),
                _line("NJ", "NJ-1", "3", "16"),
            ]
        ),
        "appointments": pd.DataFrame(
            [
                {
                    "npn": NPN,
                    "state_code": "NJ",
                    "cocode": HARBORSTONE,
                    "loa_code": "16",
                    "company_name": "Harborstone Life and Health Insurance Company",
                    "status": "Appointed",
                    "effective_date": dt.date(2024, 1, 10),
                }
            ]
        ),
    }
