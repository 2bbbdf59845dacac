"""Give to the party from chat (நன்கொடை / donate), members and non-members alike: a
cause (a campaign of their units or above, or the general fund), a name (non-members),
an amount (quick choices or another), the PAN and address when the year's total would
pass Rs 20,000, a declaration that the money is their own and Indian, then the gateway's
https payment link. The same question offers "my donations this year" (with receipt
links again) and, to officials, their campaigns' progress by unit and recording a cash
gift. Not offered by SMS: a payment link needs a smartphone's browser or UPI app.

Paid only by the gateway's signed webhook (bot/payments.py): the thanks and the
receipt come from there. The graph: docs/flows/donate.md (generated from :data:`FLOW`).
"""

from __future__ import annotations

import uuid

from bot import words
from bot.context import Context
from bot.conversation import END, Answer, Ask, Done, Flow, Goto, Outcome, Retry
from core import receipts
from core.channels.base import Choice
from core.i18n import N_, _, format_number, local_name
from core.services import donation_payments, donations
from core.services.donations import CASH_LIMIT, AmountError, Gift, LinkReady, Refusal
from core.validation import parse_name

VIEW_REPORTS = "view_reports"
MINE, PROGRESS, GENERAL, OTHER, CASH = "mine", "progress", "general", "other", "cash"
CONFIRM_WORDS = {
    "yes": (*words.YES, *words.FINE, "confirm", "உறுதி", "உறுதி செய்கிறேன்"),
    "no": (*words.CANCEL, *words.NO),
}
MORE_WORDS = {OTHER: ("other", "வேறு", "வேறு தொகை", "veru")}
AMOUNT_HINTS = {
    AmountError.NOT_A_NUMBER: N_("Please write the amount in numbers, for example 1000."),
    AmountError.NOT_POSITIVE: N_("The amount must be more than zero."),
    AmountError.PAISE: N_("Please give whole rupees, without paise."),
}


def rupees(amount: int) -> str:
    """₹8,000: whole rupees, no paise."""
    return "₹" + format_number(amount)


# --- the cause ------------------------------------------------------------------------


async def cause_choices(ctx: Context) -> tuple[Choice, ...]:
    async def read() -> list[donations.CampaignChoice]:
        member_id = ctx.member.id if ctx.member is not None else None
        return await donations.campaigns_for(ctx.session, member_id, ctx.now.date(), limit=6)

    campaigns = await ctx.once("donate.campaigns", read)
    shown = [Choice(str(c.id), c.name[:40]) for c in campaigns]
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    shown.append(Choice(GENERAL, _("General party fund")))
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    shown.append(Choice(MINE, _("My donations")))
    held = await ctx.permissions()
    if VIEW_REPORTS in held:
        # TRANSLATORS: a WhatsApp list item: at most 21 characters.
        shown.append(Choice(PROGRESS, _("Campaign progress")))
    if held:
        # TRANSLATORS: a WhatsApp list item: at most 21 characters.
        shown.append(Choice(CASH, _("Record a cash gift")))
    return tuple(shown)


async def cause(ctx: Context, picked: str) -> Outcome:
    if picked == MINE:
        return Done(await my_donations(ctx))
    if picked == PROGRESS:
        return Done(await progress(ctx))
    ctx.data.setdefault("request_key", uuid.uuid4().hex)
    if picked == CASH:  # offered to officials only; checked again here
        if not await ctx.permissions():
            return Retry(_("Please reply with a number from the list."))
        return Goto("cash_name")
    ctx.data["campaign_id"] = None if picked == GENERAL else picked
    return Goto("amount" if ctx.member is not None else "name")


async def my_donations(ctx: Context) -> str:
    assert ctx.phone is not None
    gifts = await donations.gifts_this_year(ctx.session, ctx.phone, ctx.now)
    if not gifts:
        return _("You have made no donations this financial year.")
    lines = [_("Your donations this financial year:")]
    for gift in gifts:
        number = gift.receipt_number or ""
        if gift.voided:
            lines.append(
                _("{amount}, receipt {number}: refunded").format(
                    amount=rupees(gift.amount), number=number
                )
            )
        else:
            link = receipts.receipt_link(ctx.settings, gift.id, ctx.now)
            lines.append(
                _("{amount}, receipt {number}: {link}").format(
                    amount=rupees(gift.amount), number=number, link=link
                )
            )
    total = sum(g.amount for g in gifts if not g.voided)
    lines.append(_("Total: {amount}").format(amount=rupees(total)))
    return "\n".join(lines)


