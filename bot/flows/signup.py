"""Membership signup.

```mermaid
stateDiagram-v2
    [*] --> name
    name --> dob
    dob --> gender
    dob --> [*]: under 18 (nothing stored)
    gender --> place
    place --> pincode: PIN code
    place --> location: share location
    pincode --> voter_id: Tamil Nadu PIN → district
    location --> voter_id: nearest booth (PostGIS)
    voter_id --> email: EPIC or SKIP
    email --> confirm: email or SKIP
    confirm --> [*]: Confirm → member created 'pending', officials told
    confirm --> name: Start again
```
Everything entered lives in the conversation state until the member confirms; only
then is anything written.
"""

from __future__ import annotations

from datetime import date

from bot.context import Context
from bot.conversation import Answer, Done, Flow, Goto, Outcome, Question, Retry
from bot.flows import common, reach, units
from core import places, validation
from core.channels.base import Choice, Reply
from core.i18n import INDIA, N_, _, format_day, in_language
from core.services import addresses, members

GENDER_WORDS = {
    "male": ("male", "m", "man", "ஆண்"),
    "female": ("female", "f", "woman", "பெண்"),
    "transgender": ("transgender", "trans", "திருநர்", "மூன்றாம் பாலினம்"),
    "unspecified": ("skip", "தவிர்", "சொல்ல விரும்பவில்லை"),
}
PLACE_WORDS = {
    "pincode": ("pin", "pincode", "pin code", "அஞ்சல் குறியீடு"),
    "location": ("location", "இருப்பிடம்"),
}
CONFIRM_WORDS = {
    "confirm": ("yes", "confirm", "ok", "ஆம்", "சரி", "உறுதி"),
    "restart": ("restart", "again", "edit", "மீண்டும்", "திருத்து"),
    "cancel": ("cancel", "no", "ரத்து", "வேண்டாம்"),
}


def gender_choices() -> tuple[Choice, ...]:
    return (
        Choice("male", _("Male")),
        Choice("female", _("Female")),
        Choice("transgender", _("Transgender")),
        Choice("unspecified", _("Prefer not to say")),
    )


def place_choices() -> tuple[Choice, ...]:
    return (Choice("pincode", _("Send my PIN code")), Choice("location", _("Share my location")))


def confirm_choices() -> tuple[Choice, ...]:
    return (
        Choice("confirm", _("Confirm and join")),
        Choice("restart", _("Start again")),
        Choice("cancel", _("Cancel")),
    )


# --- name ----------------------------------------------------------------------------


async def ask_name(ctx: Context) -> Reply:
    return Reply(_("What is your full name? You can write it in Tamil or in English."))


async def answer_name(ctx: Context, answer: Answer) -> Outcome:
    name = validation.parse_name(answer.text)
    if name is None:
        return Retry(
            _(
                "Please send just your name, in Tamil or English letters, "
                "for example: Selvi Murugan."
            )
        )
    ctx.data["name"], ctx.data["name_is_tamil"] = name.text, name.is_tamil
    return Goto("dob")


# --- date of birth -------------------------------------------------------------------


async def ask_dob(ctx: Context) -> Reply:
    return Reply(
        _("What is your date of birth? Write it as day/month/year, for example 15/08/1990.")
    )


async def answer_dob(ctx: Context, answer: Answer) -> Outcome:
    today = ctx.now.astimezone(INDIA).date()
    result = validation.parse_birth_date(answer.text, today=today)
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


# --- gender --------------------------------------------------------------------------


async def ask_gender(ctx: Context) -> Reply:
    return Reply(_("Your gender?"), gender_choices())


