"""Every flow's declared graph: targets exist, states are reachable, every state can
finish, and the diagrams in docs/flows match the declarations."""

from __future__ import annotations

import pytest

from bot.conversation import END, RETURN, Call, Done, Flow, Goto, Return
from bot.flows import FLOWS, diagrams

REGENERATE = "uv run --frozen python -m bot.flows.diagrams   (or: make diagrams)"


def exists(flow: str, state: str) -> bool:
    return flow in FLOWS and state in FLOWS[flow].states


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_target_exists(name: str) -> None:
    flow = FLOWS[name]
    assert flow.entry in flow.states
    for edge in diagrams.edges(flow):
        if isinstance(edge.target, tuple):
            assert exists(*edge.target), f"{name}:{edge.source} → {edge.target}"
        if edge.call is not None:
            assert exists(*edge.call.then), f"{name}:{edge.source} returns to {edge.call.then}"


def within(flow: Flow) -> dict[str, set[str]]:
    """Each state's successors inside the flow (a call comes back to its ``then``)."""
    succ: dict[str, set[str]] = {state: set() for state in flow.states}
    for edge in diagrams.edges(flow):
        if isinstance(edge.target, tuple) and edge.target[0] == flow.name:
            succ[edge.source].add(edge.target[1])
        if edge.call is not None and edge.call.then[0] == flow.name:
            succ[edge.source].add(edge.call.then[1])
    return succ


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_state_is_reachable_from_the_entry(name: str) -> None:
    flow = FLOWS[name]
    succ, seen, todo = within(flow), {flow.entry}, [flow.entry]
    while todo:
        for nxt in succ[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    assert seen == set(flow.states), f"unreachable in {name}: {set(flow.states) - seen}"


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_state_can_finish(name: str) -> None:
    """From every state some path ends the flow, returns to its caller or hands over to
    another flow (which this test checks in turn)."""
    flow = FLOWS[name]
    exits = {
        e.source
        for e in diagrams.edges(flow)
        if e.target in (END, RETURN) or (isinstance(e.target, tuple) and e.target[0] != name)
    }
    succ, finishing = within(flow), set(exits)
    grew = True
    while grew:
        more = {s for s, nexts in succ.items() if nexts & finishing} - finishing
        finishing |= more
        grew = bool(more)
    assert finishing == set(flow.states), f"stuck in {name}: {set(flow.states) - finishing}"


def test_the_engine_refuses_an_outcome_a_state_does_not_declare() -> None:
    signup = FLOWS["signup"]
    signup.check("name", Goto("dob", flow="signup"))  # declared
    with pytest.raises(LookupError):
        signup.check("name", Goto("email", flow="signup"))
    with pytest.raises(LookupError):
        signup.check("gender", Done())
    with pytest.raises(LookupError):
        signup.check("name", Return())
    announce = FLOWS["announce"]
    announce.check("when", Call("stepup", then=("announce", "confirm")))
    with pytest.raises(LookupError):
        announce.check("when", Call("stepup", then=("announce", "scope")))


def test_the_committed_diagrams_are_those_the_declarations_give() -> None:
    stale = diagrams.stale()
    assert not stale, f"docs/flows is stale for {stale}; regenerate: {REGENERATE}"


def test_a_diagram_shows_every_declared_edge() -> None:
    text = diagrams.mermaid(FLOWS["signup"])
    assert "    place --> pincode: pincode" in text
    assert "    place --> voter_id" in text  # the PIN typed straight away
    assert "    confirm --> [*]" in text
