"""No phone number reaches a log line (core/logs.py): in the message, its arguments or
a traceback; short numbers (ids, counts, ports) are left alone."""

from __future__ import annotations

import io
import logging

from core.logs import MaskPhones, mask


def test_numbers_in_any_form_are_masked() -> None:
    assert mask("to +919840012345 now") == "to +91******2345 now"
    assert mask("typed 98400 12345") == "typed 984***2345"
    assert mask("whatsapp:+12025550102 failed") == "whatsapp:+12*****0102 failed"
    assert mask("batch 42 of 1891, port 55432") == "batch 42 of 1891, port 55432"


def test_a_telegram_bot_token_in_a_url_is_masked() -> None:
    line = "Set Bot API URL: https://api.telegram.org/bot123456:AAH-x_9zSecret"
    assert mask(line) == "Set Bot API URL: https://api.telegram.org/bot123456:***"


def test_a_record_and_its_traceback_are_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskPhones())
    log = logging.getLogger("vck.test.logs")
    log.addHandler(handler)
    try:
        log.warning("reply to %s failed", "+919840012345")
        try:
            raise ValueError("The 'To' number +919840012345 is not valid")
        except ValueError:
            log.exception("send failed")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert "9840012345" not in out and "+91******2345" in out
    assert "ValueError" in out  # the traceback is kept, masked
