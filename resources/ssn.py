"""SSN protection (SPEC section 13): keep the last four digits, and the full SSN only encrypted.

`SsnVault.protect(ssn)` returns `(last4, ciphertext)`; `SsnVault.fingerprinter()` gives a keyed
fingerprint that tells whether an uploaded SSN is the one stored. With a key
(`NPNFLOW_SSN_KEY`, a Fernet key: `npnflow ssn-key` prints a new one), the ciphertext is a Fernet token (AES-128-CBC with an
HMAC-SHA256, so a tampered token is refused on decryption). Without a key the full SSN is
discarded: the ciphertext is None and only the last four digits are kept.

An SSN never appears in a message this module raises, nor in the resource's `repr()`.
Decryption is deliberately not offered here: nothing in npnflow needs the full SSN back, and a
person who must read one does it with the key, outside the pipeline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field, PrivateAttr

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

SSN_KEY_VARIABLE = "NPNFLOW_SSN_KEY"
# HKDF's label for the fingerprint key: a key of its own, never the token's keys.
_FINGERPRINT_LABEL = b"npnflow producers.ssn_fingerprint v1"
# What may separate an SSN's digits. The digits themselves are ASCII 0-9 only: `\d` would also
# take Arabic-Indic or full-width digits, which cannot be encrypted as ASCII and would put a
# non-ASCII `ssn_last4` in the producers table.
_SEPARATORS = re.compile(r"[\s\-.]")
_NINE_DIGITS = re.compile(r"[0-9]{9}", re.ASCII)


class SsnKeyError(ValueError):
    """The configured key is not a Fernet key (the message never shows the key)."""


class InvalidSsn(ValueError):
    """The value is not 9 ASCII digits (the message never shows the value)."""


def generate_key() -> str:
    """A new Fernet key, as text for `NPNFLOW_SSN_KEY`."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def _digits(ssn: str) -> str:
    """The 9 ASCII digits of `ssn` (dashes, spaces and dots dropped), else InvalidSsn."""
    if len(ssn) == 9 and ssn.isascii() and ssn.isdigit():
        return ssn  # what validation hands over: no regular expression per SSN
    digits = _SEPARATORS.sub("", ssn)
    if not _NINE_DIGITS.fullmatch(digits):
        raise InvalidSsn("an SSN must have 9 digits, 0-9 only (value not shown)")
    return digits


# Bare, as Dagster's own docs subclass it: ConfigurableResource[X] would build a new pydantic
# class at run time. (type-arg is only reported where mypy is strict: hence unused-ignore.)
class SsnVault(dg.ConfigurableResource):  # type: ignore[type-arg, unused-ignore]
    """Encrypts SSNs with the key from `NPNFLOW_SSN_KEY`, or discards them without one."""

    # repr=False: the key never shows in logs, tracebacks or the UI's resource view.
    key: str | None = Field(
        default=None,
        repr=False,
        description=(
            "Fernet key (an EnvVar: NPNFLOW_SSN_KEY). Empty: full SSNs are discarded and only "
            "their last four digits are stored. Generate one with `npnflow ssn-key`."
        ),
    )

    _fernet: Fernet | None = PrivateAttr(default=None)

    def _cipher(self) -> Fernet | None:
        if self._fernet is None and self.key:
            from cryptography.fernet import Fernet

            try:
                self._fernet = Fernet(self.key.strip().encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raise SsnKeyError(
                    f"{SSN_KEY_VARIABLE} is not a Fernet key (32 url-safe base64-encoded bytes); "
                    "generate one with `npnflow ssn-key`"
                ) from None
        return self._fernet

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._cipher()  # a bad key fails when the run starts, not at the first SSN

    @property
    def encrypts(self) -> bool:
        return bool(self.key)

    def protector(self) -> Callable[[str], tuple[str, str | None]]:
        """`protect` as a plain function bound to the cipher: what bulk onboarding calls
        100,000 times (no resource attribute look-ups per SSN)."""
        cipher = self._cipher()
        if cipher is None:

            def last4_only(ssn: str) -> tuple[str, str | None]:
                return _digits(ssn)[-4:], None

            return last4_only
        encrypt = cipher.encrypt

        def encrypted(ssn: str) -> tuple[str, str | None]:
            digits = _digits(ssn)
            return digits[-4:], encrypt(digits.encode("ascii")).decode("ascii")

        return encrypted

    def fingerprinter(self) -> Callable[[str], str | None]:
        """A keyed fingerprint of an SSN's 9 digits, or None without a key (InvalidSsn as
        `protect`): HMAC-SHA256 under a key derived from the vault's key (HKDF, its own label),
        as hex. What lets onboarding see that an uploaded SSN is the one already stored and
        keep its token: a Fernet token differs at every encryption and costs ten times an HMAC
        (100,000 SSNs: about 1.5 s against 0.15 s). Keyed, because nine digits are only 10^9
        values: a plain hash would give the SSN away to anyone who hashed them all. Whoever
        holds the key can read the token anyway, so the fingerprint tells them nothing more."""
        if self._cipher() is None or not self.key:

            def none(ssn: str) -> str | None:
                _digits(ssn)  # the same InvalidSsn as with a key
                return None

            return none
        import base64
        import hashlib
        import hmac

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_FINGERPRINT_LABEL
        ).derive(base64.urlsafe_b64decode(self.key.strip().encode("ascii")))
        keyed = hmac.new(derived, digestmod=hashlib.sha256)

        def fingerprint(ssn: str) -> str | None:
            mac = keyed.copy()  # the key's pads already hashed: one update per SSN
            mac.update(_digits(ssn).encode("ascii"))
            return mac.hexdigest()

        return fingerprint

    def protect(self, ssn: str) -> tuple[str, str | None]:
        """`(last4, ciphertext or None)` of a 9-digit SSN (dashes, spaces and dots allowed);
        InvalidSsn, never UnicodeEncodeError, for anything else."""
        return self.protector()(ssn)

    def protect_many(self, ssns: Iterable[str]) -> list[tuple[str, str | None]]:
        protect = self.protector()
        return [protect(ssn) for ssn in ssns]


def ssn_vault_for(environ: Mapping[str, str] | None = None) -> SsnVault:
    """The vault of every environment: the key from `NPNFLOW_SSN_KEY` when it is set (read as
    an EnvVar when a run starts, never stored in the definitions), else none."""
    environ = os.environ if environ is None else environ
    return SsnVault(key=dg.EnvVar(SSN_KEY_VARIABLE) if environ.get(SSN_KEY_VARIABLE) else None)
