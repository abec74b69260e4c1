"""The state rules of the shipped reference CSVs, transcribed from DOMAIN.md with their sources:
termination reasons (DOMAIN 3.4), fees (DOMAIN 2.4) and appointment rules (DOMAIN 3.3).

Used by `build_reference_data.py`, which writes the CSVs; every row says where it comes from
(`source`) and whether it is an assumption, so an analyst can review and replace it.
"""

from __future__ import annotations

from reference_licensing import JURISDICTIONS

# --------------------------------------------------------------------------------------------
# Termination reasons (DOMAIN 3.4)
# --------------------------------------------------------------------------------------------

TERMINATION_REASONS = [
    ("VOLUNTARY_TERMINATION", "Voluntary termination (not for cause)"),
    ("INADEQUATE_PRODUCTION", "Inadequate production"),
    ("CANCELLED_BY_GENERAL_AGENT", "Cancelled by general agent"),
    ("DEATH", "Death of the producer"),
    ("COMPANY_DEFUNCT_OR_LIQUIDATION", "Company defunct or in liquidation"),
    ("COMPANY_INDEBTEDNESS", "Company indebtedness (producer owes the company)"),
    ("POOR_POLICYHOLDER_SERVICE", "Poor policyholder service"),
    ("AGENT_MOVED", "Agent moved"),
    ("APPOINTED_IN_ERROR", "Appointed in error"),
    ("CANCELLED", "Cancelled (not for cause)"),
    ("CANCELLED_FOR_CAUSE", "Cancelled for cause (states may require an additional filing)"),
    ("COMPANY_MERGER", "Company merger"),
    ("REVOKED", "Revoked"),
    ("SUSPENDED_FOR_COMPLIANCE", "Suspended for compliance reasons"),
    ("REQUEST_REGULATORY_REVIEW", "Request regulatory review"),
]
CA_REASONS = ["VOLUNTARY_TERMINATION", "INADEQUATE_PRODUCTION", "CANCELLED_BY_GENERAL_AGENT",
              "DEATH", "COMPANY_DEFUNCT_OR_LIQUIDATION", "COMPANY_INDEBTEDNESS",
              "POOR_POLICYHOLDER_SERVICE", "AGENT_MOVED"]  # fmt: skip
# state: (accepted reasons, default, source)
STATE_REASONS: dict[str, tuple[list[str], str | None, str]] = {
    "CA": (CA_REASONS, "VOLUNTARY_TERMINATION", "[AS-CL-CA] DOMAIN 3.4"),
    "PA": ([r for r in CA_REASONS if r != "AGENT_MOVED"] + ["APPOINTED_IN_ERROR"],
           "VOLUNTARY_TERMINATION", "[AS-CL-PA] DOMAIN 3.4"),
    "NJ": (CA_REASONS + ["APPOINTED_IN_ERROR", "REQUEST_REGULATORY_REVIEW"],
           "VOLUNTARY_TERMINATION", "[AS-CL-NJ] DOMAIN 3.4"),
    "FL": (["VOLUNTARY_TERMINATION", "DEATH", "REQUEST_REGULATORY_REVIEW"],
           "VOLUNTARY_TERMINATION", "[AS-CL-FL] DOMAIN 3.4"),
    "VA": (["VOLUNTARY_TERMINATION", "DEATH", "APPOINTED_IN_ERROR", "CANCELLED_FOR_CAUSE"],
           "VOLUNTARY_TERMINATION", "[AS-CL-VA] DOMAIN 3.4"),
    "TX": (["CANCELLED"], "CANCELLED", "[AS-CL-TX] DOMAIN 3.4"),
    "GA": (["CANCELLED", "CANCELLED_FOR_CAUSE"], "CANCELLED", "[AS-CL-GA] DOMAIN 3.4"),
    "IL": (["CANCELLED", "CANCELLED_FOR_CAUSE"], "CANCELLED",
           "[AS-CL-IL] DOMAIN 3.4 (registry state: no filing)"),
}  # fmt: skip
# States with no rows at all: terminations there are never created (NY: not via NIPR).
NO_TERMINATION_REASONS = {"NY"}
UNLISTED_STATE_REASONS = ["VOLUNTARY_TERMINATION", "DEATH"]


