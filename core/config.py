"""One typed settings object for every process (prefix ``VCK_``).

Nothing reads the environment at import time: entrypoints call :func:`load_settings`
once and hand the result down.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VCK_", env_file=".env", extra="ignore")

    # --- infrastructure -------------------------------------------------------------
    environment: str = Field("development", description="development, test or production")
    database_url: str = "postgresql+asyncpg://vck@127.0.0.1:55432/vck"
    redis_url: str = "redis://127.0.0.1:56379/0"
    db_pool_size: int = 20
    log_level: str = "INFO"

    # --- secrets (must be set in production) ----------------------------------------
    secret_key: SecretStr = SecretStr("dev-only-secret-change-me")
    """Keys the HMACs of OTP codes, Aadhaar dedup keys and ballot receipts."""

    # --- HTTP --------------------------------------------------------------------------
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    public_base_url: str = "http://127.0.0.1:8080"
    """The URL providers call us on; Twilio signatures are checked against it."""

    # --- Twilio (WhatsApp and SMS) ----------------------------------------------------
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: SecretStr = SecretStr("dev-twilio-auth-token")
    twilio_whatsapp_from: str = "whatsapp:+14155238886"
    twilio_sms_from: str = "+15005550006"
    twilio_api_base_url: str = "https://api.twilio.com"

    # --- Telegram ---------------------------------------------------------------------
    telegram_bot_token: SecretStr = SecretStr("123456:dev-telegram-token")
    telegram_webhook_secret: SecretStr = SecretStr("dev-telegram-webhook-secret")
    telegram_api_base_url: str = "https://api.telegram.org"

    # --- Indian DLT SMS provider (Exotel-shaped) ------------------------------------
    dlt_api_base_url: str = "https://api.exotel.com"
    dlt_account_sid: str = "vck-dev"
    dlt_api_key: str = "dev-dlt-key"
    dlt_api_token: SecretStr = SecretStr("dev-dlt-token")
    dlt_sender_id: str = "VCKPTY"
    dlt_entity_id: str = "1101000000000000000"
    dlt_template_ids: dict[str, str] = {
        "otp_ta": "1107000000000000001",
        "otp_en": "1107000000000000002",
    }
    """DLT template ids by purpose and language (JSON in the environment)."""
    dlt_reply_template_id: str = "1107000000000000003"
    """A registered template of {#var#} slots that conversational replies fill."""
    dlt_webhook_secret: SecretStr = SecretStr("dev-dlt-webhook-secret")
    sms_dlt_country_codes: str = "+91"
    """Numbers with these prefixes get SMS through the DLT provider, others through Twilio."""

    # --- conversation -----------------------------------------------------------------
    conversation_idle_minutes: int = 30
    twiml_reply_deadline_seconds: float = 10.0
    """Twilio waits 15 s for a webhook's answer. A reply ready later than this (or after
    Twilio hung up) goes through the REST API instead of the TwiML it would never read."""
    inbound_limit_messages: int = 20
    """Messages one address may send per window; the next gets one "please slow down",
    the rest of the window is dropped (0 turns the limit off)."""
    inbound_limit_window_seconds: float = 10.0

    # --- OTP (FACTS.md) ------------------------------------------------------------------
    otp_ttl_minutes: int = 5
    otp_max_attempts: int = 5
    otp_max_sends_10min: int = 3
    otp_max_sends_day: int = 10

    # --- fan-out (FACTS.md) ---------------------------------------------------------
    fanout_batch_size: int = 500
    rate_whatsapp_per_sec: float = 80.0
    rate_telegram_per_sec: float = 30.0
    rate_sms_twilio_per_sec: float = 10.0
    rate_sms_dlt_per_sec: float = 100.0
    whatsapp_daily_unique_limit: int = 100_000
    fanout_overflow_to_sms: bool = True
    """Beyond the WhatsApp tier, members with no Telegram get SMS (else they wait a day)."""
    fanout_phone_fallback: bool = True
    """SMS to the membership phone of a member with no SMS address who never said STOP."""
    sms_cost_per_part_paise: int = 25
    provider_timeout_seconds: float = 10.0

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.environment == "production":
            weak = [
                name
                for name in (
                    "secret_key",
                    "twilio_auth_token",
                    "telegram_bot_token",
                    "telegram_webhook_secret",
                    "dlt_api_token",
                    "dlt_webhook_secret",
                )
                if getattr(self, name).get_secret_value().startswith(("dev", "123456:dev"))
            ]
            if weak:
                raise ValueError(
                    "production needs real secrets; set VCK_"
                    + ", VCK_".join(n.upper() for n in weak)
                )
        return self

    @cached_property
    def dlt_prefixes(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.sms_dlt_country_codes.split(",") if p.strip())


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
