"""One typed settings object; safe by default (production unless told otherwise, real
secrets checked by value and length); the README documents every setting."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from core.config import SECRETS, ConfigError, Settings, is_loopback, load_settings

README = Path(__file__).resolve().parent.parent / "README.md"
DEV_VALUES = {name: Settings.model_fields[name].default.get_secret_value() for name in SECRETS}


def real_secrets() -> dict[str, str]:
    return {name: secrets.token_urlsafe(24) for name in SECRETS}


def test_settings_come_from_vck_environment_variables(monkeypatch) -> None:
    monkeypatch.setenv("VCK_CONVERSATION_IDLE_MINUTES", "12")
    monkeypatch.setenv("VCK_DLT_TEMPLATE_IDS", '{"otp_ta": "1", "otp_en": "2"}')
    settings = load_settings()
    assert settings.conversation_idle_minutes == 12
    assert settings.dlt_template_ids == {"otp_ta": "1", "otp_en": "2"}


def test_without_an_environment_it_is_production_and_refuses_the_development_secrets(
    monkeypatch,
) -> None:
    monkeypatch.delenv("VCK_ENVIRONMENT")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    for name in SECRETS:
        assert f"VCK_{name.upper()}" in message
        assert DEV_VALUES[name] not in message  # names the settings, never their values


@pytest.mark.parametrize("environment", ["production", "Production", " PRODUCTION ", "staging"])
def test_every_spelling_of_a_deployed_environment_is_guarded(environment: str) -> None:
    with pytest.raises(ConfigError, match="VCK_SECRET_KEY"):
        load_settings(environment=environment)


@pytest.mark.parametrize("environment", ["prod", "live", "dev", ""])
def test_an_unknown_environment_is_refused_not_treated_as_development(environment: str) -> None:
    with pytest.raises(ConfigError, match="VCK_ENVIRONMENT: must be one of production"):
        load_settings(environment=environment)


@pytest.mark.parametrize(
    "weak",
    [
        "",
        "changeme",  # short
        "a-secret-of-15c",  # 15 characters
        "x" * 40,  # a placeholder, however long
        "abababababababababab",
        DEV_VALUES["twilio_auth_token"],  # another secret's development value
    ],
)
def test_production_refuses_empty_short_placeholder_and_development_secrets(weak: str) -> None:
    given = real_secrets() | {"secret_key": weak}
    with pytest.raises(ConfigError) as refused:
        load_settings(environment="production", **given)
    assert "VCK_SECRET_KEY" in str(refused.value)
    assert "VCK_TWILIO_AUTH_TOKEN" not in str(refused.value)  # only what is wrong
    if weak:
        assert weak not in str(refused.value)


def test_a_secret_is_judged_by_its_value_not_its_prefix() -> None:
    given = real_secrets() | {"dlt_webhook_secret": "dev" + secrets.token_hex(16)}
    assert load_settings(environment="production", **given).environment == "production"


def test_production_starts_with_real_secrets_on_any_address() -> None:
    settings = load_settings(environment="Production", http_host="0.0.0.0", **real_secrets())
    assert settings.environment == "production"
    assert not settings.weak_secrets()
    assert not settings.allows_demo_data


def test_development_keeps_the_development_secrets_on_loopback_only() -> None:
    assert load_settings(environment="Development").weak_secrets() == list(SECRETS)
    assert load_settings(environment="development", http_host="::1").allows_demo_data
    with pytest.raises(ConfigError, match="loopback") as refused:
        load_settings(environment="development", http_host="0.0.0.0")
    assert "VCK_SECRET_KEY" in str(refused.value)
    given = real_secrets()
    assert load_settings(environment="development", http_host="0.0.0.0", **given)


def test_an_explicit_demo_may_bind_every_address_with_the_development_secrets() -> None:
    """In a container 0.0.0.0 is the only way to reach the port compose publishes on the
    host's loopback; asking for ``demo`` by name is the operator's choice."""
    settings = load_settings(environment="DEMO", http_host="0.0.0.0")
    assert settings.environment == "demo" and settings.allows_demo_data


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.5", False),
        ("bot.internal", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_readme_documents_every_setting() -> None:
    readme = README.read_text()
    missing = [name for name in Settings.model_fields if f"VCK_{name.upper()}" not in readme]
    assert not missing, f"add to the README's configuration table: {missing}"