def build_state_termination_reasons() -> list[list[object]]:
    rows: list[list[object]] = []
    for state in sorted(JURISDICTIONS):
        if state in NO_TERMINATION_REASONS:
            continue
        if state in STATE_REASONS:
            reasons, default, source = STATE_REASONS[state]
            for reason in reasons:
                is_default = reason == default
                # The acceptance is sourced; making it the default is our choice where the
                # state accepts several reasons.
                rows.append([state, reason, is_default, source, is_default and len(reasons) > 1])
        elif state == "WA":
            # WA requires no reason code: any canonical reason is accepted; default voluntary.
            for reason, _ in TERMINATION_REASONS:
                rows.append(
                    [
                        state,
                        reason,
                        reason == "VOLUNTARY_TERMINATION",
                        "[AS-CL-WA] DOMAIN 3.4: no reason code required; list is our choice",
                        True,
                    ]
                )
        else:
            for reason in UNLISTED_STATE_REASONS:
                rows.append(
                    [
                        state,
                        reason,
                        reason == "VOLUNTARY_TERMINATION",
                        "[ASSUMPTION] DOMAIN 3.4: reasons not public; both are accepted "
                        "by CA, PA, NJ, FL and VA",
                        True,
                    ]
                )
    return rows


# --------------------------------------------------------------------------------------------
# Fees (DOMAIN 2.4)
# --------------------------------------------------------------------------------------------

UNKNOWN_APPOINTMENT_FEE = 30.0  # high-side estimate: above the $20 median of the known states
# state: (resident, nonresident, per_loa, billed_by_state, source, is_assumption)
APPOINTMENT_FEES: dict[str, tuple[float, float, bool, bool, str, bool]] = {
    "NY": (0, 0, False, False, "[AS-CL-NY] DOMAIN 2.4", False),
    "IL": (0, 0, False, False, "[AS-CL-IL] DOMAIN 2.4 (registry state: no filing)", False),
    "TX": (10, 10, False, False, "[AS-CL-TX] DOMAIN 2.4", False),
    "PA": (15, 15, False, True, "[AS-CL-PA] [PA-DOI] DOMAIN 2.4: billed annually by the state",
           False),
    "OH": (15, 15, True, False, "[OH-DOI] DOMAIN 2.4: $15 per LOA", False),
    "GA": (20, 20, False, False, "[AS-CL-GA] DOMAIN 2.4", False),
    "WA": (20, 20, False, False, "[AS-CL-WA] DOMAIN 2.4", False),
    "NJ": (25, 25, False, False, "[AS-CL-NJ] DOMAIN 2.4: electronic filing ($35 paper)", False),
    "CA": (32, 58, False, False, "[AS-CL-CA] DOMAIN 2.4 [CONFLICT] $32/$58 vs $32/$32: the "
           "higher nonresident fee is kept so estimates never understate", True),
    "FL": (60, 60, False, False, "[AS-CL-FL] DOMAIN 2.4: nonresident per-county fees not "
           "modelled", True),
    "VA": (10, 7, True, False, "[AS-CL-VA] DOMAIN 2.4: snapshot values, treat as approximate",
           True),
}  # fmt: skip
# Only NJ is known to charge for terminations.
TERMINATION_FEES: dict[str, tuple[float, float, bool, bool, str, bool]] = {
    "NJ": (25, 25, False, False, "[AS-CL-NJ] DOMAIN 2.4: electronic filing ($35 paper)", False),
    **{
        s: (0, 0, False, False, f"[AS-CL-{s}] DOMAIN 2.4", False)
        for s in ("TX", "PA", "GA", "WA", "CA", "FL", "VA")
    },
    "NY": (0, 0, False, False, "[AS-CL-NY] DOMAIN 2.4: terminations not via NIPR", False),
    "IL": (0, 0, False, False, "[AS-CL-IL] DOMAIN 2.4 (registry state: no filing)", False),
}


