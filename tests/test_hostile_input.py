"""No input gets a 500: property tests over every webhook route and every parser.

Each route is fed arbitrary bodies, content types, charsets and header bytes, unsigned, with
a garbage signature and correctly signed (so the parsers behind the check are reached);
the answer is never a 5xx and nothing is logged at ERROR or with a traceback. Each parser
either returns its value or raises :class:`MalformedPayload`, nothing else.

One app (and one database) serves the whole module: building a bot per example would
make a few hundred examples take minutes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from bot.app import BOT_KEY, make_app
from bot.bootstrap import build_bot
from core.channels import dlt, telegram, twilio
from core.channels.base import InboundMessage
from core.channels.errors import MalformedPayload, StatusUpdate
from core.channels.forms import parse_form
from core.config import Settings
from fakes.dlt import FakeDlt
from fakes.telegram import FakeTelegram
from fakes.twilio import FakeTwilio
from tests.conftest import TEMPLATE_DB, TEST_REDIS_DB, db_name, recreate_database
from tests.hostile_strategies import (
    body_for,
    content_types,
    dlt_inbound_forms,
    dlt_status_forms,
    header_values,
    hostile_updates,
    twilio_inbound_forms,
    twilio_status_forms,
)

NOW = datetime(2026, 11, 30, tzinfo=UTC)
ROUTES = (
    "/webhooks/twilio",
    "/webhooks/twilio/status",
    "/webhooks/telegram",
    "/webhooks/dlt",
    "/webhooks/dlt/status",
)
SIGNATURE_HEADERS = {
    "twilio": b"X-Twilio-Signature",
    "telegram": telegram.SECRET_HEADER.encode(),
    "dlt": dlt.SIGNATURE_HEADER.encode(),
}
quick = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
async def app_client(base_settings: Settings, template_db: str) -> AsyncIterator[TestClient]:
    name = db_name("vck_test_hostile")
    url = await recreate_database(base_settings.database_url, name, template=TEMPLATE_DB)
    redis_url = base_settings.redis_url.rsplit("/", 1)[0] + f"/{TEST_REDIS_DB}"
    redis = aioredis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    config = base_settings.model_copy(update={"database_url": url, "redis_url": redis_url})
    fakes = [fake.from_settings(config) for fake in (FakeTwilio, FakeTelegram, FakeDlt)]
    for fake in fakes:
        await fake.start()
    config = config.model_copy(
        update={
            "public_base_url": "https://vck.example.org",
            "twilio_api_base_url": fakes[0].base_url,
            "telegram_api_base_url": fakes[1].base_url,
            "dlt_api_base_url": fakes[2].base_url,
        }
    )
    async with TestClient(TestServer(make_app(build_bot(config)))) as client:
        yield client
    for fake in fakes:
        await fake.stop()


def _signature(config: Settings, provider: str, path_qs: str, body: bytes) -> bytes:
    """The header a provider would send with ``body``."""
    if provider == "telegram":
        return config.telegram_webhook_secret.get_secret_value().encode()
    if provider == "dlt":
        stamp = int(time.time())
        return dlt.sign(config.dlt_webhook_secret.get_secret_value(), body, stamp).encode()
    try:
        fields = MultiDict(parse_qsl(body.decode(), keep_blank_values=True, errors="strict"))
    except ValueError:
        return b"not-a-form"
    validator = RequestValidator(config.twilio_auth_token.get_secret_value())
    return validator.compute_signature(config.public_base_url + path_qs, fields).encode()


async def _post(client: TestClient, path_qs: str, headers: dict[bytes, bytes], body: bytes) -> int:
    """POST written by hand, so header values can be any bytes (aiohttp's client would
    refuse some) and the status comes from the server's own bytes."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    head = [f"POST {path_qs} HTTP/1.1".encode(), b"Host: vck", b"Connection: close"]
    head += [name + b": " + value for name, value in headers.items()]
    head.append(b"Content-Length: %d" % len(body))
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    return int(response.split(b" ", 2)[1])


def _header_line(text: str) -> bytes:
    """``text`` as a header value: UTF-8, without the control bytes HTTP forbids."""
    return text.encode().translate(None, bytes([*range(9), *range(10, 32), 127]))


