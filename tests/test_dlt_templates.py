"""Every sentence that can go by SMS has its DLT template, in Tamil and in English, and
a reply is sent only under the template it is (core/dlt_templates.py, cli/dlt.py)."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from babel.messages.pofile import read_po

from cli.dlt import COLUMNS, write
from core import effects
from core.channels.base import Channel, Choice, Reply, SendError
from core.config import Settings, load_settings
from core.dlt_templates import (
    CODE_SMS,
    OTP,
    VAR,
    NoTemplate,
    Registry,
    combinations,
    in_language,
    sentence_key,
)
from core.i18n import LOCALES_DIR, Language
from core.i18n import in_language as translate
from core.outbound import Dispatcher
from fakes.dlt import registered_templates, template_pattern

FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(environment="test")


@pytest.fixture(scope="module")
def registry(settings: Settings) -> Registry:
    return Registry.from_settings(settings)


def msgids() -> list[str]:
    with (LOCALES_DIR / "messages.pot").open("rb") as f:
        return [m.id for m in read_po(f) if m.id and isinstance(m.id, str)]


def filled(sentence: str) -> str:
    """The sentence as sent: each field a short value, as a name or a number is."""
    return FIELD.sub(lambda m: f"<{m.group(1)[:5]}7>", sentence)


@pytest.mark.parametrize("language", list(Language))
def test_every_catalog_sentence_has_its_template_and_is_matched_to_it(
    registry: Registry, language: Language
) -> None:
    # Filled in as a reply is, each sentence is found again as its own template, not as
    # another that happens to fit: what DLT scrubbing compares.
    for msgid in msgids():
        if msgid == CODE_SMS:
            continue
        sent = filled(translate(language, msgid))
        if not FIELD.sub("", msgid).strip():
            continue  # nothing but fields: not a sentence
        found = registry.match(sent)
        assert found.key == sentence_key(msgid, language.value), msgid
        assert template_pattern(found.template.text).match(sent)


@pytest.mark.parametrize("language", list(Language))
def test_the_otp_sms_is_its_otp_template_filled(
    settings: Settings, registry: Registry, language: Language
) -> None:
    payload = {"otp_id": str(uuid.uuid4()), "nonce": "n", "language": language.value}
    text = effects.code_text(settings, payload)
    template = registry.template(f"otp_{language.value}")
    assert template.kind == OTP and VAR in template.text
    assert template_pattern(template.text).match(text)
    assert registry.template_id(template.key) == settings.dlt_template_ids[template.key]


def test_a_reply_is_one_sms_under_its_combination(registry: Registry) -> None:
    reply = Reply(
        translate(Language.TAMIL, "Your gender?"),
        (Choice("m", "ஆண்"), Choice("f", "பெண்"), Choice("t", "திருநர்"), Choice("u", "வேண்டாம்")),
    )
    found = registry.match(reply.as_plain_text())
    assert found.key == f"{sentence_key('Your gender?', 'ta')}+choices4_ta"
    assert found.template.text.endswith(f"\n\n1. {VAR}\n2. {VAR}\n3. {VAR}\n4. {VAR}")


def test_every_listed_combination_is_a_template_in_both_languages(registry: Registry) -> None:
    assert combinations()
    for line in combinations():
        for language in Language:
            assert registry.template(in_language(line, language.value)).text


def test_a_text_no_template_is_is_refused(registry: Registry, settings: Settings) -> None:
    with pytest.raises(NoTemplate):
        registry.match("Vote for us on Sunday!")
    # A known sentence followed by another in a combination nobody registered.
    unlisted = (
        translate(Language.ENGLISH, "Your gender?")
        + "\n\n"
        + translate(Language.ENGLISH, "Please check the year of that date.")
    )
    with pytest.raises(NoTemplate, match=r"dlt_combinations\.txt"):
        registry.match(unlisted)
    dispatcher = Dispatcher.__new__(Dispatcher)
    dispatcher.settings, dispatcher.templates = settings, registry
    with pytest.raises(SendError) as caught:
        dispatcher.dlt_template_id("Vote for us on Sunday!", None)
    assert caught.value.code == "dlt-template" and caught.value.permanent


def test_production_never_makes_up_a_template_id(settings: Settings) -> None:
    live = settings.model_copy(update={"environment": "production"})
    registry = Registry.from_settings(live)
    key = sentence_key("Your gender?", "en")
    assert registry.template_id(key) is None
    registered = live.model_copy(update={"dlt_template_ids": {key: "1107161234567890123"}})
    assert Registry.from_settings(registered).template_id(key) == "1107161234567890123"
    # Made-up ids are stable across processes: the fake and the bot agree on them.
    assert Registry.from_settings(settings).template_id(key) == Registry.from_settings(
        settings
    ).template_id(key)


def test_the_export_lists_every_template_with_what_dlt_asks(
    settings: Settings, registry: Registry
) -> None:
    out = io.StringIO()
    count = write(out, settings)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == COLUMNS and len(rows) == count
    assert {r["key"] for r in rows} == {t.key for t in registry.registered()}
    otp_ta = next(r for r in rows if r["key"] == "otp_ta")
    assert otp_ta["type"] == "otp" and otp_ta["template_id"] == settings.dlt_template_ids["otp_ta"]
    assert {r["header"] for r in rows} == {settings.dlt_sender_id}
    assert {r["language"] for r in rows} >= {"ta", "en"}
    gender = next(r for r in rows if r["key"] == sentence_key("Your gender?", "ta"))
    assert gender["template"] == translate(Language.TAMIL, "Your gender?")
    assert gender["type"] == "service-implicit" and gender["template_id"] == ""
    # --missing lists only what has no id yet: the OTPs have theirs.
    missing = io.StringIO()
    write(missing, settings, missing_only=True)
    assert "otp_ta" not in missing.getvalue()


def test_the_fake_registers_each_template_under_its_id(
    settings: Settings, registry: Registry
) -> None:
    registered = registered_templates(settings)
    key = sentence_key("Your gender?", "ta")
    assert registered[registry.template_id(key) or ""] == registry.template(key).text


def test_every_combination_the_flows_imply_is_listed() -> None:
    # A wrong answer re-asks after the hint; HELP answers before the question: each is
    # one SMS, so each is a template (python -m bot.flows.dlt_combinations adds them).
    from bot.flows.dlt_combinations import BEFORE_THE_MENU, implied

    assert implied() <= set(combinations()), sorted(implied() - set(combinations()))
    assert set(BEFORE_THE_MENU) <= set(msgids())  # still the sentences the code says
    assert "language-hint+choose-language+choices2" in implied()


def test_a_long_name_fits_its_wider_slot(registry: Registry) -> None:
    msgid = "Done. {name} is now an active member."
    name = "முத்துவேல் கருணாநிதி சுப்பிரமணியன் ராமசாமி"  # 41 characters: over one slot
    sent = translate(Language.TAMIL, msgid).format(name=name)
    found = registry.match(sent)
    assert found.key == sentence_key(msgid, "ta") and VAR * 4 in found.template.text
    assert template_pattern(found.template.text).match(sent)


async def test_an_unlisted_combination_goes_as_one_sms_per_sentence(settings: Settings) -> None:
    """Better more parts than no answer: each sentence is registered, their combination
    is not yet; the fake DLT, which refuses any body that is not its template, takes
    each piece."""
    from core.outbound import Senders
    from fakes.dlt import FakeDlt

    fake = FakeDlt.from_settings(settings)
    await fake.start()
    live = settings.model_copy(update={"dlt_api_base_url": fake.base_url})
    senders = Senders.from_settings(live)
    try:
        dispatcher = Dispatcher(senders, live)
        first = translate(Language.ENGLISH, "Your gender?")
        second = translate(Language.ENGLISH, "Please check the year of that date.")
        await dispatcher.send(
            Channel.SMS, "+919840012345", Reply(f"{first}\n\n{second}"), key="k-split"
        )
        bodies = [m["Body"] for m in fake.sent if m.get("To") == "+919840012345"]
        assert bodies == [first, second]
        with pytest.raises(SendError):  # a piece that is no template still refuses
            await dispatcher.send(
                Channel.SMS, "+919840012345", Reply(f"{first}\n\nVote for us!"), key="k-2"
            )
    finally:
        await senders.close()
        await fake.stop()
