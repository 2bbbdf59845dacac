"""Logging for the processes: one format, and no phone number in any line.

A provider's error text can carry the number it refused ("The 'To' number +9198…
is not valid"), and a library may log its arguments; :class:`MaskPhones` rewrites every
record — message, arguments and traceback — so that what reaches the log shows at most
a number's country code and last four digits (core.phones.mask_phone). arq's job-start
lines print job arguments (ids only since issue 10.3, but a library's arguments are
not ours to vouch for); its worker logger is kept at WARNING. A Telegram bot token in a
Bot API URL is masked too.
"""

from __future__ import annotations

import logging
import re

from core.phones import mask_phone

# A run of 10 or more digits, optionally after '+' and with single spaces or dashes
# inside (Indian numbers are typed "98400 12345"); shorter numbers (OTP codes are
# never logged; ids, counts and ports) are left alone.
PHONE = re.compile(r"\+?\d(?:[ -]?\d){9,14}")


# A Telegram bot token as it appears in Bot API URLs (python-telegram-bot logs them at
# DEBUG): "bot<id>:<secret>" keeps the bot's id.
BOT_TOKEN = re.compile(r"(bot\d+):[A-Za-z0-9_-]+")


def mask(text: str) -> str:
    text = BOT_TOKEN.sub(r"\1:***", text)
    return PHONE.sub(lambda m: mask_phone(re.sub(r"[ -]", "", m.group(0))), text)


class MaskPhones(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return True


def configure(level: str, fmt: str) -> None:
    """The root handler with :class:`MaskPhones` on it (a handler filter sees every
    logger's records, a logger filter only its own)."""
    logging.basicConfig(level=level, format=fmt)
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskPhones())
    logging.getLogger("arq.worker").setLevel(logging.WARNING)
