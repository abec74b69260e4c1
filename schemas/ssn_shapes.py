"""What "shaped like an SSN" means, once, for everything a person or a log reads. Pure.

An SSN is nine digits written as typed: `123456789`, or three, two and four digits separated
by dashes, spaces or dots, mixed as people type them (`123-45-6789`, `123 45 6789`,
`123.45.6789`, `123 - 45-6789`, `123-456789`), and never part of a longer run of digits (a
10-digit NPN is not one). Any decimal digit counts here, ASCII or not: masking protects the
person, so a full-width or Arabic-Indic SSN is masked too, even though the upload refuses such
digits in its identifier columns.

`mask_ssn_shapes(text)` keeps the last four digits (`***-**-6789`), which is what SPEC section
13 allows to be shown. A 9-digit NPN is masked as well wherever it is shown (messages,
warnings, reports, metadata): the text cannot tell it from an SSN, and the row and column
still say where to look (docs/decisions/0021-ssn-shapes-masked-everywhere.md).
"""

from __future__ import annotations

import re

# Between the groups: up to three of space (any width), dash (any of the dashes a word
# processor substitutes), dot, or an invisible character pasted with the number.
_SEPARATOR = r"[\s.\-\u00ad\u2010-\u2015\u2212\u200b-\u200d\u2060\ufeff]{0,3}"
SSN_SHAPE = re.compile(
    rf"(?<!\d)(\d{{3}}){_SEPARATOR}(\d{{2}}){_SEPARATOR}(\d{{4}})(?!\d)", re.UNICODE
)
SSN_MASK = "***-**-"

# Headers of a column meant to hold SSNs ("Social Security Number", "SSN", "Soc Sec #",
# "SS No.", "Tax ID"), compared as lower-case words.
_SSN_HEADER_WORDS = re.compile(
    r"\b(?:ssn|ssns|itin|tin|social\s*sec\w*|soc\.?\s*sec\w*|ss\s*(?:#|no\b|num\w*)|"
    r"tax\s*(?:payer\s*)?id\w*|taxpayer\s*id\w*)",
    re.IGNORECASE,
)


def mask_ssn_shapes(text: str) -> str:
    """`text` with every SSN-shaped run reduced to its last four digits (`***-**-6789`)."""
    return SSN_SHAPE.sub(lambda match: SSN_MASK + match.group(3), text)


def contains_ssn_shape(text: str) -> bool:
    """Whether `text` holds an SSN-shaped run anywhere (a name "Ann 123 45 6789" does)."""
    return SSN_SHAPE.search(text) is not None


def is_ssn_shape(text: str) -> bool:
    """Whether `text`, trimmed, is one SSN-shaped value and nothing else."""
    return SSN_SHAPE.fullmatch(text.strip()) is not None


def looks_like_ssn_header(label: str) -> bool:
    """Whether a column header names SSNs ("Social Security Number", "SSN", "Soc Sec #")."""
    words = re.sub(r"[_/()\[\]:-]+", " ", label)
    return _SSN_HEADER_WORDS.search(words) is not None
