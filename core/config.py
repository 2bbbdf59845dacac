"""One typed settings object for every process (prefix ``VCK_``).

Nothing reads the environment at import time: entrypoints call :func:`load_settings`
once and hand the result down.

Safe by default: with no ``VCK_ENVIRONMENT`` a process is in ``production`` and refuses
to start while a secret is empty, short or still the development value published in
this file. Local runs say so explicitly (``make``, ``scripts/demo.sh`` and the tests set
``development`` or ``test``).
"""

from __future__ import annotations

import ipaddress
from functools import cached_property

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENVIRONMENTS = ("production", "staging", "development", "demo", "test")
"""``development`` allows the development secrets on a loopback address only; ``demo``
(an explicit local demo, e.g. in a container that must bind 0.0.0.0 to publish its port
to the host's loopback) allows them anywhere; ``test`` is the test suite."""
DEMO_ENVIRONMENTS = frozenset({"development", "demo", "test"})
"""Where the development secrets and the demo data (officials who can announce
state-wide) may be used."""
SECRETS = (
    "secret_key",
    "twilio_auth_token",
    "telegram_bot_token",
    "telegram_webhook_secret",
    "dlt_api_token",
    "dlt_webhook_secret",
    "razorpay_key_secret",
    "razorpay_webhook_secret",
)
MIN_SECRET_LENGTH = 16
MIN_SECRET_DISTINCT_CHARACTERS = 5
"""Catches placeholders such as ``xxxxxxxxxxxxxxxx``; a random 16-character hex string
has fewer than 5 distinct characters less than once in a million draws."""


