"""Click parameter types the commands share: how an NPN typed on the command line is read.

Every command that takes NPNs reads them through `NPN` (one value) or `NPNS` (a value that
may hold several, separated by spaces, `,` or `;`), so `048905991` is the producer NIPR calls
`48905991` in every command, with a note on stderr when a value changed, and an NPN NIPR could
never know (all zeros, over 10 digits, letters) is refused before anything runs.
"""

from __future__ import annotations

import re

import click

from schemas.npns import canonical_npn, npn_problem, npn_read_note
from schemas.ssn_shapes import mask_ssn_shapes

__all__ = ["NPN", "NPNS", "NpnList", "NpnType", "flat_npns", "read_npn"]


def read_npn(
    value: str, param: click.Parameter | None = None, where: str = "", hint: str | None = None
) -> str:
    """The canonical NPN for `value`; a note on stderr when it changed; BadParameter if no NPN.

    `where` prefixes the note and the refusal ("row 3: "), for NPNs read from a file.
    """
    problem = npn_problem(value)
    if problem is not None:
        # An SSN typed where an NPN goes is never printed whole (SPEC 13).
        raise click.BadParameter(
            where + mask_ssn_shapes(problem) + ".", param=param, param_hint=hint
        )
    canonical = canonical_npn(value)
    note = npn_read_note(value, canonical)
    if note is not None:
        click.echo(where + note, err=True)
    return canonical


class NpnType(click.ParamType):
    """One NPN, read as NIPR writes it (no leading zeros)."""

    name = "npn"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        return read_npn(str(value), param)


class NpnList(click.ParamType):
    """One or more NPNs in one value (`10000001,10000002`), each read as `NpnType` does."""

    name = "npn[,npn...]"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, ...]:
        if isinstance(value, tuple):  # already converted (a default, or a second pass)
            return value
        parts = [p for p in re.split(r"[,;\s]+", str(value)) if p]
        return tuple(read_npn(p, param) for p in parts)


NPN = NpnType()
NPNS = NpnList()


def flat_npns(values: tuple[tuple[str, ...], ...]) -> list[str]:
    """The NPNs of a `nargs=-1` argument of `NPNS`, in the order typed, each once."""
    return list(dict.fromkeys(npn for group in values for npn in group))
