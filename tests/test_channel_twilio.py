"""Twilio (WhatsApp and SMS): signature, parsing, TwiML, sending and error mapping,
against the in-process fake Twilio."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from core.channels.base import Channel, Choice, Outcome, Reply, SendError
from core.channels.errors import DeliveryStatus, MalformedPayload
from core.channels.twilio import (
    RoutedHttpClient,
    TwilioSender,
    classify,
    parse_inbound,
    parse_status_callback,
    public_url,
    render_text,
    verify_signature,
)
from core.config import Settings, load_settings
from fakes.twilio import FakeTwilio, inbound_form, sign, status_form

NOW = datetime(2026, 1, 26, 4, 30, tzinfo=UTC)
TOKEN = "test-auth-token"
MEMBER = "+919876543210"
YES_NO = (Choice("yes", "ஆம்"), Choice("no", "இல்லை"))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio(account_sid="AC" + "1" * 32, auth_token=TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings(fake: FakeTwilio) -> Settings:
    return load_settings(
        environment="test",
        twilio_account_sid=fake.account_sid,
        twilio_auth_token=TOKEN,
        twilio_api_base_url=fake.base_url,
        twilio_whatsapp_from="whatsapp:+14155238886",
        twilio_sms_from="+15005550006",
        provider_timeout_seconds=2.0,
    )


@pytest.fixture
async def sender(settings: Settings) -> AsyncIterator[TwilioSender]:
    sender = TwilioSender(settings)
    yield sender
    await sender.close()


# --- signature ---------------------------------------------------------------------


def test_a_correctly_signed_webhook_is_accepted() -> None:
    url = "https://bot.vck.example/webhooks/twilio"
    form = inbound_form("whatsapp:" + MEMBER, "வணக்கம்")
    assert verify_signature(TOKEN, url, form, sign(TOKEN, url, form))


def test_a_tampered_or_foreign_webhook_is_refused() -> None:
    url = "https://bot.vck.example/webhooks/twilio"
    form = inbound_form("whatsapp:" + MEMBER, "1")
    signature = sign(TOKEN, url, form)
    assert not verify_signature(TOKEN, url, {**form, "Body": "2"}, signature)
    assert not verify_signature("another-token", url, form, signature)
    assert not verify_signature(TOKEN, url + "/other", form, signature)


def test_a_webhook_without_signature_is_refused() -> None:
    url = "https://bot.vck.example/webhooks/twilio"
    form = inbound_form(MEMBER, "hi")
    assert not verify_signature(TOKEN, url, form, None)
    assert not verify_signature(TOKEN, url, form, "")


def test_behind_a_proxy_the_public_url_is_validated_not_the_internal_one() -> None:
    # Twilio signed the public https URL; the proxy forwarded to http://127.0.0.1:8080.
    signed = "https://bot.vck.example/webhooks/twilio?channel=wa"
    form = inbound_form("whatsapp:" + MEMBER, "hi")
    signature = sign(TOKEN, signed, form)
    path_qs = "/webhooks/twilio?channel=wa"
    assert verify_signature(TOKEN, public_url("https://bot.vck.example/", path_qs), form, signature)
    assert not verify_signature(TOKEN, "http://127.0.0.1:8080" + path_qs, form, signature)


# --- inbound parsing ----------------------------------------------------------------


def test_whatsapp_text_becomes_an_inbound_message_without_the_prefix() -> None:
    form = inbound_form(
        "whatsapp:" + MEMBER, "  வணக்கம்  ", sid="SM" + "a" * 32, profile_name="Thirumavalavan"
    )
    message = parse_inbound(form, received_at=NOW)
    assert message.channel == Channel.WHATSAPP
    assert message.address == MEMBER
    assert message.provider == "twilio"
    assert message.provider_message_id == "SM" + "a" * 32
    assert message.text == "வணக்கம்"
    assert message.profile_name == "Thirumavalavan"
    assert message.received_at == NOW
    assert message.location is None and message.choice_id is None


def test_sms_is_recognised_by_a_from_without_prefix() -> None:
    message = parse_inbound(inbound_form(MEMBER, "MENU"), received_at=NOW)
    assert (message.channel, message.address, message.text) == (Channel.SMS, MEMBER, "MENU")


@pytest.mark.parametrize(
    ("sender", "body", "extra", "expected"),
    [
        (MEMBER, "Quit.", {}, True),  # Twilio's default opt-out keywords, any case
        (MEMBER, "cancel", {}, True),
        (MEMBER, "ARRET", {"OptOutType": "STOP"}, True),  # Advanced Opt-Out says so
        (MEMBER, "UNSTOP", {"OptOutType": "START"}, False),
        (MEMBER, "HELP", {"OptOutType": "HELP"}, None),
        (MEMBER, "please cancel my signup", {}, None),
        ("whatsapp:" + MEMBER, "cancel", {}, None),  # WhatsApp has no such keywords
    ],
)
def test_sms_the_provider_opted_out_or_in_is_marked(sender, body, extra, expected) -> None:
    message = parse_inbound(inbound_form(sender, body, **extra), received_at=NOW)
    assert message.provider_opt_out is expected


def test_inbound_text_is_nfc_normalised() -> None:
    decomposed = "க\u0bc6\u0bbeடி"  # கொடி typed as consonant + two vowel-sign parts
    message = parse_inbound(inbound_form(MEMBER, decomposed), received_at=NOW)
    assert message.text == unicodedata.normalize("NFC", decomposed) == "கொடி"


def test_a_shared_whatsapp_location_is_parsed() -> None:
    form = inbound_form(
        "whatsapp:" + MEMBER,
        latitude="13.0827",
        longitude="80.2707",
        address="Anna Salai, Chennai",
        label="Party office",
    )
    message = parse_inbound(form, received_at=NOW)
    assert message.location is not None
    assert (message.location.latitude, message.location.longitude) == (13.0827, 80.2707)
    assert message.location.label == "Party office"
    assert message.text == ""


def test_a_button_press_carries_its_payload_as_the_choice() -> None:
    form = inbound_form("whatsapp:" + MEMBER, button_text="1. ஆம்", button_payload="yes")
    message = parse_inbound(form, received_at=NOW)
    assert message.choice_id == "yes"
    assert message.text == "1. ஆம்"


@pytest.mark.parametrize(
    "broken",
    [
        {"MessageSid": None},
        {"From": None},
        {"From": "whatsapp:not-a-number"},
        {"Latitude": "north", "Longitude": "80.27"},
        {"Latitude": "13.08"},
        {"Latitude": "123.0", "Longitude": "80.27"},
        {"Latitude": "nan", "Longitude": "80.27"},
        {"NumMedia": "many"},
    ],
)
def test_malformed_inbound_is_refused(broken: dict[str, str | None]) -> None:
    form = inbound_form("whatsapp:" + MEMBER, "hi")
    for key, value in broken.items():
        if value is None:
            form.pop(key)
        else:
            form[key] = value
    with pytest.raises(MalformedPayload):
        parse_inbound(form, received_at=NOW)


def test_status_callbacks_map_to_delivery_statuses() -> None:
    update = parse_status_callback(status_form("SM1", "delivered", to="whatsapp:" + MEMBER))
    assert (update.provider_message_id, update.status, update.error_code, update.address) == (
        "SM1",
        DeliveryStatus.DELIVERED,
        None,
        MEMBER,
    )
    assert parse_status_callback(status_form("SM1", "read", to=MEMBER)).status == "read"
    failed = parse_status_callback(
        status_form("SM2", "failed", to="whatsapp:" + MEMBER, error_code=63016)
    )
    assert (failed.status, failed.error_code) == (DeliveryStatus.FAILED, "63016")
    assert parse_status_callback(status_form("SM3", "undelivered", to=MEMBER)).status == (
        DeliveryStatus.UNDELIVERED
    )


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("21610", Outcome.OPTED_OUT),
        ("63016", Outcome.OUTSIDE_WINDOW),
        ("63024", Outcome.UNREACHABLE),
        ("30008", Outcome.PERMANENT),
        (None, Outcome.PERMANENT),
    ],
)
def test_a_failed_callback_says_what_its_code_means(code: str | None, outcome: Outcome) -> None:
    form = status_form("SM1", "undelivered", to="whatsapp:" + MEMBER, error_code=code)
    assert parse_status_callback(form).outcome is outcome
    assert parse_status_callback(status_form("SM1", "delivered", to=MEMBER)).outcome is None


def test_outside_the_window_is_its_own_outcome_on_a_send() -> None:
    assert classify(400, 63016, None).outcome is Outcome.OUTSIDE_WINDOW


@pytest.mark.parametrize(
    "form",
    [
        {"MessageStatus": "delivered"},
        {"MessageSid": "SM1"},
        {"MessageSid": "SM1", "MessageStatus": "teleported"},
        {"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "oops"},
    ],
)
def test_malformed_status_callbacks_are_refused(form: dict[str, str]) -> None:
    with pytest.raises(MalformedPayload):
        parse_status_callback(form)


# --- rendering ----------------------------------------------------------------------


def test_choices_go_as_a_numbered_list_in_the_text() -> None:
    assert render_text(Reply("சேர விரும்புகிறீர்களா?", YES_NO), Channel.SMS) == (
        "சேர விரும்புகிறீர்களா?\n\n1. ஆம்\n2. இல்லை"
    )


# --- sending ------------------------------------------------------------------------


async def test_sms_goes_with_the_sms_number_and_plain_body(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    result = await sender.send_text(
        Channel.SMS, MEMBER, Reply("Hello"), status_callback="https://bot.vck.example/status"
    )
    (sent,) = fake.sent
    assert (sent["To"], sent["From"], sent["Body"]) == (MEMBER, "+15005550006", "Hello")
    assert sent["StatusCallback"] == "https://bot.vck.example/status"
    assert result.provider_message_id == sent["sid"]
    assert result.provider_message_id.startswith("SM")


async def test_sms_result_counts_parts(sender: TwilioSender, fake: FakeTwilio) -> None:
    result = await sender.send_text(Channel.SMS, MEMBER, Reply("க" * 71))
    assert result.parts == 2


async def test_whatsapp_text_goes_to_the_whatsapp_address(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("வணக்கம்"))
    (sent,) = fake.sent
    assert (sent["To"], sent["From"], sent["Body"]) == (
        "whatsapp:" + MEMBER,
        "whatsapp:+14155238886",
        "வணக்கம்",
    )
    assert "ContentSid" not in sent
    assert fake.contents == []


async def test_a_template_goes_as_content_sid_and_variables_without_body(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    await sender.send_template(MEMBER, "HX" + "0" * 32, {"1": "திருச்சி", "2": "26 ஜனவரி"})
    (sent,) = fake.sent
    assert sent["ContentSid"] == "HX" + "0" * 32
    assert json.loads(sent["ContentVariables"]) == {"1": "திருச்சி", "2": "26 ஜனவரி"}
    assert "Body" not in sent
    assert sent["To"] == "whatsapp:" + MEMBER


async def test_up_to_three_choices_go_as_native_quick_replies_keeping_the_numbered_text(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    reply = Reply("சேர விரும்புகிறீர்களா?", YES_NO)
    await sender.send_text(Channel.WHATSAPP, MEMBER, reply)
    (content,) = fake.contents
    quick = content["types"]["twilio/quick-reply"]
    assert quick["body"] == "{{1}}"
    assert quick["actions"] == [{"title": "1. ஆம்", "id": "yes"}, {"title": "2. இல்லை", "id": "no"}]
    assert content["language"] == "ta"
    (sent,) = fake.sent
    assert sent["ContentSid"] == content["sid"]
    assert json.loads(sent["ContentVariables"]) == {"1": reply.as_plain_text()}
    assert "1. ஆம்" in reply.as_plain_text()


async def test_quick_reply_content_is_created_once_per_set_of_choices(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("first", YES_NO))
    await sender.send_text(Channel.WHATSAPP, "+919876543211", Reply("second", YES_NO))
    assert len(fake.contents) == 1
    assert fake.sent[0]["ContentSid"] == fake.sent[1]["ContentSid"]
    other = (Choice("yes", "Yes"), Choice("no", "No"))
    await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("third", other))
    assert len(fake.contents) == 2


async def test_long_quick_reply_titles_are_cut_to_whatsapps_limit(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    long = (Choice("g", "Grievance about the local office"),)
    await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("?", long))
    title = fake.contents[0]["types"]["twilio/quick-reply"]["actions"][0]["title"]
    assert len(title) <= 20 and title.startswith("1. Grievance")


async def test_four_to_ten_choices_go_as_a_list_picker_with_the_callers_button_label(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    choices = tuple(Choice(f"c{n}", f"Option {n}") for n in range(1, 8))
    await sender.send_text(
        Channel.WHATSAPP, MEMBER, Reply("Menu", choices, list_button="தேர்வு செய்க")
    )
    picker = fake.contents[0]["types"]["twilio/list-picker"]
    assert picker["button"] == "தேர்வு செய்க"
    assert [item["id"] for item in picker["items"]] == [c.id for c in choices]
    assert picker["items"][0]["item"] == "1. Option 1"
    assert "ContentSid" in fake.sent[0]


async def test_a_list_without_a_button_label_or_too_long_goes_as_numbered_text(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    four = tuple(Choice(f"c{n}", f"Option {n}") for n in range(1, 5))
    eleven = tuple(Choice(f"c{n}", f"Option {n}") for n in range(1, 12))
    await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("Menu", four))
    await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("Menu", eleven, list_button="Choose"))
    assert fake.contents == []
    assert fake.sent[0]["Body"].endswith("4. Option 4")
    assert fake.sent[1]["Body"].endswith("11. Option 11")


async def test_sms_choices_are_never_sent_as_content(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    await sender.send_text(Channel.SMS, MEMBER, Reply("?", YES_NO))
    assert fake.contents == []
    assert fake.sent[0]["Body"] == "?\n\n1. ஆம்\n2. இல்லை"


async def test_quick_reply_creation_failure_falls_back_to_numbered_text(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    fake.fail(times=1, status=500)  # the Content API call fails, the message does not
    await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("சேர?", YES_NO))
    assert fake.contents == []
    (sent,) = fake.sent
    assert sent["Body"] == "சேர?\n\n1. ஆம்\n2. இல்லை"
    assert "ContentSid" not in sent


def test_every_twilio_host_is_routed_to_the_configured_base_keeping_the_path() -> None:
    client = RoutedHttpClient(api_base_url="http://127.0.0.1:9999/twilio", timeout_seconds=1)
    assert client.route("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json") == (
        "http://127.0.0.1:9999/twilio/2010-04-01/Accounts/AC1/Messages.json"
    )
    assert client.route("https://content.twilio.com/v1/Content?x=1") == (
        "http://127.0.0.1:9999/twilio/v1/Content?x=1"
    )
    real = RoutedHttpClient(api_base_url="https://api.twilio.com", timeout_seconds=1)
    assert real.route("https://content.twilio.com/v1/Content") == (
        "https://content.twilio.com/v1/Content"
    )


# --- errors -------------------------------------------------------------------------


def test_429_is_retried_after_the_retry_after_header() -> None:
    error = classify(429, 20429, "7")
    assert not error.permanent and error.retry_after == 7.0 and error.code == "20429"


def test_5xx_and_timeouts_are_retried() -> None:
    for status in (500, 502, 503, 0):
        error = classify(status, None, None)
        assert not error.permanent, status
    assert classify(0, None, None).code == "timeout"


def test_21610_means_the_member_opted_out() -> None:
    error = classify(400, 21610, None)
    assert error.opted_out and error.permanent and error.code == "21610"


def test_63016_is_permanent_so_the_caller_sends_a_template() -> None:
    error = classify(400, 63016, None)
    assert error.permanent and not error.unreachable and not error.opted_out
    assert error.code == "63016"


@pytest.mark.parametrize("code", [63003, 63024, 21211, 21614])
def test_not_a_whatsapp_capable_recipient_is_unreachable(code: int) -> None:
    error = classify(400, code, None)
    assert error.unreachable and error.permanent and error.code == str(code)


@pytest.mark.parametrize("code", [130429, 131056, 63018])
def test_whatsapp_throttling_is_retried(code: int) -> None:
    assert not classify(400, code, None).permanent


def test_other_client_errors_are_permanent() -> None:
    error = classify(400, 21602, None)
    assert error.permanent and not error.unreachable and error.code == "21602"


async def test_a_429_from_twilio_reaches_the_caller_with_retry_after(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    fake.fail(times=1, status=429, retry_after=5)
    with pytest.raises(SendError) as caught:
        await sender.send_text(Channel.SMS, MEMBER, Reply("x"))
    assert not caught.value.permanent and caught.value.retry_after == 5.0
    await sender.send_text(Channel.SMS, MEMBER, Reply("x"))  # recovered
    assert len(fake.sent) == 1


async def test_a_500_from_twilio_is_retryable(sender: TwilioSender, fake: FakeTwilio) -> None:
    fake.fail(times=1, status=500)
    with pytest.raises(SendError) as caught:
        await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("x"))
    assert not caught.value.permanent


@pytest.mark.parametrize(
    ("code", "attribute"), [(63016, "permanent"), (63024, "unreachable"), (21610, "opted_out")]
)
async def test_per_recipient_errors_are_mapped(
    sender: TwilioSender, fake: FakeTwilio, code: int, attribute: str
) -> None:
    fake.fail_for[MEMBER] = code
    with pytest.raises(SendError) as caught:
        await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("x"))
    assert getattr(caught.value, attribute) and caught.value.code == str(code)
    assert fake.sent == []


async def test_a_slow_twilio_times_out_as_retryable(settings: Settings, fake: FakeTwilio) -> None:
    sender = TwilioSender(settings.model_copy(update={"provider_timeout_seconds": 0.2}))
    fake.fail(times=1, delay=1.0, status=504)
    try:
        with pytest.raises(SendError) as caught:
            await sender.send_text(Channel.SMS, MEMBER, Reply("x"))
    finally:
        await sender.close()
    assert not caught.value.permanent and caught.value.code == "timeout"


async def test_wrong_credentials_are_a_permanent_error(
    settings: Settings, fake: FakeTwilio
) -> None:
    sender = TwilioSender(settings.model_copy(update={"twilio_auth_token": SecretStr("wrong")}))
    try:
        with pytest.raises(SendError) as caught:
            await sender.send_text(Channel.SMS, MEMBER, Reply("x"))
    finally:
        await sender.close()
    assert caught.value.permanent and caught.value.code == "20003"


async def test_choices_that_must_not_be_stored_go_as_numbered_text(
    sender: TwilioSender, fake: FakeTwilio
) -> None:
    people = (Choice("m1", "Deepa Ravi · VCK-VPM-0000005"), Choice("m2", "Nila Kannan"))
    await sender.send_text(Channel.WHATSAPP, MEMBER, Reply("Who?", people, stored_choices=False))
    assert fake.contents == []
    assert "ContentSid" not in fake.sent[0] and "2. Nila Kannan" in fake.sent[0]["Body"]
