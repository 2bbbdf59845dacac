"""Each flow's graph, read from its declaration: the edges the graph test walks and the
Mermaid diagrams in docs/flows/ (regenerate them with ``make diagrams``, i.e.
``python -m bot.flows.diagrams``; ``tests/test_flow_graphs.py`` fails when one is stale).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.conversation import END, RETURN, Call, Flow
from bot.flows import FLOWS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "flows"


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: tuple[str, str] | str
    """(flow, state), or :data:`END` or :data:`RETURN`."""
    label: str = ""
    call: Call | None = None


def edges(flow: Flow) -> Iterator[Edge]:
    for name, ask in flow.states.items():
        labels: dict[str, list[str]] = {}
        if isinstance(ask.next, Mapping):
            for choice, state in ask.next.items():
                labels.setdefault(state, []).append(choice)
        if ask.skip is not None and ask.skip != ask.next:
            labels.setdefault(ask.skip, []).append("SKIP")
        for target in ask.targets():
            if isinstance(target, Call):
                yield Edge(name, (target.flow, FLOWS[target.flow].entry), "call", target)
            elif target in (END, RETURN):
                yield Edge(name, target)
            else:
                yield Edge(name, flow.where(target), ", ".join(labels.get(target, ())))


def mermaid(flow: Flow) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {flow.entry}"]
    elsewhere: dict[str, str] = {}
    for edge in edges(flow):
        label = edge.label
        if edge.target == RETURN:
            node, label = "[*]", "back to the caller"
        elif isinstance(edge.target, str):  # END
            node = "[*]"
        else:
            other, state = edge.target
            node = state if other == flow.name else f"{other}__{state}"
            if other != flow.name:
                elsewhere[node] = f"{other}: {state}"
        if edge.call is not None:
            back_flow, back_state = edge.call.then
            back = back_state if back_flow == flow.name else f"{back_flow}: {back_state}"
            label = f"call, then {back}"
        lines.append(f"    {edge.source} --> {node}" + (f": {label}" if label else ""))
    names = [f'    state "{text}" as {node}' for node, text in sorted(elsewhere.items())]
    return "\n".join(lines[:1] + names + lines[1:])


def page(flow: Flow) -> str:
    own = ", ".join(word.name for word in flow.fallbacks) or "none"
    return (
        f"# Flow `{flow.name}`\n\n"
        f"Generated from `bot/flows/{flow.name}.py` by `make diagrams`; do not edit.\n\n"
        f"Who may run it: {flow.requires}. Global words it answers its own way: {own}.\n\n"
        f"```mermaid\n{mermaid(flow)}\n```\n"
    )


def stale() -> list[str]:
    """The diagrams in docs/flows that differ from the declarations."""
    return [
        name
        for name, flow in FLOWS.items()
        if not (DOCS / f"{name}.md").exists()
        or (DOCS / f"{name}.md").read_text(encoding="utf-8") != page(flow)
    ]


def write() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, flow in FLOWS.items():
        (DOCS / f"{name}.md").write_text(page(flow), encoding="utf-8")


if __name__ == "__main__":
    write()
    sys.stdout.write(f"wrote {len(FLOWS)} diagrams to {DOCS}\n")