async def answer_gender(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(gender_choices(), GENDER_WORDS)
    if picked is None:
        return Retry(_("Please reply with a number from the list."))
    ctx.data["gender"] = picked
    return Goto("place")


# --- where they live -----------------------------------------------------------------


async def ask_place(ctx: Context) -> Reply:
    return Reply(
        _("Where do you live? This tells us which party unit you belong to."), place_choices()
    )


async def answer_place(ctx: Context, answer: Answer) -> Outcome:
    if answer.latitude is not None:  # shared the location straight away
        return await answer_location(ctx, answer)
    if validation.parse_pincode(answer.text):  # typed the PIN straight away
        return await answer_pincode(ctx, answer)
    picked = answer.pick(place_choices(), PLACE_WORDS)
    if picked is None:
        return Retry(_("Please reply with a number from the list."))
    return Goto(picked)


async def ask_pincode(ctx: Context) -> Reply:
    return Reply(_("Please send your 6-digit PIN code, for example 605602."))


async def answer_pincode(ctx: Context, answer: Answer) -> Outcome:
    pin = validation.parse_pincode(answer.text)
    if pin is None:
        return Retry(_("A PIN code has 6 digits, for example 605602."))
    code = places.district_code_for_pincode(pin)
    unit = await units.by_code(ctx.session, f"TN.{code}") if code else None
    if unit is None:
        return Retry(
            _("We could not find {pin} among Tamil Nadu PIN codes. Please check it.").format(
                pin=pin
            )
        )
    ctx.data.update(pincode=pin, unit_id=str(unit.id), unit_name=units.label(unit, ctx.language))
    return Goto("voter_id")


async def ask_location(ctx: Context) -> Reply:
    return Reply(
        _(
            "Please share your location. On WhatsApp, tap the 📎 (attach) button and choose "
            "Location. On Telegram, tap the button below."
        ),
        ask_location=True,
        button=_("Share my location"),
    )


async def answer_location(ctx: Context, answer: Answer) -> Outcome:
    if answer.latitude is None and validation.parse_pincode(answer.text):
        return await answer_pincode(ctx, answer)
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
    unit = await units.by_code(ctx.session, near.code) if near else None
    if unit is None:
        return Retry(_("We could not place that location. Please send your PIN code instead."))
    ctx.data.update(
        unit_id=str(unit.id),
        unit_name=units.label(unit, ctx.language),
        location=[answer.latitude, answer.longitude],
    )
    return Goto("voter_id")


# --- optional details ----------------------------------------------------------------


async def ask_voter_id(ctx: Context) -> Reply:
    return Reply(
        _(
            "If you have a voter ID card, send its number (for example ABC1234567). "
            "Otherwise send SKIP."
        )
    )


async def answer_voter_id(ctx: Context, answer: Answer) -> Outcome:
    if common.is_skip(answer.text):
        ctx.data["voter_id"] = None
        return Goto("email")
    epic = validation.parse_epic(answer.text)
    if epic is None:
        return Retry(_("A voter ID number has 3 letters and 7 digits, for example ABC1234567."))
    ctx.data["voter_id"] = epic
    return Goto("email")


async def ask_email(ctx: Context) -> Reply:
    return Reply(_("If you want, send your email address. Otherwise send SKIP."))


async def answer_email(ctx: Context, answer: Answer) -> Outcome:
    if common.is_skip(answer.text):
        ctx.data["email"] = None
        return Goto("confirm")
    email = validation.parse_email(answer.text)
    if email is None:
        return Retry(_("That does not look like an email address, for example name@example.com."))
    ctx.data["email"] = email
    return Goto("confirm")


# --- confirm -------------------------------------------------------------------------


async def ask_confirm(ctx: Context) -> Reply:
    d = ctx.data
    genders = {c.id: c.label for c in gender_choices()}
    summary = _(
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
    return Reply(summary, confirm_choices())


async def answer_confirm(ctx: Context, answer: Answer) -> Outcome:
    picked = answer.pick(confirm_choices(), CONFIRM_WORDS)
    if picked is None:
        return Retry(_("Please reply with a number from the list."))
    if picked == "restart":
        ctx.data.clear()
        return Goto("name")
    if picked == "cancel":
        return Done(_("Cancelled. Nothing was saved."))
    return await join(ctx)


async def join(ctx: Context) -> Outcome:
    d, phone = ctx.data, ctx.phone
    assert phone is not None
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
    if not result.created:
        return Done(
            _("You are already a member. Your membership number is {number}.").format(
                number=member.membership_number
            )
        )
    await tell_officials(ctx, d["unit_id"], d["name"], member.membership_number, d["unit_name"])
    return Done(
        _(
            "Welcome to the party! Your membership number is {number}. "
            "A party official of your area will verify your membership soon."
        ).format(number=member.membership_number)
    )


async def tell_officials(ctx: Context, unit_id: str, name: str, number: str, unit: str) -> None:
    """Queue a note to the officials who may verify this member, in their language."""
    for official in await members.officials_to_notify(ctx.session, unit_id):
        text = in_language(
            official.language,
            N_(
                "New member waiting for verification: {name} ({number}), {unit}. "
                "Open the menu and choose 'Verify new members'."
            ),
        ).format(name=name, number=number, unit=unit)
        await reach.tell(ctx, official.member_id, text)


FLOW = Flow(
    name="signup",
    entry="name",
    states={
        "name": Question(ask_name, answer_name),
        "dob": Question(ask_dob, answer_dob),
        "gender": Question(ask_gender, answer_gender),
        "place": Question(ask_place, answer_place),
        "pincode": Question(ask_pincode, answer_pincode),
        "location": Question(ask_location, answer_location),
        "voter_id": Question(ask_voter_id, answer_voter_id),
        "email": Question(ask_email, answer_email),
        "confirm": Question(ask_confirm, answer_confirm),
    },
)
