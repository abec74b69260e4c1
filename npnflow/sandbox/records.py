"""One producer's NIPR data as plain objects: what Entity Info and Alerts replies are rendered from.

The generator keeps the whole world in columns (fast to build and to turn into frames); a
producer is materialised as these records only when a reply or a day's changes need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

LICENSING = "LICENSING"
APPOINTMENTS = "APPOINTMENTS"
DEMOGRAPHICS = "DEMOGRAPHICS"
CATEGORIES = (LICENSING, APPOINTMENTS, DEMOGRAPHICS)

INDIVIDUAL = "INDIVIDUAL"
FIRM = "FIRM"


@dataclass
class Loa:
    code: int
    name: str
    issue_date: date
    is_active: bool
    status_reason: str
    status_reason_date: date


@dataclass
class License:
    state: str
    number: str
    class_code: int
    class_name: str
    is_resident: bool
    is_active: bool
    issue_date: date
    expiration_date: date
    updated_date: date
    loas: list[Loa] = field(default_factory=list)


@dataclass
class Appointment:
    state: str
    cocode: str
    company_name: str
    fein: str
    loa_code: int
    loa_name: str
    status: str  # Appointed | Terminated
    effective_date: date
    termination_date: date | None
    termination_reason: str
    status_reason_date: date
    renewal_date: date | None
    county_code: str = ""

    @property
    def is_appointed(self) -> bool:
        return self.status == "Appointed"


@dataclass
class Address:
    line_1: str
    line_2: str
    city: str
    state: str
    zip_code: str
    country: str = "U.S.A."

    @property
    def key(self) -> str:
        """NIPR's Address@key: the address with spaces removed (as in the Alerts samples)."""
        return "".join(
            part.replace(" ", "")
            for part in (
                self.line_1,
                self.line_2,
                self.city,
                self.state,
                self.zip_code,
                self.country,
            )
        )


@dataclass
class Demographics:
    email: str
    business_phone: str
    fax: str
    residence: Address
    business: Address
    updated_date: date


@dataclass
class Producer:
    index: int
    npn: str
    entity_type: str  # INDIVIDUAL | FIRM
    first_name: str
    middle_name: str
    last_name: str
    suffix: str
    firm_name: str
    fein: str  # firms: 9 digits, no dash
    fake_ssn: str  # individuals: never a real SSN (area 9xx is never issued)
    birth_date: date | None
    resident_state: str
    profile: str
    agency_npn: str
    demographics: Demographics
    demographics_version: int = 0
    licenses: list[License] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)

    @property
    def is_firm(self) -> bool:
        return self.entity_type == FIRM

    @property
    def display_name(self) -> str:
        if self.is_firm:
            return self.firm_name
        middle = f" {self.middle_name}" if self.middle_name else ""
        return f"{self.first_name}{middle} {self.last_name}"

    def states(self) -> list[str]:
        """States where the producer has licenses or appointments, resident state first."""
        seen = dict.fromkeys([self.resident_state])
        for lic in self.licenses:
            seen.setdefault(lic.state)
        for app in self.appointments:
            seen.setdefault(app.state)
        return list(seen)

    def branch_id(self, state: str) -> str:
        """A stable per-state id, used where NIPR uses its state record / branch keys."""
        digits = int(self.npn) * 31 + sum(ord(c) for c in state) * 7919
        return str(70_000_000 + digits % 9_000_000)
