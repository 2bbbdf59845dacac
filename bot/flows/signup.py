"""Membership signup: name, date of birth, gender, where they live (PIN code or shared
location → party unit), voter ID and email (both optional), then a summary to confirm.
The graph: docs/flows/signup.md (generated from :data:`FLOW`).

Everything entered lives in the conversation state until the member confirms; only
then is anything written.
"""

from __future__ import annotations

from datetime import date

from bot import words
from bot.context import Context
from bot.conversation import END, Answer, Ask, Done, Flow, Goto, Outcome, Retry
from bot.flows import reach
from bot.flows.common import on_sms
from core import places, validation
from core.channels.base import Choice
from core.i18n import INDIA, N_, Language, _, format_day, in_language, local_name
from core.models.org import OrganizationUnit
from core.services import addresses, members, officials

GENDERS = (
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    Choice("male", N_("Male")),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    Choice("female", N_("Female")),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    Choice("transgender", N_("Transgender")),
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    Choice("unspecified", N_("Prefer not to say")),
)
GENDER_WORDS = {
    "male": ("male", "m", "man", "ஆண்", "ஆண்பால்", "aan"),
    "female": ("female", "f", "woman", "பெண்", "பெண்பால்", "penn", "pen"),
    "transgender": (
        "transgender",
        "trans",
        "tg",
        "திருநர்",
        "மூன்றாம் பாலினம்",
        "திருநங்கை",
        "திருநம்பி",
        "thirunangai",
        "thirunambi",
    ),
    "unspecified": (*words.SKIP, "சொல்ல விரும்பவில்லை", "சொல்ல மாட்டேன்"),
}
PLACES = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("pincode", N_("Send my PIN code")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("location", N_("Share my location")),
)
PLACE_WORDS = {
    "pincode": ("pin", "pincode", "pin code", "பின்கோடு", "பின் கோடு", "அஞ்சல் குறியீடு"),
    "location": ("location", "இருப்பிடம்", "லொகேஷன்", "இடம்"),
}
CONFIRM = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("confirm", N_("Confirm and join")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("restart", N_("Start again")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 17 characters.
    Choice("cancel", N_("Cancel")),
)
CONFIRM_WORDS = {
    "confirm": (*words.YES, *words.FINE, "confirm", "உறுதி"),
    "restart": ("restart", "again", "edit", *words.AGAIN, "திருத்து"),
    "cancel": (*words.CANCEL, *words.NO),
}


async def take_name(ctx: Context, name: validation.ParsedName) -> Outcome:
    ctx.data["name"], ctx.data["name_is_tamil"] = name.text, name.is_tamil
    return Goto("dob")


async def answer_dob(ctx: Context, answer: Answer) -> Outcome:
    result = validation.parse_birth_date(answer.text, today=ctx.now.astimezone(INDIA).date())
    if isinstance(result, date):
        ctx.data["dob"] = result.isoformat()
        return Goto("gender")
    if result is validation.BirthDateError.UNDER_18:
        return Done(
            _(
                "Thank you for your interest. Party membership is open from the age of 18, "
                "so we cannot enrol you yet. You are most welcome to join when you turn 18."
            )
        )
    hints = {
        validation.BirthDateError.UNREADABLE: _(
            "I could not read that date. Please write it as day/month/year, for example 15/08/1990."
        ),
        validation.BirthDateError.IN_FUTURE: _("That date is in the future. Please check it."),
        validation.BirthDateError.TOO_OLD: _("Please check the year of that date."),
    }
    return Retry(hints[result])


async def place_typed(ctx: Context, answer: Answer) -> Outcome | None:
    """A location shared or a PIN typed straight away, without choosing first."""
    if answer.latitude is not None:
        return await take_location(ctx, answer)
    if pin := validation.parse_pincode(answer.text):
        return await take_pincode(ctx, pin)
    return None


async def take_pincode(ctx: Context, pin: str) -> Outcome:
    code = places.district_code_for_pincode(pin)
    unit = await officials.unit_by_code(ctx.session, f"TN.{code}") if code else None
    if unit is None:
        return Retry(
            _("We could not find {pin} among Tamil Nadu PIN codes. Please check it.").format(
                pin=pin
            )
        )
    ctx.data.update(pincode=pin, unit_id=str(unit.id), **unit_names(unit, ctx.language))
    return Goto("voter_id")


def unit_names(unit: OrganizationUnit, language: Language) -> dict[str, str]:
    """The unit's name for the member's summary, and both names for the notice to its
    officials (each reads it in their own language)."""
    return {
        "unit_name": officials.unit_label(unit, language),
        "unit_name_en": officials.unit_label(unit, Language.ENGLISH),
        "unit_name_ta": officials.unit_label(unit, Language.TAMIL),
    }


async def take_location(ctx: Context, answer: Answer) -> Outcome:
    if answer.latitude is None and (pin := validation.parse_pincode(answer.text)):
        return await take_pincode(ctx, pin)
    if answer.latitude is None or answer.longitude is None:
        return Retry(_("I did not receive a location. You can also send your PIN code instead."))
    if not places.in_tamil_nadu(answer.latitude, answer.longitude):
        return Retry(
            _(
                "That location is outside Tamil Nadu. Please share a location in Tamil Nadu, "
                "or send your PIN code."
            )
        )
    near = await places.nearest_booth(ctx.session, answer.latitude, answer.longitude)
    unit = await officials.unit_by_code(ctx.session, near.code) if near else None
    if unit is None:
        return Retry(_("We could not place that location. Please send your PIN code instead."))
    location = [answer.latitude, answer.longitude]
    ctx.data.update(unit_id=str(unit.id), location=location, **unit_names(unit, ctx.language))
    return Goto("voter_id")


async def summary(ctx: Context) -> str:
    d, genders = ctx.data, {c.id: _(c.label) for c in GENDERS}
    return _(
        "Please check your details:\n"
        "Name: {name}\n"
        "Date of birth: {dob}\n"
        "Gender: {gender}\n"
        "Area: {area}\n"
        "Voter ID: {voter_id}\n"
        "Email: {email}"
    ).format(
        name=d["name"],
        dob=format_day(date.fromisoformat(d["dob"])),
        gender=genders[d["gender"]],
        area=d["unit_name"],
        voter_id=d.get("voter_id") or "-",
        email=d.get("email") or "-",
    )


async def summary_sms(ctx: Context) -> str:
    d, genders = ctx.data, {c.id: _(c.label) for c in GENDERS}
    return _("Please check: {name}, {dob}, {gender}, {area}.").format(
        name=d["name"],
        dob=format_day(date.fromisoformat(d["dob"])),
        gender=genders[d["gender"]],
        area=d["unit_name"],
    )


async def confirmed(ctx: Context, picked: str) -> Outcome:
    if picked == "restart":
        ctx.data.clear()
        return Goto("name")
    if picked == "cancel":
        return Done(_("Cancelled. Nothing was saved."))
    d, phone = ctx.data, ctx.phone
    assert phone is not None  # signup is offered only once the phone is known
    location = d.get("location")
    result = await members.sign_up(
        ctx.session,
        ctx.settings,
        phone=phone,
        name=d["name"],
        name_is_tamil=d["name_is_tamil"],
        date_of_birth=date.fromisoformat(d["dob"]),
        gender=d["gender"],
        unit_id=d["unit_id"],
        pincode=d.get("pincode"),
        location=tuple(location) if location else None,
        voter_id=d.get("voter_id"),
        email=d.get("email"),
        language=ctx.language.value,
        now=ctx.now,
    )
    member = result.member
    assert member.phone is not None  # just joined with it
    ctx.address = await addresses.link_member(
        ctx.session,
        ctx.message.channel,
        ctx.message.address,
        member_id=member.id,
        phone=member.phone,
        now=ctx.now,
    )
    await addresses.link_phone_channels(ctx.session, member.phone, member.id, now=ctx.now)
    ctx.member = member
    number = member.membership_number
    if not result.created:
        return Done(
            _("You are already a member. Your membership number is {number}.").format(number=number)
        )
    for official in await members.officials_to_notify(ctx.session, d["unit_id"]):
        # TRANSLATORS: the quoted menu item (table: menu.WORDS) is the label, as translated.
        # Goes by SMS to officials without WhatsApp or Telegram.
        note = N_(
            "New member waiting for verification: {name} ({number}), {unit}. "
            "Open the menu and choose 'Verify new members'."
        )
        unit = local_name(
            d.get("unit_name_en", d["unit_name"]), d.get("unit_name_ta"), official.language
        )
        text = in_language(official.language, note).format(name=d["name"], number=number, unit=unit)
        await reach.tell(ctx, official.member_id, text)
    said = on_sms(
        ctx,
        _(
            "Welcome to the party! Your membership number is {number}. "
            "A party official of your area will verify your membership soon."
        ),
        # TRANSLATORS: by SMS, with the menu: keep it short.
        _("Welcome! Your membership number is {number}."),
    )
    return Done(said.format(number=number))


FLOW = Flow(
    name="signup",
    entry="name",
    states={
        "name": Ask(
            N_("What is your full name? You can write it in Tamil or in English."),
            parse=validation.parse_name,
            hint=N_(
                "Please send just your name, in Tamil or English letters, "
                "for example: Selvi Murugan."
            ),
            then=take_name,
            goes_to=("dob",),
        ),
        "dob": Ask(
            N_("What is your date of birth? Write it as day/month/year, for example 15/08/1990."),
            sms=N_("Your date of birth? For example 15/08/1990."),
            answer=answer_dob,
            goes_to=("gender", END),
        ),
        "gender": Ask(
            N_("Your gender?"), choices=GENDERS, words=GENDER_WORDS, store="gender", next="place"
        ),
        "place": Ask(
            N_("Where do you live? This tells us which party unit you belong to."),
            # TRANSLATORS: by SMS a location cannot be shared: the PIN code straight away.
            sms=N_("Your area's PIN code? For example 605602."),
            sms_choices=False,
            choices=PLACES,
            words=PLACE_WORDS,
            answer=place_typed,
            next={"pincode": "pincode", "location": "location"},
            goes_to=("voter_id",),
        ),
        "pincode": Ask(
            N_("Please send your 6-digit PIN code, for example 605602."),
            parse=validation.parse_pincode,
            hint=N_("A PIN code has 6 digits, for example 605602."),
            then=take_pincode,
            goes_to=("voter_id",),
        ),
        "location": Ask(
            N_(
                "Please share your location. On WhatsApp, tap the 📎 (attach) button and "
                "choose Location. On Telegram, tap the button below."
            ),
            answer=take_location,
            ask_location=True,
            button=N_("Share my location"),
            goes_to=("voter_id",),
        ),
        "voter_id": Ask(
            # TRANSLATORS: keywords (table: words.SKIP) in quotes, as typed.
            N_(
                "If you have a voter ID card, send its number (for example ABC1234567). "
                "Otherwise send SKIP."
            ),
            # TRANSLATORS: keywords (table: words.SKIP) in quotes, as typed. By SMS.
            sms=N_("Your voter ID number? If you have none, send SKIP."),
            parse=validation.parse_epic,
            hint=N_("A voter ID number has 3 letters and 7 digits, for example ABC1234567."),
            store="voter_id",
            skip="email",
            next="email",
        ),
        "email": Ask(
            # TRANSLATORS: keywords (table: words.SKIP) in quotes, as typed.
            N_("If you want, send your email address. Otherwise send SKIP."),
            # TRANSLATORS: keywords (table: words.SKIP) in quotes, as typed. By SMS.
            sms=N_("Your email address? If you have none, send SKIP."),
            parse=validation.parse_email,
            hint=N_("That does not look like an email address, for example name@example.com."),
            store="email",
            skip="confirm",
            next="confirm",
        ),
        "confirm": Ask(
            summary,
            sms=summary_sms,
            choices=CONFIRM,
            words=CONFIRM_WORDS,
            then=confirmed,
            goes_to=("name", END),
        ),
    },
)
