"""Read and check `config/notifications.yaml`: who gets the daily at-risk digest. Pure: no
Dagster, no database.

`load_notification_config(config_dir)` returns a `DigestSettings`, or None when the file does
not exist. A missing file, or one whose `recipients` list is empty, means "send no digest":
the digest asset says so in its metadata and never fails for it (a new installation has not
chosen its recipients yet). A file that says something wrong (an address that is not one, an
unknown key, a subject prefix on two lines) is a `ConfigError` naming the file, the place and
the value, every problem at once, like `config/portals.yaml`'s (`assets/portal/portal_config.py`).
"""

from __future__ import annotations

import email.errors
import email.utils
import unicodedata
from dataclasses import dataclass
from email.headerregistry import Address
from pathlib import Path
from typing import Any

# No types-PyYAML installed; mypy flags only the first importer (so: unused-ignore too).
import yaml  # type: ignore[import-untyped, unused-ignore]

from assets.reference.config_files import ConfigError, ConfigProblem, read_yaml_file
from schemas.email_addresses import checked_email

NOTIFICATIONS_FILE = "notifications.yaml"
DIGEST_SECTION = "at_risk_digest"
DIGEST_KEYS = ("recipients", "sender", "subject_prefix")
DEFAULT_SUBJECT_PREFIX = "[npnflow]"
# A subject a mail program shows whole; the prefix is only the tag in front of it.
SUBJECT_PREFIX_MAX_CHARS = 60


@dataclass(frozen=True)
class DigestSettings:
    """The at-risk digest's settings. `recipients`: normalised addresses, each once, in the
    file's order (empty: no digest). `sender`: the From header, or None for the mailer's own
    (NPNFLOW_SMTP_FROM, or the outbox's). `subject_prefix`: put before every subject."""

    recipients: tuple[str, ...]
    sender: str | None = None
    subject_prefix: str = DEFAULT_SUBJECT_PREFIX

    @property
    def sends_digest(self) -> bool:
        return bool(self.recipients)


def _problem(place: str | None, key: str | None, value: Any, message: str) -> ConfigProblem:
    return ConfigProblem(NOTIFICATIONS_FILE, place, key, value, message)


def _one_line(text: str) -> bool:
    return not any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


def _recipients(value: Any, problems: list[ConfigProblem]) -> tuple[str, ...]:
    here = f"{DIGEST_SECTION}.recipients"
    if value is None:
        return ()  # `recipients:` with nothing under it: no digest
    if isinstance(value, str):
        value = [value]  # one address written without the list's dash
    if not isinstance(value, list):
        problems.append(_problem(here, None, value, "recipients must be a list of email addresses"))
        return ()
    found: list[str] = []
    for number, item in enumerate(value, start=1):
        place = f"{here}[{number}]"
        if not isinstance(item, str) or not item.strip():
            problems.append(
                _problem(place, None, item, f"{item!r} is not an email address (expected text)")
            )
            continue
        address, why = checked_email(item.strip())
        if address is None:
            problems.append(
                _problem(place, None, item, f"{item.strip()!r} is not an email address: {why}")
            )
        elif address not in found:
            found.append(address)
    return tuple(found)


def _sender(value: Any, problems: list[ConfigProblem]) -> str | None:
    """The From header as written (a name and an address, or an address alone), checked."""
    here = f"{DIGEST_SECTION}.sender"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not _one_line(value):
        problems.append(
            _problem(here, None, value, "sender must be one line, e.g. 'Compliance <c@x.example>'")
        )
        return None
    name, address = email.utils.parseaddr(value.strip())
    normalised, why = checked_email(address) if address else (None, "no address found")
    if normalised is None:
        problems.append(
            _problem(
                here,
                None,
                value,
                f"sender {value.strip()!r} must be an address or 'Name <address>': {why}",
            )
        )
        return None
    try:
        return str(Address(display_name=name, addr_spec=normalised))
    except (ValueError, IndexError, email.errors.MessageError) as error:
        problems.append(
            _problem(here, None, value, f"sender cannot go into a mail header ({error})")
        )
        return None


def _subject_prefix(value: Any, problems: list[ConfigProblem]) -> str:
    here = f"{DIGEST_SECTION}.subject_prefix"
    if value is None:
        return DEFAULT_SUBJECT_PREFIX
    if not isinstance(value, str) or not _one_line(value):
        problems.append(_problem(here, None, value, "subject_prefix must be one line of text"))
        return DEFAULT_SUBJECT_PREFIX
    prefix = " ".join(value.split())
    if len(prefix) > SUBJECT_PREFIX_MAX_CHARS:
        problems.append(
            _problem(
                here,
                None,
                value,
                f"subject_prefix is {len(prefix)} characters; keep it to "
                f"{SUBJECT_PREFIX_MAX_CHARS} so the subject stays readable",
            )
        )
    return prefix


def _digest_section(document: Any, problems: list[ConfigProblem]) -> dict[str, Any] | None:
    if document is None:
        return None  # an empty file: nothing configured, no digest
    if not isinstance(document, dict):
        problems.append(
            _problem(
                None,
                None,
                None,
                f"expected a top-level '{DIGEST_SECTION}:' mapping "
                "(see the comments at the top of the shipped file)",
            )
        )
        return None
    for key in sorted(set(document) - {DIGEST_SECTION}, key=str):
        problems.append(
            _problem(None, str(key), key, f"unknown key {key!r} (expected {DIGEST_SECTION})")
        )
    section = document.get(DIGEST_SECTION)
    if section is None:
        return None
    if not isinstance(section, dict):
        problems.append(
            _problem(
                DIGEST_SECTION,
                None,
                section,
                f"{DIGEST_SECTION} must be a mapping of {', '.join(DIGEST_KEYS)}",
            )
        )
        return None
    for key in sorted(set(section) - set(DIGEST_KEYS), key=str):
        problems.append(
            _problem(
                DIGEST_SECTION,
                str(key),
                key,
                f"unknown key {key!r} (expected {', '.join(DIGEST_KEYS)})",
            )
        )
    return section


def load_notification_config(config_dir: Path) -> DigestSettings | None:
    """The digest's settings (see the module docstring): None when the file does not exist;
    raises ConfigError, listing every problem, when it says something wrong."""
    path = Path(config_dir) / NOTIFICATIONS_FILE
    if not path.is_file():
        return None
    problems: list[ConfigProblem] = []
    readable, document = read_yaml_file(path, NOTIFICATIONS_FILE, problems, loader=yaml.SafeLoader)
    section = _digest_section(document, problems) if readable else None
    settings = DigestSettings(recipients=())
    if section is not None:
        settings = DigestSettings(
            recipients=_recipients(section.get("recipients"), problems),
            sender=_sender(section.get("sender"), problems),
            subject_prefix=_subject_prefix(section.get("subject_prefix"), problems),
        )
    if problems:
        raise ConfigError(problems)
    return settings