def build_state_fees() -> list[list[object]]:
    rows: list[list[object]] = []
    for state in sorted(JURISDICTIONS):
        fee = APPOINTMENT_FEES.get(state) or (
            UNKNOWN_APPOINTMENT_FEE,
            UNKNOWN_APPOINTMENT_FEE,
            False,
            False,
            "[ASSUMPTION] fee not in DOMAIN 2.4: high-side estimate, replace with the state's "
            "published fee",
            True,
        )
        rows.append([state, "appointment", *fee])
        fee = TERMINATION_FEES.get(state) or (
            0.0,
            0.0,
            False,
            False,
            "[ASSUMPTION] not in DOMAIN 2.4; of the ten states known, only NJ charges",
            True,
        )
        rows.append([state, "termination", *fee])
    return rows


# NIPR's own fee per Gateway transaction (DOMAIN 2.4: the amount is [NOT FOUND], "a few
# dollars per transaction"). High-side, like the unknown state fees: above both TRANS_FEE
# values of NIPR's Postman samples (0.80, 1.53), so a batch estimate errs high.
NIPR_TRANSACTION_FEE = 5.00
NIPR_TRANSACTION_FEE_SOURCE = (
    "[ASSUMPTION] DOMAIN 2.4: NIPR's per-transaction fee amount is [NOT FOUND] "
    '("a few dollars per transaction"); NIPR\'s Postman samples show TRANS_FEE 0.80 and 1.53. '
    "High-side estimate so a batch is not under-budgeted: replace with the amount on the "
    "customer's NIPR invoice"
)


def build_nipr_transaction_fees() -> list[list[object]]:
    return [
        [kind, NIPR_TRANSACTION_FEE, NIPR_TRANSACTION_FEE_SOURCE, True]
        for kind in ("appointment", "termination")
    ]


# --------------------------------------------------------------------------------------------
# Appointment rules (DOMAIN 3.3, state_appointment_rules.md)
# --------------------------------------------------------------------------------------------

# Assurity's list [ASSURITY]: JIT deadline and trigger by state.
ASSURITY = {
    **{s: (15, "within 15 days after the application is written") for s in ("LA", "MT", "OK")},
    **{s: (14, "within 14 days after the application is received") for s in ("CA",)},
    **{
        s: (15, "within 15 days after the application is received")
        for s in ("AL", "AR", "CT", "DE", "GA", "HI", "ID", "KY", "MA", "ME", "MI", "MN", "MS",
                  "NC", "NE", "NH", "NJ", "NM", "NV", "SC", "SD", "TN", "UT", "VT", "WI", "WV",
                  "WY")
    },
    **{
        s: (30, "within 30 days after the application is received")
        for s in ("AK", "AZ", "CO", "DC", "IA", "IL", "IN", "MD", "MO", "ND", "OH", "OR", "RI",
                  "TX")
    },
    **{s: (30, "within 30 days after the application is written") for s in ("KS", "VA", "WA")},
    "FL": (45, "within 45 days of the appointment effective date"),
}  # fmt: skip

