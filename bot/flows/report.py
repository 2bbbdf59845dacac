"""Officials follow their announcements: counts by status, channel and district, SMS
parts and cost, and where WhatsApp's daily tier sent members another way.

```mermaid
stateDiagram-v2
    [*] --> pick: the official's latest announcements
    pick --> [*]: the report
```
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from bot.context import Context
from bot.conversation import Answer, Done, Flow, Outcome, Question, Retry
from core import deliveries
from core.channels.base import Choice, Reply
from core.i18n import Language, _, format_money, format_number
from core.models import Announcement

LATEST = 5
CHANNEL_NAMES = {"whatsapp": "WhatsApp", "telegram": "Telegram", "sms": "SMS"}


async def latest_choices(ctx: Context) -> tuple[Choice, ...]:
    assert ctx.member is not None
    rows = await ctx.session.execute(
        select(Announcement.id, Announcement.title, Announcement.title_ta)
        .where(Announcement.created_by == ctx.member.id)
        .order_by(Announcement.created_at.desc())
        .limit(LATEST)
    )
    tamil = ctx.language is Language.TAMIL
    return tuple(Choice(str(r.id), (r.title_ta if tamil else None) or r.title) for r in rows)


async def ask_pick(ctx: Context) -> Reply:
    return Reply(_("Which announcement?"), await latest_choices(ctx), stored_choices=False)


async def answer_pick(ctx: Context, answer: Answer) -> Outcome:
    choices = await latest_choices(ctx)
    if not choices:
        return Done(_("You have not sent any announcements yet."))
    picked = answer.pick(choices, {})
    if picked is None:
        return Retry(_("Please reply with a number from the list."))
    report = await deliveries.report(ctx.session, uuid.UUID(picked), ctx.settings)
    assert report is not None
    return Done(describe(report, ctx.language))


def describe(report: deliveries.Report, language: Language) -> str:
    n = format_number
    lines = [
        _("Report: {title}").format(title=report.title),
        _("To: {unit} and every unit below it").format(
            unit=f"{report.unit_name} ({report.unit_code})"
        ),
        _("Recipients: {total}").format(total=n(report.total)),
        _("Delivered: {delivered} · Sent: {sent} · Waiting: {waiting} · Failed: {failed}").format(
            delivered=n(report.count("delivered", "read")),
            sent=n(report.count("sent")),
            waiting=n(report.count("queued", "sending", "deferred")),
            failed=n(report.count("failed", "skipped")),
        ),
    ]
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


FLOW = Flow(name="report", entry="pick", states={"pick": Question(ask_pick, answer_pick)})