async def progress(ctx: Context) -> str:
    ids = await donations.campaigns_in_scope(ctx.session, ctx.member_id, VIEW_REPORTS)
    if not ids:
        return _("There are no campaigns in your area yet.")
    lines = []
    for campaign_id in ids:
        found = await donations.campaign_progress(ctx.session, campaign_id)
        if found is None:
            continue
        target = rupees(found.target) if found.target else "-"
        lines.append(
            _("{name}: {collected} of {target}").format(
                name=found.name, collected=rupees(found.collected), target=target
            )
        )
        lines += [
            f"  {local_name(u.unit_name, u.unit_name_ta)} ({u.unit_code}): {rupees(u.amount)}"
            for u in found.by_unit
        ]
    return "\n".join(lines)


# --- who and how much -------------------------------------------------------------------


async def named(ctx: Context, answer: Answer) -> Outcome:
    name = parse_name(answer.text)
    if name is None:
        return Retry(_("Please write your name in letters, for example Kavitha Selvam."))
    ctx.data["name"] = name.text
    return Goto("amount")


async def amount_choices(ctx: Context) -> tuple[Choice, ...]:
    quick = [Choice(str(a), rupees(a)) for a in ctx.settings.donation_quick_choices]
    # TRANSLATORS: a WhatsApp list item: at most 21 characters.
    return (*quick, Choice(OTHER, _("Another amount")))


async def quick_amount(ctx: Context, picked: str) -> Outcome:
    if picked == OTHER:
        return Goto("other")
    return await take_amount(ctx, int(picked))


async def ask_other(ctx: Context) -> str:
    return _("How much would you like to give? Write whole rupees, from {low} to {high}.").format(
        low=rupees(ctx.settings.donation_min_rupees), high=rupees(ctx.settings.donation_max_rupees)
    )


async def other_amount(ctx: Context, answer: Answer) -> Outcome:
    parsed = donations.parse_amount(answer.text, ctx.settings)
    if parsed is AmountError.TOO_LOW or parsed is AmountError.TOO_HIGH:
        return Retry(
            _("Please give an amount from {low} to {high}.").format(
                low=rupees(ctx.settings.donation_min_rupees),
                high=rupees(ctx.settings.donation_max_rupees),
            )
        )
    if isinstance(parsed, AmountError):
        return Retry(_(AMOUNT_HINTS[parsed]))
    return await take_amount(ctx, parsed)


async def take_amount(ctx: Context, amount: int) -> Outcome:
    ctx.data["amount"] = amount
    assert ctx.phone is not None
    if not await donations.needs_pan(ctx.session, ctx.phone, amount, ctx.now):
        return Goto("declare")
    pan, address = await donations.known_pan(ctx.session, ctx.phone)
    if pan and address:
        ctx.data.update(pan=pan, address=address)
        return Goto("declare")
    return Goto("pan")


async def pan_given(ctx: Context, answer: Answer) -> Outcome:
    pan = donations.parse_pan(answer.text)
    if pan is None:
        return Retry(_("That is not a PAN. A PAN has 10 characters, like ABCDE1234F."))
    ctx.data["pan"] = pan
    return Goto("address")


async def address_given(ctx: Context, answer: Answer) -> Outcome:
    address = donations.parse_postal_address(answer.text)
    if address is None:
        return Retry(_("Please write your full address with its 6-digit PIN code."))
    ctx.data["address"] = address
    return Goto("declare")


# --- cash, received by an official ------------------------------------------------------


async def cash_named(ctx: Context, answer: Answer) -> Outcome:
    name = parse_name(answer.text)
    if name is None:
        return Retry(_("Please write the donor's name in letters."))
    ctx.data["cash_name"] = name.text
    return Goto("cash_amount")


async def cash_amount(ctx: Context, answer: Answer) -> Outcome:
    parsed = donations.parse_amount(answer.text, ctx.settings)
    if parsed is AmountError.TOO_HIGH or (isinstance(parsed, int) and parsed > CASH_LIMIT):
        return Retry(
            _(
                "The law allows at most {limit} in cash. A larger gift must come by UPI or bank."
            ).format(limit=rupees(CASH_LIMIT))
        )
    if isinstance(parsed, AmountError):
        return Retry(_(AMOUNT_HINTS.get(parsed, AMOUNT_HINTS[AmountError.NOT_A_NUMBER])))
    result = await donation_payments.record_cash(
        ctx.session,
        official_id=ctx.member_id,
        donor_name=ctx.data["cash_name"],
        amount=parsed,
        request_key=ctx.data.get("request_key"),
        now=ctx.now,
    )
    if isinstance(result, donation_payments.CashRefused):
        return Retry(
            _("Please give an amount from {low} to {high}.").format(
                low=rupees(1), high=rupees(CASH_LIMIT)
            )
        )
    link = receipts.receipt_link(ctx.settings, result.id, ctx.now)
    return Done(
        _(
            "Recorded: {amount} in cash from {name}. Receipt {number} "
            "(cash is not tax-deductible): {link}"
        ).format(
            amount=rupees(int(result.amount)),
            name=result.donor_name,
            number=result.receipt_number,
            link=link,
        )
    )