class ConfigError(ValueError):
    """Settings a process must not start with. The message names settings, never their
    values (a pydantic error would print every input, secrets included)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VCK_", env_file=".env", extra="ignore")

    # --- infrastructure -------------------------------------------------------------
    environment: str = Field("production", description=", ".join(ENVIRONMENTS))
    database_url: str = "postgresql+asyncpg://vck@127.0.0.1:55432/vck"
    redis_url: str = "redis://127.0.0.1:56379/0"
    db_pool_size: int = 20
    db_statement_timeout_seconds: float = 5.0
    """PostgreSQL cancels a statement running longer (the fan-out sets its own bound)."""
    db_lock_timeout_seconds: float = 3.0
    """PostgreSQL gives up waiting for a row or advisory lock after this long."""
    db_command_timeout_seconds: float = 10.0
    """asyncpg's own deadline per statement, for a server that stopped answering; above
    the statement timeout, so normally the server cancels first."""
    redis_socket_timeout_seconds: float = 2.0
    redis_connect_timeout_seconds: float = 2.0
    log_level: str = "INFO"

    # --- secrets (must be set in production) ----------------------------------------
    secret_key: SecretStr = SecretStr("dev-only-secret-change-me")
    """Keys the HMACs of OTP codes, Aadhaar dedup keys and ballot receipts."""

    # --- HTTP --------------------------------------------------------------------------
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    ops_host: str | None = None
    """When set, /healthz and /metrics are served here (and no longer on the webhook
    port): an internal address that providers and strangers cannot reach."""
    ops_port: int = 9090
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
    """DLT template ids by template key (JSON in the environment): ``otp_ta``, ``otp_en``
    and every key ``vck dlt templates --export`` lists (core/dlt_templates.py). Outside
    production and staging a key missing here gets a made-up id the fake knows."""
    dlt_webhook_secret: SecretStr = SecretStr("dev-dlt-webhook-secret")
    sms_dlt_country_codes: str = "+91"
    """Numbers with these prefixes get SMS through the DLT provider, others through Twilio."""

    # --- donations: the payment gateway (Razorpay) and the law (FACTS.md) -----------
    razorpay_api_base_url: str = "https://api.razorpay.com"
    razorpay_key_id: str = "rzp_test_vckdevkey000"
    razorpay_key_secret: SecretStr = SecretStr("dev-razorpay-key-secret")
    razorpay_webhook_secret: SecretStr = SecretStr("dev-razorpay-webhook-secret")
    """Signs ``POST /webhooks/razorpay`` (set the same value in the Razorpay dashboard)."""
    donation_min_rupees: int = 10
    donation_max_rupees: int = 100_000
    """UPI's usual per-payment limit; a larger gift is a bank transfer to the treasurer."""
    donation_quick_amounts: str = "500,1000,2000,5000"
    """The amounts offered as choices (rupees, comma-separated); "other" is always there."""
    donation_link_minutes: int = Field(60, ge=16, le=180 * 24 * 60)
    """A payment link expires after this long (Razorpay wants 15 minutes to six months)."""
    donation_reconcile_after_minutes: int = 20
    """Links still unpaid this long are asked about with the gateway's fetch API."""
    receipt_link_days: int = 7
    """A signed receipt link works this long; the donor can ask for a fresh one."""
    party_name: str = "Viduthalai Chiruthaigal Katchi"
    party_pan: str = "AAAAV0000A"
    """Placeholder: the party's PAN, printed on every receipt. Set it before going live."""
    party_registration: str = "Registered with the Election Commission of India (placeholder)"
    """Placeholder: the party's registration under s. 29A of the RP Act, as printed."""
    donation_tax_section: str = "section 80GGC of the Income-tax Act, 1961"
    """What a non-cash receipt names for the donor's deduction. FACTS.md: the Income-tax
    Act 2025 carries the deduction from tax year 2026-27; confirm its section number
    with the treasurer and set it here before printing receipts for that year."""

    # --- personal data (DPDP) --------------------------------------------------------
    grievance_officer_contact: str = Field("privacy@vck.example", max_length=30)
    """Whom a member contacts with a grievance about their data (DPDP Act 2023, s. 8(10)
    and 13): shown in the privacy notice. The default is a placeholder: set it to the
    grievance officer's real e-mail or phone before going live. At most 30 characters:
    by SMS it fills one DLT ``{#var#}`` slot."""

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
    otp_allowed_country_codes: str = "+91"
    """Codes go only to numbers with these prefixes (comma-separated): SMS pumping to
    premium foreign numbers costs the party and harasses strangers."""
    otp_requester_max_hour: int = 5
    otp_requester_max_day: int = 10
    """Codes one chat or number may ask for, to any numbers (a Telegram chat typing 50
    numbers is refused after these)."""
    otp_max_wrong_day: int = 10
    """Wrong codes typed for one number and purpose, across its codes, before it is
    locked for the rest of the rolling day."""
    otp_daily_ceiling: int = 20_000
    """Codes of every kind in a rolling day; past it no code is sent and an alert is
    logged (and counted in vck_otp_refusals{reason="ceiling"})."""

    # --- retention (core/services/retention.py) ---------------------------------------
    retention_otp_days: int = 1
    retention_message_body_days: int = 90
    retention_status_event_days: int = 90

    # --- elections (core/services/ballots.py) --------------------------------------
    election_ballot_batch: int = Field(default=100, ge=1)
    """Ballots are held and put on the board in shuffled batches of at least this many:
    each batch hides its voters among at least this many others."""

    # --- fan-out (FACTS.md) ---------------------------------------------------------
    fanout_batch_size: int = 500
    rate_whatsapp_per_sec: float = 80.0
    rate_telegram_per_sec: float = 30.0
    rate_sms_twilio_per_sec: float = 10.0
    rate_sms_dlt_per_sec: float = 100.0
    rate_reserve_seconds: float = 0.1
    """Tokens of each sender's bucket kept for replies, codes and notices (the priority
    share), in seconds of its rate. Every process — the bot's inline replies and every
    worker — must use the same value: it sizes the shared bucket (core/ratelimit.py)."""
    whatsapp_daily_unique_limit: int = 100_000
    fanout_overflow_to_sms: bool = True
    """Beyond the WhatsApp tier, members with no Telegram get SMS (else they wait a day)."""
    fanout_phone_fallback: bool = True
    """SMS to the membership phone of a member with no SMS address who never said STOP."""
    sms_cost_per_part_paise: int = 25
    provider_timeout_seconds: float = 10.0
    fanout_statement_timeout_seconds: float = 600.0
    """The fan-out's own statement and lock timeout: a state-wide publish writes about a
    million rows (4-21 s measured) and holds the tier lock meanwhile."""
    fanout_parts: int = 2
    """A large fan-out written in this many member ranges at once, each on its own
    connection (core/fanout.py); 1 writes in one statement. The state-wide write is
    bound by PostgreSQL's CPU: 2 parts took it from 4.8 s to 3.7 s on the 2-vCPU
    machine (docs/notifier.md); more parts than PostgreSQL has cores are slower."""
    fanout_split_min_members: int = 100_000
    """Active memberships in scope from which a fan-out is split into parts."""

    # --- events (core/services/events.py, core/services/attendance.py) -----------------
    event_reminder_minutes: list[int] = [24 * 60, 2 * 60]
    """Reminders to registered members, in minutes before the start; each goes once."""
    event_offer_confirm_minutes: int = 30
    """How long a freed place is held for the first waiting member before it passes on."""
    event_checkin_opens_minutes: int = 60
    """Check-in opens this long before the start and closes at the end."""
    event_location_max_age_seconds: int = 120
    """A Telegram location older than this (by its own date) is refused."""
    event_accuracy_cap_m: int = 150
    """The geo-fence is widened by Telegram's reported accuracy, up to this much."""
    event_radius_min_m: int = 20
    event_radius_max_m: int = 5_000
    event_venue_code_minutes: int = 10
    """The venue code shown to officials changes this often."""
    event_rsvp_points: int = 5
    event_attendance_points: int = 20
    # --- grievances (core/services/grievances.py) --------------------------------------
    grievance_categories: list[dict[str, str]] = [
        {"id": "atrocity", "en": "Caste atrocity/violence", "ta": "சாதி வன்கொடுமை/வன்முறை",
         "priority": "urgent"},
        {"id": "police", "en": "Police or legal help", "ta": "காவல்/சட்ட உதவி",
         "priority": "high"},
        {"id": "welfare", "en": "Welfare or certificate", "ta": "நலத்திட்டம்/சான்றிதழ்",
         "priority": "medium"},
        {"id": "civic", "en": "Local civic problem", "ta": "ஊர்ப் பிரச்சினை", "priority": "medium"},
        {"id": "party", "en": "Party matter", "ta": "கட்சி விவகாரம்", "priority": "low"},
        {"id": "other", "en": "Other", "ta": "மற்றவை", "priority": "low"},
    ]  # fmt: skip
    """What a member may complain about (JSON in the environment): id, English and Tamil
    names (at most 21 characters: a WhatsApp list item) and the priority it gets."""
    grievance_ack_hours: dict[str, float] = {"urgent": 2, "high": 24, "medium": 72, "low": 168}
    """Hours an official has to acknowledge a ticket, by priority, at each level."""
    grievance_resolve_hours: dict[str, float] = {
        "urgent": 72, "high": 168, "medium": 336, "low": 504,
    }  # fmt: skip
    """Hours to resolve it, by priority, at each level; never past the outer bound."""
    grievance_max_days: float = 21
    """The outer bound (CPGRAMS): no ticket's resolve-by is more than this after it was
    raised (or reopened), whatever its level."""
    grievance_description_max: int = Field(2000, le=4000)
    grievance_attachment_max_bytes: int = 5_000_000

    @field_validator("environment", mode="before")
    @classmethod
    def _known_environment(cls, value: object) -> str:
        name = str(value).strip().lower()
        if name not in ENVIRONMENTS:
            raise ValueError(f"must be one of {', '.join(ENVIRONMENTS)}")
        return name

    @model_validator(mode="after")
    def _safe_to_serve(self) -> Settings:
        weak = self.weak_secrets()
        if not weak or self.environment in ("test", "demo"):
            return self
        names = ", ".join(f"VCK_{name.upper()}" for name in weak)
        if self.environment == "development":
            if not is_loopback(self.http_host):
                raise ValueError(
                    f"in development, weak or development secrets ({names}) are served on a"
                    " loopback address only; set VCK_HTTP_HOST (or --host) to 127.0.0.1,"
                    " or set real secrets"
                )
            return self
        raise ValueError(
            f"{self.environment} needs real secrets: {names} must each be set to a random"
            f" value of at least {MIN_SECRET_LENGTH} characters, not a development value"
            " (for a local run set VCK_ENVIRONMENT=development)"
        )

    def weak_secrets(self) -> list[str]:
        """The secrets that are empty, short, placeholders or development values."""
        return [name for name in SECRETS if _is_weak(getattr(self, name).get_secret_value())]

    @property
    def allows_demo_data(self) -> bool:
        return self.environment in DEMO_ENVIRONMENTS

    @cached_property
    def dlt_prefixes(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.sms_dlt_country_codes.split(",") if p.strip())

    @property
    def donation_quick_choices(self) -> tuple[int, ...]:
        return tuple(int(a) for a in self.donation_quick_amounts.split(",") if a.strip())

    @property
    def otp_prefixes(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.otp_allowed_country_codes.split(",") if p.strip())


DEVELOPMENT_VALUES = frozenset(
    Settings.model_fields[name].default.get_secret_value() for name in SECRETS
)


def _is_weak(value: str) -> bool:
    return (
        len(value) < MIN_SECRET_LENGTH
        or len(set(value)) < MIN_SECRET_DISTINCT_CHARACTERS
        or value in DEVELOPMENT_VALUES
    )


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (a name other than
    ``localhost`` might resolve anywhere, so it is not)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """The settings from ``VCK_*`` variables, ``.env`` and ``overrides``.

    Raises :class:`ConfigError` naming every setting that is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in error["loc"])
        problems.append(f"VCK_{field.upper()}: {message}" if field else message)
    return "; ".join(problems)
