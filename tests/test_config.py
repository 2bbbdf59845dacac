"""One typed settings object; production refuses development secrets; the README
documents every setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import Settings, load_settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_settings_come_from_vck_environment_variables(monkeypatch) -> None:
    monkeypatch.setenv("VCK_CONVERSATION_IDLE_MINUTES", "12")
    monkeypatch.setenv("VCK_DLT_TEMPLATE_IDS", '{"otp_ta": "1", "otp_en": "2"}')
    settings = load_settings()
    assert settings.conversation_idle_minutes == 12
    assert settings.dlt_template_ids == {"otp_ta": "1", "otp_en": "2"}


def test_production_fails_at_start_without_real_secrets() -> None:
    with pytest.raises(ValidationError, match="VCK_SECRET_KEY"):
        load_settings(environment="production")


def test_production_starts_with_real_secrets() -> None:
    secrets = {
        name: "a-real-secret"
        for name in (
            "secret_key",
            "twilio_auth_token",
            "telegram_webhook_secret",
            "telegram_bot_token",
            "dlt_api_token",
            "dlt_webhook_secret",
        )
    }
    assert load_settings(environment="production", **secrets).environment == "production"


def test_the_readme_documents_every_setting() -> None:
    readme = README.read_text()
    missing = [name for name in Settings.model_fields if f"VCK_{name.upper()}" not in readme]
    assert not missing, f"add to the README's configuration table: {missing}"