@quick
@given(data=st.data())
async def test_no_webhook_answers_5xx_or_logs_an_error(
    app_client: TestClient, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    config = app_client.server.app[BOT_KEY].settings
    path = data.draw(st.sampled_from(ROUTES), label="route")
    query = data.draw(st.sampled_from(["", "a=1"]) | st.text(max_size=10).map(quote), "query")
    path_qs = path + ("?" + query if query else "")
    body = data.draw(body_for(path), label="body")
    provider = path.split("/")[2]
    headers = {b"Content-Type": _header_line(data.draw(content_types, label="content type"))}
    signing = data.draw(st.sampled_from(["signed", "signed", "unsigned", "garbage"]), "signing")
    if signing == "signed":
        headers[SIGNATURE_HEADERS[provider]] = _signature(config, provider, path_qs, body)
        if provider == "dlt":  # signed at this second (_signature)
            headers[dlt.TIMESTAMP_HEADER.encode()] = str(int(time.time())).encode()
    elif signing == "garbage":
        headers[SIGNATURE_HEADERS[provider]] = data.draw(header_values, label="signature")
    encoding = data.draw(st.sampled_from([None, b"gzip", b"deflate", b"br"]) | header_values)
    if encoding is not None:
        headers[b"Content-Encoding"] = encoding
    logged = len(caplog.records)

    status = await _post(app_client, path_qs, headers, body)
    event(f"{path} {signing}: {status}")  # --hypothesis-show-statistics: what was reached

    assert status < 500
    loud = [r for r in caplog.records[logged:] if r.levelno >= logging.ERROR or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]


async def test_what_the_properties_found_gets_a_4xx(
    app_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A Telegram message without a chat, or with a chat id that is text, and a body that
    claims to be gzip: once 500s or an aiohttp traceback, now refused with one line."""
    config = app_client.server.app[BOT_KEY].settings
    secret = config.telegram_webhook_secret.get_secret_value().encode()
    no_chat = b'{"update_id": 1, "message": {"message_id": 1, "date": 1, "text": "hi"}}'
    text_id = b'{"update_id": 2, "message": {"message_id": 1, "date": 1, "chat": {"id": "x",'
    text_id += b' "type": "private"}, "text": "hi"}}'
    for body in (no_chat, text_id):
        headers = {SIGNATURE_HEADERS["telegram"]: secret, b"Content-Type": b"application/json"}
        assert await _post(app_client, "/webhooks/telegram", headers, body) == 400
    gzip = {b"Content-Type": b"application/x-www-form-urlencoded", b"Content-Encoding": b"gzip"}
    assert await _post(app_client, "/webhooks/dlt", gzip, b"not gzip at all") == 403
    assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == ["bot.app"] * 3
    assert not any(r.exc_info for r in caplog.records)


# --- the parsers: a value or MalformedPayload, nothing else ---------------------------------


def value_or_refusal(parse: Any, *args: Any, **kwargs: Any) -> object:
    try:
        return parse(*args, **kwargs)
    except MalformedPayload:
        return MalformedPayload


any_form = st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=8)


@quick
@given(twilio_inbound_forms | any_form)
def test_twilio_inbound_parses_or_refuses(form: dict[str, str]) -> None:
    result = value_or_refusal(twilio.parse_inbound, form, received_at=NOW)
    assert result is MalformedPayload or isinstance(result, InboundMessage)


@quick
@given(twilio_status_forms | any_form)
def test_twilio_status_parses_or_refuses(form: dict[str, str]) -> None:
    result = value_or_refusal(twilio.parse_status_callback, form)
    assert result is MalformedPayload or isinstance(result, StatusUpdate)


@quick
@given(dlt_inbound_forms | any_form)
def test_dlt_inbound_parses_or_refuses(form: dict[str, str]) -> None:
    result = value_or_refusal(dlt.parse_inbound, form, received_at=NOW)
    assert result is MalformedPayload or isinstance(result, InboundMessage)


@quick
@given(dlt_status_forms | any_form)
def test_dlt_status_parses_or_refuses(form: dict[str, str]) -> None:
    result = value_or_refusal(dlt.parse_status_callback, form)
    assert result is MalformedPayload or isinstance(result, StatusUpdate)


@settings(quick, max_examples=300)
@given(hostile_updates)
def test_telegram_updates_parse_or_are_refused(update: Any) -> None:
    result = value_or_refusal(telegram.parse_update, update, received_at=NOW)
    assert result is None or result is MalformedPayload or isinstance(result, InboundMessage)


@quick
@given(st.binary(max_size=200) | st.sampled_from([b"[" * 5000, b'{"a":' * 3000, b"\xff{}"]))
def test_raw_bodies_load_or_are_refused(body: bytes) -> None:
    value_or_refusal(telegram.load_update, body)  # anything but MalformedPayload escapes
    fields = value_or_refusal(parse_form, body)
    if fields is not MalformedPayload:
        assert all(isinstance(v, str) for v in fields.values())  # type: ignore[attr-defined]
