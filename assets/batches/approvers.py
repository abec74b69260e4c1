"""Who may approve a batch: `config/approvers.yaml` (issue 19, docs/security.md).

Without the file, anyone who gives a name may approve (the behaviour before the file existed).
With it:
- a batch is approved only by a name listed for its CoCode and kind (appointment, termination);
- a batch whose fees to send (state fees and NIPR's own, Ready to Submit lines) are above the
  entry's `max_fees_per_batch` is refused, whoever asks: split the file, or raise the ceiling;
- with `four_eyes: true`, whoever dropped the file the batch came from (`npnflow drop --by`)
  may not approve its batches;
- an automatic approval (Submit = TRUE) is an approval by the file's dropper through the upload:
  it stands only when a dropper is known, may approve the batch by the rules above (four_eyes
  forbids it by definition: a dropper approving their own file), and the fees are within the
  ceiling; otherwise the batch waits in Pending Review for a listed approver. That protects the
  customer: the approvers file can never be bypassed by ticking Submit.

Loading and checking the file is here (reading one YAML file, no database); the decisions are
pure functions of the policy and the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

from resources import paths
from schemas import statuses

APPROVERS_FILE = "approvers.yaml"


class ApproversConfigError(ValueError):
    """config/approvers.yaml is wrong; the message names the file and the value."""


@dataclass(frozen=True)
class ApproverEntry:
    cocode: str
    kind: str
    names: tuple[str, ...]
    max_fees_per_batch: Decimal | None


@dataclass(frozen=True)
class ApproverPolicy:
    path: Path
    four_eyes: bool
    entries: tuple[ApproverEntry, ...]

    def entry_for(self, cocode: str, kind: str) -> ApproverEntry | None:
        return next((e for e in self.entries if e.cocode == cocode and e.kind == kind), None)


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def approvers_path() -> Path:
    return paths.config_dir() / APPROVERS_FILE


def load_approvers(path: Path | None = None) -> ApproverPolicy | None:
    """The policy in `path` (default: config/approvers.yaml); None when the file does not exist."""
    path = path or approvers_path()
    if not path.exists():
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ApproversConfigError(f"{path}: not valid YAML ({error})") from None
    return parse_approvers(document, path)


def _fail(path: Path, where: str, problem: str) -> ApproversConfigError:
    return ApproversConfigError(f"{path}: {where}: {problem}")


def parse_approvers(document: object, path: Path) -> ApproverPolicy:
    """Check the file's content; every problem names the file, the entry and the value."""
    if not isinstance(document, Mapping):
        raise _fail(path, "the file", "expected `four_eyes:` and `approvers:` at the top")
    unknown = sorted(set(map(str, document)) - {"four_eyes", "approvers"})
    if unknown:
        raise _fail(path, "the file", f"unknown key(s) {', '.join(unknown)}")
    four_eyes = document.get("four_eyes", False)
    if not isinstance(four_eyes, bool):
        raise _fail(path, "four_eyes", f"{four_eyes!r} is not true or false")
    listed = document.get("approvers")
    if not isinstance(listed, list) or not listed:
        raise _fail(path, "approvers", "expected a list of entries (cocode, kind, names)")
    entries: list[ApproverEntry] = []
    for number, item in enumerate(listed, start=1):
        entries.append(_entry(path, number, item))
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        if (entry.cocode, entry.kind) in seen:
            raise _fail(
                path, f"CoCode {entry.cocode}", f"{entry.kind} is listed twice: merge the entries"
            )
        seen.add((entry.cocode, entry.kind))
    return ApproverPolicy(path=path, four_eyes=four_eyes, entries=tuple(entries))