RULE_COLUMNS = [
    "state_code", "appointment_filing", "jit_allowed", "jit_deadline_days", "jit_trigger",
    "effective_date_specifiable", "max_backdate_days", "allows_future_effective_date",
    "terminations_via_nipr", "termination_date_specifiable", "termination_max_backdate_days",
    "source", "is_assumption",
]  # fmt: skip
N = None
# Documented states: every column given (None = unknown).
DOCUMENTED_RULES: dict[str, list[object]] = {
    "TX": ["nipr", True, 30, "within 30 days of the appointment effective date "
           "(carrier-determined)", False, N, N, True, False, N,
           "[AS-CL-TX] [ASSURITY] DOMAIN 3.3", False],
    "IL": ["registry", False, N, "registry state: nothing is filed, the carrier keeps its own "
           "register", N, N, N, False, N, N,
           "[AS-CL-IL] DOMAIN 3.3 ([CONFLICT] Assurity lists IL under 30 days)", False],
    "CA": ["nipr", True, 14, "Life/Health/Annuity only: within 14 days of the first business "
           "submission. P&C must be appointed before solicitation (file within 15 days of the "
           "effective date): keep jit false for P&C companies", True, 0, N, True, True, N,
           "[AS-CL-CA] [ASSURITY] DOMAIN 3.3 [CONFLICT] one snapshot: effective date not in "
           "the past; max_backdate_days 0 is our choice", True],
    "FL": ["nipr", True, 45, "within 45 days of the appointment effective date", True, 45,
           False, True, True, 33,
           "[AS-CL-FL] [RADEY] DOMAIN 3.3/2.4: not before license dates; 45 = the late-fee "
           "limit, our choice", True],
    "NY": ["nipr", True, 15, "within 15 days of contract execution or first business "
           "submission (many NY appointments are handled on the DFS portal)", False, N, N,
           False, False, N, "[AS-CL-NY] DOMAIN 3.3/3.4: terminations not via NIPR", False],
    "PA": ["nipr", False, N, "not JIT: appoint before solicitation; file within 30 days of "
           "contract execution", True, 30, N, True, True, 30,
           "[AS-CL-PA] [PA-DOI] [ASSURITY] DOMAIN 3.3", False],
    "GA": ["nipr", True, 15, "within 15 days of contract execution or first business "
           "submission", False, N, N, True, True, N, "[AS-CL-GA] DOMAIN 3.3/3.4", False],
    "WA": ["nipr", True, 15, "within 15 days of contract execution or the first application, "
           "whichever is earlier (RCW 48.17.160(2))", False, N, N, True, True, 14,
           "[AS-CL-WA] [WAC] DOMAIN 3.3 [CONFLICT] Assurity says 30 days: the shorter is kept",
           True],
    "NJ": ["nipr", True, 15, "within 15 days of contract execution or first business", True,
           60, N, True, True, 60, "[AS-CL-NJ] DOMAIN 3.3/3.4", False],
    "VA": ["nipr", True, 30, "within 30 days of accepting the first application", True, 30,
           False, True, True, 29, "[AS-CL-VA] [VA-CODE] DOMAIN 3.3/3.4", False],
    "ND": ["nipr", True, 30, "within 30 days after the later of contract signing or the first "
           "application", N, N, N, True, N, N,
           "[ND-DOI] DOMAIN 3.3; terminations_via_nipr assumed", True],
    "KS": ["nipr", False, N, "[CONFLICT] carriers disagree (pre-appointment vs 30 days after "
           "the application is written): treated as not JIT", N, N, N, True, N, N,
           "[ASSURITY] DOMAIN 3.3 [CONFLICT]; not JIT is our choice", True],
}  # fmt: skip


def build_state_appointment_rules() -> list[list[object]]:
    rows: list[list[object]] = []
    for state in sorted(JURISDICTIONS):
        if state in DOCUMENTED_RULES:
            rows.append([state, *DOCUMENTED_RULES[state]])
        elif state in ASSURITY:
            days, trigger = ASSURITY[state]
            rows.append(
                [
                    state,
                    "nipr",
                    True,
                    days,
                    trigger,
                    N,
                    N,
                    N,
                    True,
                    N,
                    N,
                    "[ASSURITY] DOMAIN 3.3; filing and terminations via NIPR assumed",
                    True,
                ]
            )
        else:  # GU, PR, VI: no source at all
            rows.append(
                [
                    state,
                    "nipr",
                    False,
                    N,
                    "unknown: treated as not JIT (appoint before solicitation is always allowed)",
                    N,
                    N,
                    N,
                    True,
                    N,
                    N,
                    "[ASSUMPTION] no source",
                    True,
                ]
            )
    return rows
