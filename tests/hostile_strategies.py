"""Hypothesis strategies for hostile webhook input: real provider payloads (from the
fakes) with fields deleted, replaced by arbitrary JSON or text, or added; arbitrary bytes;
content types with odd charsets; header values that are any bytes a header line can hold.

Starting from real payloads matters: a random dictionary almost never gets past the
first "MessageSid is required", so the deeper parsing (coordinates, dates, contact
cards, callback queries) would go untested.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

from fakes import dlt as fake_dlt
from fakes import telegram as fake_telegram
from fakes import twilio as fake_twilio

PHONE = "+919840300002"
TWILIO_SMS = "+14155550166"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.sampled_from([1e20, -1e20, 2**63, -1, 0, "", "0", "+", "whatsapp:"])
    | st.text(max_size=30)
)
TELEGRAM_KEYS = (
    "update_id message edited_message callback_query chat from id type date text location"
    " latitude longitude contact phone_number first_name user_id data message_id is_bot"
).split()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(TELEGRAM_KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=12,
)


def _slots(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON value, the top level included."""
    found: list[tuple[Any, Any]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        found.append((value, key))
        if isinstance(item, dict | list):
            found += _slots(item)
    return found


@st.composite
def mutated_json(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]) -> Any:
    """A real update with one to three slots deleted or replaced by arbitrary JSON."""
    update = copy.deepcopy(draw(base))
    for _ in range(draw(st.integers(0, 3))):
        slots = _slots(update)
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        if isinstance(container, dict) and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(json_values)
    return update


def _in_a_group(update: dict[str, Any]) -> dict[str, Any]:
    update["message"]["chat"]["type"] = "group"
    return update


telegram_updates = st.builds(
    fake_telegram.text_update, st.integers(1, 10**9), st.integers(1, 10**12), st.text()
) | st.sampled_from(
    [
        fake_telegram.location_update(11, 555000111, 13.08, 80.27),
        fake_telegram.contact_update(12, 555000111, "919840300002"),
        fake_telegram.callback_update(13, 555000111, "1"),
        _in_a_group(fake_telegram.text_update(14, -100123, "")),
    ]
)
hostile_updates = mutated_json(telegram_updates) | json_values

form_text = st.text(max_size=40) | st.sampled_from(
    ["", "nan", "inf", "-0", "1e400", "whatsapp:+1", PHONE, "+0", "٣", "STOP", "delivered"]
)


@st.composite
def mutated_form(draw: st.DrawFn, base: st.SearchStrategy[dict[str, str]]) -> dict[str, str]:
    """A real form with fields deleted, given arbitrary text, or added."""
    form = dict(draw(base))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if action == "add" or not form:
            form[draw(st.text(max_size=12))] = draw(form_text)
        elif action == "delete":
            del form[draw(st.sampled_from(sorted(form)))]
        else:
            form[draw(st.sampled_from(sorted(form)))] = draw(form_text)
    return form


twilio_inbound_forms = mutated_form(
    st.sampled_from(
        [
            fake_twilio.inbound_form("whatsapp:" + PHONE, "hi"),
            fake_twilio.inbound_form(TWILIO_SMS, "STOP"),
            fake_twilio.inbound_form("whatsapp:" + PHONE, "", latitude=13.08, longitude=80.27),
            fake_twilio.inbound_form("whatsapp:" + PHONE, "Yes", button_payload="1"),
        ]
    )
)
twilio_status_forms = mutated_form(
    st.sampled_from(
        [
            fake_twilio.status_form("SM" + "1" * 32, "delivered", to="whatsapp:" + PHONE),
            fake_twilio.status_form("SM" + "2" * 32, "failed", to=TWILIO_SMS, error_code=30003),
        ]
    )
)
dlt_inbound_forms = mutated_form(st.just(fake_dlt.inbound_sms_form(PHONE, "hi", sid="d" * 32)))
dlt_status_forms = mutated_form(
    st.sampled_from(
        [
            fake_dlt.status_callback_form("e" * 32, PHONE, "sent"),
            fake_dlt.status_callback_form("f" * 32, PHONE, "failed_dnd"),
        ]
    )
)

FORMS = {
    "/webhooks/twilio": twilio_inbound_forms,
    "/webhooks/twilio/status": twilio_status_forms,
    "/webhooks/dlt": dlt_inbound_forms,
    "/webhooks/dlt/status": dlt_status_forms,
}


def body_for(path: str) -> st.SearchStrategy[bytes]:
    """What a route's body may be: its real payload, mutated and encoded, or any bytes."""
    if path == "/webhooks/telegram":
        encoded = hostile_updates.map(lambda u: json.dumps(u).encode())
    else:
        encoded = FORMS[path].map(lambda f: urlencode(f).encode())
    return encoded | st.binary(max_size=300)


content_types = st.tuples(
    st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/json",
            "multipart/form-data; boundary=x",
            "text/plain",
            "",
        ]
    )
    | st.text(max_size=20),
    st.sampled_from(
        ["", "; charset=utf-8", "; charset=latin-1", "; charset=x-vck-bogus", "; charset=utf-16"]
    )
    | st.text(max_size=15).map(lambda c: "; charset=" + c),
).map(lambda parts: parts[0] + parts[1])

FIELD_BYTES = [9, *range(32, 127), *range(128, 256)]
header_values = st.lists(st.sampled_from(FIELD_BYTES), max_size=40).map(bytes)
"""Any bytes HTTP allows in a header value: tab, visible ASCII, and 0x80-0xFF (0xFF
reaches the app as a lone surrogate). Control bytes never reach the app: aiohttp's
parser answers them 400 itself."""
