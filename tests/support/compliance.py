"""A small book for the continuous-compliance tests: one Appointed Life line (TX, CoCode 91234,
line 16 on license class 882, the shipped company setup's rule) per producer, each producer in
one situation: standing, or at risk for one reason."""

from __future__ import annotations

import datetime as dt

import pandas as pd

AS_OF = dt.date(2026, 6, 1)
COCODE, STATE, LINE, CLASS, CATEGORY = "91234", "TX", "16", "882", "Life"
NEXT_YEAR = dt.date(2027, 6, 30)

STANDS = "1001"
LICENSE_INACTIVE = "1002"
LICENSE_EXPIRED = "1003"
LINE_INACTIVE = "1004"
NO_RESIDENT = "1005"
NO_LICENSE = "1006"
UPDATED_ON = dt.date(2026, 5, 10)  # NIPR's DATE_UPDATED of the licenses that changed
EXPIRED_ON = dt.date(2026, 3, 31)
RESIDENT_EXPIRED_ON = dt.date(2026, 4, 30)


def _license(npn, state="TX", *, resident=True, active=True, expires=NEXT_YEAR, number=None):
    return {
        "npn": npn,
        "state_code": state,
        "license_number": number or f"L{npn}{state}",
        "license_class_code": CLASS,
        "license_class": "Agent",
        "is_resident": resident,
        "is_active": active,
        "issue_date": dt.date(2020, 1, 1),
        "expiration_date": expires,
        "nipr_updated_at": pd.Timestamp(UPDATED_ON, tz="UTC"),
    }


def book() -> dict[str, pd.DataFrame]:
    """producers, licenses, license_loas, appointments (SPEC section 3 columns)."""
    npns = [STANDS, LICENSE_INACTIVE, LICENSE_EXPIRED, LINE_INACTIVE, NO_RESIDENT, NO_LICENSE]
    producers = pd.DataFrame(
        {
            "npn": npns,
            "first_name": "Pat",
            "last_name": [f"Producer {n}" for n in npns],
            "is_active": True,
            "sync_status": "Success",
        }
    )
    licenses = pd.DataFrame(
        [
            _license(STANDS),
            _license(LICENSE_INACTIVE, active=False),
            _license(LICENSE_EXPIRED, expires=EXPIRED_ON),
            _license(LINE_INACTIVE),
            _license(NO_RESIDENT, resident=False),
            _license(NO_RESIDENT, "OK", expires=RESIDENT_EXPIRED_ON),
        ]
    )
    loas = licenses[licenses["state_code"] == STATE][
        ["npn", "state_code", "license_number", "license_class_code"]
    ].assign(loa_code=LINE, loa_name="Life", is_active=True, issue_date=dt.date(2020, 1, 1))
    loas.loc[loas["npn"] == LINE_INACTIVE, "is_active"] = False
    appointments = pd.DataFrame(
        {
            "npn": npns,
            "state_code": STATE,
            "cocode": COCODE,
            "loa_code": LINE,
            "company_name": "Acme Life",
            "status": "Appointed",
            "effective_date": dt.date(2021, 1, 1),
            "renewal_date": dt.date(2027, 3, 31),
        }
    )
    return {
        "producers": producers,
        "licenses": licenses,
        "license_loas": loas.reset_index(drop=True),
        "appointments": appointments,
    }
