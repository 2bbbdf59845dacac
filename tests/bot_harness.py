"""Talk to the bot the way providers do: real payloads, real signatures, real webhooks.

Every message is sent twice, as a provider retrying it would; the harness checks the
second copy is acknowledged and answered with nothing, so every conversation test also
proves inbound messages are processed exactly once.
"""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient

from bot.bootstrap import Bot
from core.channels.base import Channel
from fakes import dlt as fake_dlt
from fakes import telegram as fake_telegram
from fakes import twilio as fake_twilio
from fakes.dlt import FakeDlt
from fakes.telegram import FakeTelegram
from fakes.twilio import FakeTwilio

_ids = itertools.count(1000)


@dataclass
class Providers:
    twilio: FakeTwilio
    telegram: FakeTelegram
    dlt: FakeDlt

    def sms_to(self, phone: str) -> list[str]:
        """Texts of every SMS sent to ``phone``, through either SMS provider."""
        via_dlt = [m["Body"] for m in self.dlt.sent if m.get("To") == phone]
        via_twilio = [m.get("Body", "") for m in self.twilio.sent if m.get("To") == phone]
        return via_dlt + via_twilio


@dataclass
class Member:
    """Someone writing to the bot on one channel."""

    client: TestClient
    bot: Bot
    providers: Providers
    channel: Channel
    address: str
    user_id: int | None = None
    last: dict[str, Any] = field(default_factory=dict)
    """The last reply as the provider received it (e.g. Telegram's reply_markup)."""

    async def says(
        self,
        text: str = "",
        *,
        location: tuple[float, float] | None = None,
        button: str | None = None,
        contact: str | None = None,
        contact_user_id: int | None = None,
    ) -> str:
        """Send one message (twice, as a retry would) and return the bot's reply text."""
        if self.channel is Channel.TELEGRAM:
            return await self._telegram(text, location, button, contact, contact_user_id)
        if self.channel is Channel.SMS and self.address.startswith("+91"):
            return await self._dlt(text)
        return await self._twilio(text, location, button)

    # --- Twilio: WhatsApp and SMS -----------------------------------------------------

    async def post_twilio(self, form: dict[str, str], signature: str | None = "sign") -> Any:
        url = self.bot.settings.public_base_url + "/webhooks/twilio"
        headers = {}
        if signature == "sign":
            token = self.bot.settings.twilio_auth_token.get_secret_value()
            headers["X-Twilio-Signature"] = fake_twilio.sign(token, url, form)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.client.post("/webhooks/twilio", data=form, headers=headers)

    async def _twilio(self, text: str, location: Any, button: str | None) -> str:
        sender = ("whatsapp:" if self.channel is Channel.WHATSAPP else "") + self.address
        extra: dict[str, Any] = {}
        if location:
            extra.update(latitude=location[0], longitude=location[1])
        if button:
            extra.update(button_payload=button, button_text=text or button)
            if self.last.get("sid"):  # pressed under the bot's last message
                extra.update(replied_to=self.last["sid"])
        form = fake_twilio.inbound_form(sender, text, **extra)
        before = len(self.providers.twilio.sent)
        first = await self._twilio_round(form)
        after = len(self.providers.twilio.sent)
        again = await self._twilio_round(form)
        assert again == "", f"a retried MessageSid was answered again: {again!r}"
        assert len(self.providers.twilio.sent) == after, "a retried MessageSid was sent again"
        sent = self.providers.twilio.sent[before:after]
        mine = [m for m in sent if m.get("To") == sender]
        rest = [_twilio_text(m) for m in mine]
        if mine:
            self.last = mine[-1]
        return "\n".join(part for part in [first, *rest] if part)

    async def _twilio_round(self, form: dict[str, str]) -> str:
        response = await self.post_twilio(form)
        assert response.status == 200, await response.text()
        await self.bot.drain()
        root = ET.fromstring(await response.text())
        return "\n".join("".join(m.itertext()) for m in root.iter("Message"))

    # --- Telegram ------------------------------------------------------------------------

    async def post_telegram(self, update: dict[str, Any], secret: str | None = "valid") -> Any:
        headers = {"Content-Type": "application/json"}
        if secret == "valid":
            secret = self.bot.settings.telegram_webhook_secret.get_secret_value()
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return await self.client.post(
            "/webhooks/telegram", data=json.dumps(update), headers=headers
        )

    async def _telegram(
        self,
        text: str,
        location: Any,
        button: str | None,
        contact: str | None,
        contact_user_id: int | None,
    ) -> str:
        chat_id = int(self.address)
        update_id = next(_ids)
        if location:
            update = fake_telegram.location_update(update_id, chat_id, *location)
        elif button:  # pressed under the bot's last message
            pressed_on = int(self.last.get("message_id", 1))
            update = fake_telegram.callback_update(
                update_id, chat_id, button, message_id=pressed_on
            )
        elif contact:
            update = fake_telegram.contact_update(
                update_id, chat_id, contact, contact_user_id=contact_user_id
            )
        else:
            update = fake_telegram.text_update(update_id, chat_id, text)
        sent = self.providers.telegram.sent
        before = len(sent)
        for _ in range(2):
            response = await self.post_telegram(update)
            assert response.status == 200, await response.text()
        new = [m for m in sent[before:] if m.get("method") == "sendMessage"]
        assert len(new) <= 1, "a retried update_id was answered again"
        if not new:
            return ""
        self.last = new[-1]
        return str(new[-1]["text"])

    # --- the Indian DLT SMS provider -----------------------------------------------------

    async def post_dlt(self, form: dict[str, str], secret: str | None = "valid") -> Any:
        key = (
            self.bot.settings.dlt_webhook_secret.get_secret_value() if secret == "valid" else secret
        )
        body, headers = fake_dlt.signed_request(key or "wrong", form)
        if secret is None:
            headers.pop(fake_dlt.SIGNATURE_HEADER, None)
        return await self.client.post("/webhooks/dlt", data=body, headers=headers)

    async def _dlt(self, text: str) -> str:
        form = fake_dlt.inbound_sms_form(self.address, text)
        sent = self.providers.dlt.sent
        before = len(sent)
        for _ in range(2):
            response = await self.post_dlt(form)
            assert response.status == 204, await response.text()
            await self.bot.drain()
        new = [m for m in sent[before:] if m.get("To") == self.address]
        assert len(new) <= 1, "a retried SmsSid was answered again"
        if not new:
            return ""
        self.last = new[-1]
        return str(new[-1]["Body"])


def _twilio_text(sent: dict[str, Any]) -> str:
    if sent.get("Body"):
        return str(sent["Body"])
    variables = json.loads(sent.get("ContentVariables") or "{}")
    return str(variables.get("1", ""))
