"""Officials follow their announcements: counts by status, channel and district, SMS
parts and cost, and where WhatsApp's daily tier sent members another way.
The graph: docs/flows/report.md (generated from :data:`FLOW`)."""

from __future__ import annotations

import uuid

from bot.context import Context
from bot.conversation import END, Answer, Ask, Done, Flow, Outcome, Permission
from core import announcements, deliveries
from core.channels.base import Choice
from core.i18n import N_, Language, _, format_money, format_number, local_name

LATEST = 5
CHANNEL_NAMES = {"whatsapp": "WhatsApp", "telegram": "Telegram", "sms": "SMS"}


async def latest_choices(ctx: Context) -> tuple[Choice, ...]:
    sent = await ctx.once(
        "report.recent", lambda: announcements.recent(ctx.session, ctx.member_id, limit=LATEST)
    )
    tamil = ctx.language is Language.TAMIL
    return tuple(
        Choice(str(s.announcement_id), (s.title_ta if tamil else None) or s.title) for s in sent
    )


async def none_sent(ctx: Context, answer: Answer) -> Outcome | None:
    if not await latest_choices(ctx):
        return Done(_("You have not sent any announcements yet."))
    return None


async def picked(ctx: Context, announcement_id: str) -> Outcome:
    report = await deliveries.report(ctx.session, uuid.UUID(announcement_id), ctx.settings)
    assert report is not None  # one of the official's own announcements
    return Done(describe(report, ctx.language))


def describe(report: deliveries.Report, language: Language) -> str:
    n = format_number
    unit = local_name(report.unit_name, report.unit_name_ta, language)
    lines = [
        _("Report: {title}").format(title=report.title),
        _("To: {unit} and every unit below it").format(unit=f"{unit} ({report.unit_code})"),
        _("Recipients: {total}").format(total=n(report.total)),
        _("Delivered: {delivered} · Sent: {sent} · Waiting: {waiting} · Failed: {failed}").format(
            delivered=n(report.count("delivered", "read")),
            sent=n(report.count("sent")),
            waiting=n(report.count("queued", "sending", "deferred")),
            failed=n(report.count("failed", "skipped")),
        ),
    ]
    if report.in_doubt:
        lines.append(
            _("Uncertain: {n} (sending was cut off; may be missing or sent twice)").format(
                n=n(report.in_doubt)
            )
        )
    if report.by_channel:
        channels = ", ".join(
            f"{CHANNEL_NAMES.get(channel, channel)} {n(sum(counts.values()))}"
            for channel, counts in sorted(report.by_channel.items())
        )
        lines.append(_("By channel: {channels}").format(channels=channels))
    for district in report.by_district[:10]:
        name = (district.name_ta if language is Language.TAMIL else None) or district.name
        lines.append(f"  {name}: {n(district.delivered)}/{n(district.total)}")
    lines.append(
        _("SMS parts: {parts}, cost so far {cost}").format(
            parts=n(report.sms_parts), cost=format_money(report.sms_cost_paise / 100)
        )
    )
    if report.whatsapp_rerouted or report.whatsapp_waiting:
        lines.append(
            _(
                "WhatsApp daily limit: {rerouted} went by Telegram or SMS, "
                "{waiting} wait for tomorrow."
            ).format(rerouted=n(report.whatsapp_rerouted), waiting=n(report.whatsapp_waiting))
        )
    return "\n".join(lines)


FLOW = Flow(
    name="report",
    entry="pick",
    requires=Permission("announce", "view_reports"),
    states={
        "pick": Ask(
            N_("Which announcement?"),
            choices=latest_choices,
            stored_choices=False,
            answer=none_sent,
            then=picked,
            goes_to=(END,),
        )
    },
)