# --- the declaration and the link ---------------------------------------------------------

CONFIRM = (
    # TRANSLATORS: a WhatsApp quick-reply button: at most 20 characters.
    Choice("yes", N_("Yes, I confirm")),
    # TRANSLATORS: a WhatsApp quick-reply button: at most 20 characters.
    Choice("no", N_("Cancel")),
)


async def ask_declaration(ctx: Context) -> str:
    return _(
        "You are giving {amount}. Please confirm: this is my own money, I am a citizen "
        "of India, and it comes from an Indian bank account."
    ).format(amount=rupees(int(ctx.data["amount"])))


async def make_link(ctx: Context, picked: str) -> Outcome:
    if picked == "no":
        return Done(_(CANCELLED))
    assert ctx.phone is not None and ctx.gateway is not None
    d = ctx.data
    name = d.get("name") or await member_name(ctx)
    result = await donations.request_link(
        ctx.session,
        ctx.gateway,
        Gift(
            phone=ctx.phone,
            name=name,
            amount=int(d["amount"]),
            campaign_id=uuid.UUID(d["campaign_id"]) if d.get("campaign_id") else None,
            declared=True,
            member_id=ctx.member.id if ctx.member else None,
            pan=d.get("pan"),
            address=d.get("address"),
            chat_channel=ctx.message.channel.value,
            chat_address=ctx.message.address,
            language=ctx.language.value,
            request_key=d.get("request_key"),
        ),
        now=ctx.now,
        settings=ctx.settings,
    )
    if isinstance(result, LinkReady):
        if result.again:
            return Done(_(LINK_WAITING).format(amount=rupees(result.amount), url=result.url))
        minutes = ctx.settings.donation_link_minutes
        return Done(
            _(LINK_SENT).format(amount=rupees(result.amount), url=result.url, minutes=minutes)
        )
    return Done(refusal_text(result.reason))


async def member_name(ctx: Context) -> str:
    from core.models import Member

    assert ctx.member is not None
    member = await ctx.session.get(Member, ctx.member.id)
    assert member is not None
    return " ".join(p for p in (member.first_name, member.last_name) if p)


def refusal_text(reason: Refusal) -> str:
    if reason is Refusal.FOREIGN_PHONE:
        return _(
            "Sorry, the law allows donations only from India. We can accept them only "
            "from an Indian mobile number."
        )
    if reason is Refusal.GATEWAY_DOWN:
        return _("The payment service is not answering. Please try again in a few minutes.")
    return _("Sorry, this donation could not be made. Please start again.")


LINK_SENT = N_(
    "Thank you! Pay {amount} by UPI with this link within {minutes} minutes: {url} "
    "Your receipt comes here once the payment reaches us."
)
LINK_WAITING = N_(
    "You already have a payment link for {amount} waiting. Please pay it first: {url}"
)
CANCELLED = N_("Cancelled. No payment link was made.")

FLOW = Flow(
    name="donate",
    entry="cause",
    states={
        "cause": Ask(
            N_("Thank you for supporting the party. What would you like to give to?"),
            choices=cause_choices,
            # TRANSLATORS: the WhatsApp list button: at most 20 characters.
            list_button=N_("Choose"),
            then=cause,
            goes_to=("name", "amount", "cash_name", END),
        ),
        "name": Ask(
            N_("Your name, as it should appear on the receipt?"),
            answer=named,
            goes_to=("amount",),
        ),
        "amount": Ask(
            N_("How much would you like to give?"),
            choices=amount_choices,
            words=MORE_WORDS,
            then=quick_amount,
            goes_to=("other", "pan", "declare"),
        ),
        "other": Ask(ask_other, answer=other_amount, goes_to=("pan", "declare")),
        "pan": Ask(
            N_(
                "With this gift your donations this year pass ₹20,000. The law asks for "
                "your PAN for such donations. Please send your PAN."
            ),
            answer=pan_given,
            goes_to=("address",),
        ),
        "address": Ask(
            N_("Your full postal address, with PIN code? The Election Commission report needs it."),
            answer=address_given,
            goes_to=("declare",),
        ),
        "cash_name": Ask(
            N_("The donor's name, as it should appear on the receipt?"),
            answer=cash_named,
            goes_to=("cash_amount",),
        ),
        "cash_amount": Ask(
            N_("How much did they give in cash? At most ₹2,000, in whole rupees."),
            answer=cash_amount,
            goes_to=(END,),
        ),
        "declare": Ask(
            ask_declaration, choices=CONFIRM, words=CONFIRM_WORDS, then=make_link, goes_to=(END,)
        ),
    },
)
