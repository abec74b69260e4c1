"""config/notifications.yaml: who gets the at-risk digest. A missing file or no recipients is
"no digest", never an error; a wrong value is one ConfigError naming the file and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets.compliance.notifications_config import (
    DEFAULT_SUBJECT_PREFIX,
    NOTIFICATIONS_FILE,
    DigestSettings,
    load_notification_config,
)
from assets.reference.config_files import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "config"


def _load(tmp_path: Path, text: str) -> DigestSettings | None:
    (tmp_path / NOTIFICATIONS_FILE).write_text(text, encoding="utf-8")
    return load_notification_config(tmp_path)


def _problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, text)
    return str(raised.value)


def test_the_shipped_file_loads_with_its_fictional_recipient() -> None:
    settings = load_notification_config(SHIPPED)

    assert settings is not None
    assert settings.recipients == ("compliance@harborstone.example",)
    assert settings.sends_digest


def test_no_file_means_no_digest_not_an_error(tmp_path: Path) -> None:
    assert load_notification_config(tmp_path) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "at_risk_digest:\n",
        "at_risk_digest:\n  recipients:\n",
        "at_risk_digest:\n  recipients: []\n",
    ],
)
def test_an_empty_file_or_an_empty_recipients_list_sends_no_digest(tmp_path: Path, text: str):
    settings = _load(tmp_path, text)

    assert settings is None or not settings.sends_digest


def test_recipients_are_normalised_and_listed_once_with_the_optional_settings(tmp_path: Path):
    settings = _load(
        tmp_path,
        "at_risk_digest:\n"
        "  recipients:\n"
        "    - Compliance@Carrier.EXAMPLE\n"
        "    - ops@bücher.example\n"
        "    - Compliance@carrier.example\n"
        "  sender: 'Compliance Desk <desk@carrier.example>'\n"
        "  subject_prefix: '  [Compliance]  '\n",
    )

    assert settings == DigestSettings(
        recipients=("Compliance@carrier.example", "ops@xn--bcher-kva.example"),
        sender="Compliance Desk <desk@carrier.example>",
        subject_prefix="[Compliance]",
    )


def test_one_address_without_a_list_is_accepted_and_the_prefix_has_a_default(tmp_path: Path):
    settings = _load(tmp_path, "at_risk_digest:\n  recipients: desk@carrier.example\n")

    assert settings == DigestSettings(("desk@carrier.example",), None, DEFAULT_SUBJECT_PREFIX)


def test_every_problem_is_reported_at_once_naming_the_file_the_place_and_the_value(
    tmp_path: Path,
) -> None:
    message = _problems(
        tmp_path,
        "at_risk_digest:\n"
        "  recipients:\n"
        "    - good@carrier.example\n"
        "    - not-an-address\n"
        "    - 42\n"
        "  sender: nobody at all\n"
        "  subject_prefx: typo\n"
        "digest: extra\n",
    )

    lines = message.splitlines()
    assert lines[0].startswith("5 problems in the configuration")
    assert all(line.startswith(f"{NOTIFICATIONS_FILE}: ") for line in lines[1:])
    assert "at_risk_digest.recipients[2]: 'not-an-address' is not an email address" in message
    assert "at_risk_digest.recipients[3]: 42 is not an email address (expected text)" in message
    assert "at_risk_digest.sender: sender 'nobody at all' must be an address" in message
    assert "unknown key 'subject_prefx' (expected recipients, sender, subject_prefix)" in message
    assert "unknown key 'digest' (expected at_risk_digest)" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a@b.example\n", "expected a top-level 'at_risk_digest:' mapping"),
        ("at_risk_digest: [a@b.example]\n", "at_risk_digest must be a mapping"),
        ("at_risk_digest:\n  recipients: {a: b}\n", "recipients must be a list of email"),
        ('at_risk_digest:\n  subject_prefix: "a\\nb"\n', "subject_prefix must be one line"),
        ("at_risk_digest:\n  subject_prefix: '" + "x" * 61 + "'\n", "keep it to 60"),
        ("at_risk_digest: [\n", "YAML syntax error"),
    ],
)
def test_a_wrong_shape_says_what_is_expected(tmp_path: Path, text: str, expected: str) -> None:
    message = _problems(tmp_path, text)

    assert NOTIFICATIONS_FILE in message
    assert expected in message
