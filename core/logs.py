"""Logging for the processes: one format, and no phone number in any line.

A provider's error text can carry the number it refused ("The 'To' number +9198…
is not valid"), and a library may log its arguments; :class:`MaskPhones` rewrites every
record — message, arguments and traceback — so that what reaches the log shows at most
a number's country code and last four digits (core.phones.mask_phone). arq's job-start
lines print job arguments; its worker logger is kept at WARNING.
"""

from __future__ import annotations

import logging
import re

from core.phones import mask_phone

# A run of 10 or more digits, optionally after '+' and with single spaces or dashes
# inside (Indian numbers are typed "98400 12345"); shorter numbers (OTP codes are
# never logged; ids, counts and ports) are left alone.
PHONE = re.compile(r"\+?\d(?:[ -]?\d){9,14}")


def mask(text: str) -> str:
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
