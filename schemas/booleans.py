"""The words npnflow reads as true or false, in every file a person fills or a setting.

One spelling for the templates (`Submit`, `JIT` ...), the reference and company setup files,
the termination requests and the environment's on/off settings, so a value that loads in one
place loads in every other. Compared case-insensitively, after trimming.
"""

from __future__ import annotations

TRUE_WORDS: frozenset[str] = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS: frozenset[str] = frozenset({"false", "no", "n", "0", "f"})
#: Settings (environment variables) also take on/off, as servers' configuration usually does.
SETTING_TRUE_WORDS: frozenset[str] = TRUE_WORDS | {"on"}
SETTING_FALSE_WORDS: frozenset[str] = FALSE_WORDS | {"off"}


def parse_boolean_word(text: object) -> bool | None:
    """True or False for a word of TRUE_WORDS / FALSE_WORDS, else None (the caller says why)."""
    word = str(text).strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None
