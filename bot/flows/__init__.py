"""Every conversation flow, by name. Each module declares one state machine; its diagram
in docs/flows/ is generated from the declaration (``make diagrams``)."""

from __future__ import annotations

from bot.conversation import Flow
from bot.flows import (
    announce,
    donate,
    event_new,
    events,
    grievance,
    grievance_desk,
    language,
    link,
    menu,
    party,
    privacy,
    report,
    run_election,
    signup,
    stand,
    stepup,
    verify,
    vote,
    welcome,
)

MENU = "menu"

FLOWS: dict[str, Flow] = {
    flow.name: flow
    for flow in (
        welcome.FLOW,
        menu.FLOW,
        party.FLOW,
        language.FLOW,
        signup.FLOW,
        link.FLOW,
        stepup.FLOW,
        verify.FLOW,
        announce.FLOW,
        report.FLOW,
        privacy.FLOW,
        events.FLOW,
        event_new.FLOW,
        grievance.FLOW,
        grievance_desk.FLOW,
        donate.FLOW,
        vote.FLOW,
        run_election.FLOW,
        stand.FLOW,
    )
}
