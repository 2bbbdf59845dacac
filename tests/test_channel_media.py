"""Photos, voice notes and files on the neutral inbound message, by reference."""

from __future__ import annotations

from datetime import UTC, datetime

from core.channels import telegram, twilio
from core.channels.base import Media
from core.config import load_settings
from core.services.grievances import AttachmentProblem, attachment_problem
from fakes import telegram as fake_telegram
from fakes import twilio as fake_twilio

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_twilio_media_are_read_by_reference_with_their_type() -> None:
    form = fake_twilio.inbound_form(
        "whatsapp:+919840012345", "the broken pipe", NumMedia="2",
        MediaUrl0="https://api.twilio.com/ME0", MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/ME1", MediaContentType1="application/pdf",
    )  # fmt: skip
    message = twilio.parse_inbound(form, received_at=NOW)
    assert message.text == "the broken pipe"
    assert message.media == (
        Media("image", "https://api.twilio.com/ME0", "image/jpeg"),
        Media("document", "https://api.twilio.com/ME1", "application/pdf"),
    )
    plain = twilio.parse_inbound(fake_twilio.inbound_form("+919840012345", "hi"), received_at=NOW)
    assert plain.media == ()


def test_telegram_photos_voice_notes_and_files_with_their_caption() -> None:
    photo = fake_telegram.message_update(1, 42, caption="the wall", photo=[
        {"file_id": "S", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 900},
        {"file_id": "L", "file_unique_id": "l", "width": 900, "height": 900, "file_size": 9000},
    ])  # fmt: skip
    message = telegram.parse_update(photo, received_at=NOW)
    assert message is not None and message.text == "the wall"
    assert message.media == (Media("image", "L", "image/jpeg", 9000),)
    voice = fake_telegram.message_update(2, 42, voice={
        "file_id": "V", "file_unique_id": "v", "duration": 4, "mime_type": "audio/ogg",
        "file_size": 4000})  # fmt: skip
    message = telegram.parse_update(voice, received_at=NOW)
    assert message is not None and message.media == (Media("audio", "V", "audio/ogg", 4000),)
    sent_as_file = {"file_id": "D", "file_unique_id": "d", "mime_type": "image/jpeg"}
    document = fake_telegram.message_update(3, 42, document=sent_as_file)
    message = telegram.parse_update(document, received_at=NOW)
    assert message is not None and message.media[0].kind == "document"


def test_only_re_encoded_photos_and_voice_notes_within_the_limit_are_taken() -> None:
    settings = load_settings(environment="test")
    assert attachment_problem(settings, "image", "image/jpeg", 90_000) is None
    assert attachment_problem(settings, "audio", "audio/ogg; codecs=opus", None) is None
    # A photo sent as a file keeps its EXIF (where it was taken): refused.
    assert attachment_problem(settings, "document", "image/jpeg", 10) is (
        AttachmentProblem.NOT_PHOTO_OR_VOICE
    )
    assert attachment_problem(settings, "video", "video/mp4", 10) is (
        AttachmentProblem.NOT_PHOTO_OR_VOICE
    )
    assert attachment_problem(settings, "image", "image/jpeg", 50_000_000) is (
        AttachmentProblem.TOO_BIG
    )
