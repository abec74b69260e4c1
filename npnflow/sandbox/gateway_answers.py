"""What the sandbox's Gateway accepted, kept in the data folder for the next sandbox of the same
world (`<data folder>/nipr_gateway_answers.jsonl`, one JSON object a line).

NIPR remembers the appointments and terminations it accepted, whichever of our processes asks
next. The generated world is a pure function of the day and never learns of them, so a
sandbox keeps its approved answers in memory (`GatewayService._appointed`); this file
carries them from `npnflow demo`'s sandbox to `npnflow ui`'s, so a line the demo appointed can
be terminated from the UI, as it could at NIPR. Only the data folder's world writes it
(`world_settings.sandbox_for`); the tests' sandboxes keep their answers in memory.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

ANSWERS_FILE_NAME = "nipr_gateway_answers.jsonl"

#: kind ("appointment" or "termination"), (npn, state, cocode), the LOA codes.
Answer = tuple[str, tuple[str, str, str], set[str]]


def read_answers(path: Path | None) -> list[Answer]:
    """The approved answers an earlier sandbox wrote to `path`, oldest first. A line that is
    not one (a hand edit, a write cut short) is passed over with a warning naming it."""
    if path is None or not path.exists():
        return []
    answers: list[Answer] = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
            line = (str(row["npn"]), str(row["state"]), str(row["cocode"]))
            answers.append((str(row["kind"]), line, {str(c) for c in row["loa_codes"]}))
        except (ValueError, KeyError, TypeError):
            logger.warning("%s line %d is not a Gateway answer; passed over", path, number)
    return answers


def remember_answer(
    path: Path,
    kind: str,
    line: tuple[str, str, str],
    loa_codes: list[str],
    received_at: dt.datetime,
) -> None:
    """Append one approved answer to `path`."""
    npn, state, cocode = line
    row = {
        "kind": kind,
        "npn": npn,
        "state": state,
        "cocode": cocode,
        "loa_codes": loa_codes,
        "received_at": received_at.isoformat(),
    }
    with path.open("a", encoding="utf-8") as answers:
        answers.write(json.dumps(row) + "\n")


def last_answer_is_appointment(
    answers: list[Answer], line: tuple[str, str, str], loa_codes: list[str]
) -> bool:
    """Whether the latest of `answers` (oldest first) for the line and any of its LOA codes
    (any code when none is given) was an appointment: NIPR holds it appointed."""
    kinds = [
        kind
        for kind, answered, codes in answers
        if answered == line and (not loa_codes or codes & set(loa_codes))
    ]
    return bool(kinds) and kinds[-1] == "appointment"
