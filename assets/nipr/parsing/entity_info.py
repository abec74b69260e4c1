"""The Entity Info report (`<PDB>`, one producer's full picture): its record handlers.

Unqualified upper-case tags, dates MM/DD/YYYY, flags "Yes"/"No". `PRODUCER/INDIVIDUAL` (or
`FIRM`) holds `ENTITY_BIOGRAPHIC` and `PRODUCER_LICENSING/LICENSE_INFORMATION/STATE@name`, each
state holding its `LICENSE`s (LOAs in `DETAILS/DETAIL`) and `APPOINTMENT_INFORMATION/APPOINTMENT`.
The error reply (`TRANSACTION_TYPE/TYPE = ERROR`) becomes an `errors` row. One module per report
shape: the PDB Alerts reader is `alerts.py`; both append to the shared `ReportState`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assets.nipr.parsing.report import APPOINTMENTS, DEMOGRAPHICS, ENTITY_INFO, LICENSING
from assets.nipr.parsing.state import ReportState
from assets.nipr.parsing.streaming import release
from assets.nipr.parsing.values import (
    RESIDENCY,
    YES_NO,
    appointment_status,
    clean,
    flag,
    scrub,
    status_active,
)


class EntityInfoReader(ReportState):
    """Handlers for the Entity Info elements; `entity_info_handlers()` maps tags to them."""

    def entity_info_handlers(self) -> dict[Any, Callable[[Any], None]]:
        return {
            "PDB": self._ei_pdb,
            "TYPE": self._ei_type,
            "ERROR": self._ei_error,
            "ENTITY_BIOGRAPHIC": self._ei_biographic,
            "LICENSE": self._ei_license,
            "APPOINTMENT": self._ei_appointment,
            "STATE": self._ei_state_block,
            "INDIVIDUAL": self._ei_producer_end,
            "FIRM": self._ei_producer_end,
        }

    def _ei_pdb(self, elem: Any) -> None:
        self._set_kind(ENTITY_INFO)
        kind = self.transaction_type
        if kind not in (None, "INDIVIDUAL", "FIRM", "ERROR"):
            self.errors.append(
                (
                    self.requested_npn,
                    "UNSUPPORTED_TRANSACTION",
                    f"Entity Info transaction type {kind!r} is not a producer report",
                )
            )
        release(elem)

    def _ei_type(self, elem: Any) -> None:
        parent = elem.getparent()
        if parent is not None and parent.tag == "TRANSACTION_TYPE":
            self.transaction_type = (clean(elem.text) or "").upper() or None

    def _ei_error(self, elem: Any) -> None:
        if elem.getparent() is None or elem.getparent().tag != "PDB":
            return
        description = clean(elem.findtext("DESCRIPTION")) or "NIPR returned an error"
        self.errors.append((self.requested_npn, "NIPR_ERROR", scrub(description)))

    def _ei_biographic(self, elem: Any) -> None:
        bio = elem.find("BIOGRAPHIC")
        fields = {c.tag: c.text for c in bio} if bio is not None else {}
        npn = self._npns[fields.get("NPN")]  # canonical: a padded NPN is the same producer
        parent = elem.getparent()
        company = clean(fields.get("NAME_COMPANY"))
        is_firm = (parent is not None and parent.tag == "FIRM") or company is not None
        email = None
        for node in elem.iterfind("CONTACT_INFOS/STATE/CONTACT_INFO/BUSINESS_EMAIL"):
            email = clean(node.text)
            if email:
                break
        if npn is None:
            self.errors.append(
                (self.requested_npn, "NO_NPN", "Entity Info producer without an NPN")
            )
        else:
            self.subject_npn[self._token] = npn
            if is_firm:
                self.firm_npns.add(npn)
                self.people[npn] = [None, company, email, 0, 0]
            else:
                first, last = clean(fields.get("NAME_FIRST")), clean(fields.get("NAME_LAST"))
                self.people[npn] = [first, last, email, 0, 0]
            for path in ("ADDRESSES/STATE", "CONTACT_INFOS/STATE"):
                for block in elem.iterfind(path):
                    state = clean(block.get("name"))
                    if state:
                        self.scopes.append((self._token, state, DEMOGRAPHICS))
        # Clearing drops ID_SSN with everything else: it never leaves this element.
        elem.clear(keep_tail=True)

    def _ei_state_of(self, elem: Any) -> str | None:
        node = elem.getparent()
        while node is not None and node.tag != "STATE":
            node = node.getparent()
        return self._code(node.get("name")) if node is not None else None

    def _ei_license(self, elem: Any) -> None:
        f = {c.tag: c.text for c in elem}
        token, state = self._token, self._ei_state_of(elem)
        number = clean(f.get("LICENSE_NUM"))
        class_code = self._code(f.get("LICENSE_CLASS_CODE"))
        self.licenses.append(
            (
                token,
                state,
                number,
                class_code,
                self._code(f.get("LICENSE_CLASS")),
                flag(RESIDENCY, f.get("RESIDENCY_STATUS")),
                flag(YES_NO, f.get("ACTIVE")),
                self._date(f.get("DATE_ISSUE_LICENSE_ORIG"), "DATE_ISSUE_LICENSE_ORIG"),
                self._date(f.get("DATE_EXPIRE_LICENSE"), "DATE_EXPIRE_LICENSE"),
                self._date(f.get("DATE_UPDATED"), "DATE_UPDATED"),
            )
        )
        details = elem.find("DETAILS")
        if details is not None:
            for detail in details.iterchildren("DETAIL"):
                g = {c.tag: c.text for c in detail}
                self.loas.append(
                    (
                        token,
                        state,
                        number,
                        class_code,  # a DETAIL belongs to its LICENSE: that number and class
                        self._code(g.get("LOA_CODE")),
                        self._code(g.get("LOA")),
                        status_active(g.get("STATUS")),
                        self._date(g.get("AUTHORITY_ISSUE_DATE"), "AUTHORITY_ISSUE_DATE"),
                    )
                )
        elem.clear(keep_tail=True)

    def _ei_appointment(self, elem: Any) -> None:
        f = {c.tag: c.text for c in elem}
        status = appointment_status(f.get("STATUS"))
        status_date = self._date(f.get("STATUS_REASON_DATE"), "STATUS_REASON_DATE")
        self.appointments.append(
            (
                self._token,
                self._ei_state_of(elem),
                self._code(f.get("COCODE")),
                self._code(f.get("LOA_CODE")) or "",
                self._code(f.get("COMPANY_NAME")),
                status,
                status_date if status == "Appointed" else None,
                self._code(f.get("TERMINATION_REASON")),
                status_date,
                self._date(f.get("APPONT_RENEWAL_DATE"), "APPONT_RENEWAL_DATE"),
            )
        )
        elem.clear(keep_tail=True)

    def _ei_state_block(self, elem: Any) -> None:
        parent = elem.getparent()
        if parent is None or parent.tag != "LICENSE_INFORMATION":
            return  # address / contact / other-name blocks are read with ENTITY_BIOGRAPHIC
        state = self._code(elem.get("name"))
        self.scopes.append((self._token, state, LICENSING))
        self.scopes.append((self._token, state, APPOINTMENTS))
        release(elem)

    def _ei_producer_end(self, elem: Any) -> None:
        parent = elem.getparent()
        if parent is None or parent.tag != "PRODUCER":
            return
        self._token += 1
        release(elem)