def _entry(path: Path, number: int, item: Any) -> ApproverEntry:
    where = f"approvers entry {number}"
    if not isinstance(item, Mapping):
        raise _fail(path, where, "expected cocode, kind and names")
    unknown = sorted(set(map(str, item)) - {"cocode", "kind", "names", "max_fees_per_batch"})
    if unknown:
        raise _fail(path, where, f"unknown key(s) {', '.join(unknown)}")
    cocode = item.get("cocode")
    if not isinstance(cocode, str) or not (cocode.isdigit() and len(cocode) == 5):
        raise _fail(path, where, f'cocode {cocode!r} is not 5 digits in quotes (e.g. "01234")')
    where = f"CoCode {cocode}"
    kind = item.get("kind")
    if kind not in statuses.TRANSACTION_KINDS:
        raise _fail(
            path, where, f"kind {kind!r} is not one of {', '.join(statuses.TRANSACTION_KINDS)}"
        )
    names = item.get("names")
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, str) and n.strip() for n in names)
    ):
        raise _fail(path, f"{where} {kind}", f"names {names!r} is not a list of names")
    ceiling_value = item.get("max_fees_per_batch")
    ceiling: Decimal | None = None
    if ceiling_value is not None:
        try:
            ceiling = Decimal(str(ceiling_value))
        except InvalidOperation:
            ceiling = None
        if ceiling is None or isinstance(ceiling_value, bool) or not ceiling >= 0:
            raise _fail(
                path,
                f"{where} {kind}",
                f"max_fees_per_batch {ceiling_value!r} is not an amount in dollars (e.g. 500.00)",
            )
    return ApproverEntry(
        cocode=cocode,
        kind=str(kind),
        names=tuple(" ".join(n.split()) for n in names),
        max_fees_per_batch=ceiling,
    )


def approval_refusal(
    policy: ApproverPolicy | None,
    *,
    batch_id: str,
    cocode: str,
    kind: str,
    fees: Decimal,
    approver: str,
    droppers: Sequence[str],
) -> str | None:
    """Why `approver` may not approve this batch, for people; None when they may."""
    if policy is None:
        return None
    entry = policy.entry_for(cocode, kind)
    if entry is None:
        return (
            f"{policy.path} names no approver for CoCode {cocode} {kind}s, so nobody may approve "
            f"{batch_id}. Add an entry for CoCode {cocode}, kind {kind}, to that file."
        )
    who_may = ", ".join(entry.names)
    if entry.max_fees_per_batch is not None and fees > entry.max_fees_per_batch:
        return (
            f"{batch_id} sends ${fees:,.2f} in fees, above the ceiling of "
            f"${entry.max_fees_per_batch:,.2f} per batch for CoCode {cocode} {kind}s "
            f"({policy.path}). Nobody may approve it as it is: reject it and request the lines "
            "in smaller files, or raise max_fees_per_batch."
        )
    if not any(_same_name(approver, name) for name in entry.names):
        return (
            f"{approver} may not approve {batch_id}: CoCode {cocode} {kind}s are approved by "
            f"{who_may} ({policy.path})."
        )
    if policy.four_eyes and any(_same_name(approver, d) for d in droppers):
        others = [n for n in entry.names if not any(_same_name(n, d) for d in droppers)]
        return (
            f"{approver} dropped the file {batch_id} came from and may not approve it "
            f"(four_eyes: true in {policy.path}); ask "
            + (", ".join(others) if others else "another approver (none is listed: add one)")
            + "."
        )
    return None


def auto_approval_refusal(
    policy: ApproverPolicy | None,
    *,
    batch_id: str,
    cocode: str,
    kind: str,
    fees: Decimal,
    droppers: Sequence[str],
) -> str | None:
    """Why a Submit = TRUE batch may not be approved automatically; None when it may."""
    if policy is None:
        return None
    if policy.four_eyes:
        return f"four_eyes: true in {policy.path}: a listed approver other than the dropper approves it"
    if not droppers:
        return (
            f"who dropped the file is not known (`npnflow drop --by NAME`), and {policy.path} "
            "lists who may approve"
        )
    refusals = [
        approval_refusal(
            policy,
            batch_id=batch_id,
            cocode=cocode,
            kind=kind,
            fees=fees,
            approver=dropper,
            droppers=droppers,
        )
        for dropper in droppers
    ]
    if any(r is None for r in refusals):
        return None
    return str(refusals[0])
