"""Declared conversation flows (CONVENTIONS.md #4).

A flow is a small state machine declared as data: named states, an entry state, who may
run it (:attr:`Flow.requires`), and the global words it answers its own way
(:attr:`Flow.fallbacks`). Each state is an :class:`Ask`: the prompt (a sentence, or a
function when the prompt shows what was entered), the choices and their typed synonyms,
how the answer is parsed and where it is stored, and where the conversation goes next.
The engine runs the declaration; only states with real logic carry code, in ``answer=``
(run first; ``None`` from it lets the declared part go on — a PIN typed where a choice
was asked) or ``then=`` (given the picked or parsed value).

Transitions are read without running anything: ``next`` and ``skip`` name states, and
code declares where it may lead in ``goes_to`` — ``"state"``, ``"flow:state"``,
:data:`END`, :data:`RETURN` or a :class:`Call`. The engine refuses an outcome a state did
not declare (:meth:`Flow.check`), so the graph that ``tests/test_flow_graphs.py`` walks
and ``docs/flows/*.md`` draws (``make diagrams``) is the graph that runs.

An answer either moves on (:class:`Goto`; ``Goto(flow="verify")`` enters at the flow's
entry), calls another flow that comes back (:class:`Call` … :class:`Return`: a fresh SMS
code in the middle of an announcement; the way back is a stack in the saved state, not a
key in ``data``), finishes (:class:`Done`), or re-asks the same question with a hint
(:class:`Retry`), keeping everything entered so far.

``requires`` is checked whenever the engine runs a state, not only on entry: a position
can end, or a membership be deleted on another channel, between two messages. Someone not
allowed is shown the main menu, which offers only what they may do.

Where a conversation is lives in PostgreSQL, read and saved in each message's transaction
(:mod:`bot.state`, re-exported here).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.state import ConversationState as ConversationState
from bot.state import StateStore as StateStore
from bot.words import fold, is_skip
from core.channels.base import Channel, Choice, Location, Media, Reply
from core.i18n import N_, _
from core.validation import parse_choice_number

if TYPE_CHECKING:
    from bot.context import Context


# --- what an answer leads to ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Goto:
    """Move to ``state`` of ``flow`` (default: the current flow; the flow's entry when
    only ``flow`` is given) and ask its question, after saying ``say`` if given."""

    state: str | None = None
    flow: str | None = None
    say: str | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """Run ``flow`` from its entry; its :class:`Return` goes to ``then`` (flow, state)."""

    flow: str
    then: tuple[str, str]
    say: str | None = None


@dataclass(frozen=True, slots=True)
class Return:
    """Back to where the flow was called from (the menu when it was not called)."""

    say: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """Re-ask the current question, prefixed by a hint."""

    hint: str


@dataclass(frozen=True, slots=True)
class Done:
    """End the flow: say ``say`` and show the main menu (unless ``menu`` is False)."""

    say: str | None = None
    menu: bool = True


Outcome = Goto | Call | Return | Retry | Done
END = "[*]"
"""A declared target: the handler may end the flow (:class:`Done`)."""
RETURN = "[return]"
"""A declared target: the handler may go back to the caller (:class:`Return`)."""
Target = str | Call
"""``"state"``, ``"flow:state"``, :data:`END`, :data:`RETURN` or a :class:`Call`."""

Prompt = Callable[["Context"], Awaitable[str]]
Choices = Callable[["Context"], Awaitable[tuple[Choice, ...]]]
Answerer = Callable[["Context", "Answer"], Awaitable[Outcome | None]]
Then = Callable[["Context", Any], Awaitable[Outcome]]
Fallback = Callable[["Context"], Outcome]

# --- a state, declared ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ask:
    """One question and how its answer is taken, in this order: ``answer`` (if given;
    ``None`` from it goes on), SKIP (when ``skip`` names where to go; stores ``None``),
    the choice picked or ``parse(text)`` (``None`` re-asks with ``hint``, a
    :class:`Retry` re-asks with its own), stored under ``store``, then ``next`` (a
    state, or a state per choice id) — a choice ``next`` does not name goes to
    ``then(ctx, value)``.

    Sentences (``prompt``, ``hint``, ``button``, ``list_button``, static choice labels)
    are declared untranslated (``N_``) and translated when asked, in the member's
    language."""

    prompt: str | Prompt
    choices: tuple[Choice, ...] | Choices = ()
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    parse: Callable[[str], Any] | None = None
    store: str | None = None
    skip: str | None = None
    next: str | Mapping[str, str] | None = None
    hint: str = N_("Please reply with a number from the list.")
    answer: Answerer | None = None
    then: Then | None = None
    goes_to: tuple[Target, ...] = ()
    ask_location: bool = False
    ask_contact: bool = False
    button: str | None = None
    list_button: str | None = None
    stored_choices: bool = True
    sms: str | Prompt | None = None
    """A shorter prompt for SMS, where every 67 characters of Tamil cost another part."""
    sms_choices: bool = True
    """False: on SMS the choices are not listed (a location cannot be shared by SMS, so
    the prompt asks for the PIN code straight away)."""
    private: bool = False
    """Nothing of this step goes into the message log: no reply to an answer given here
    and no reply that asks this question is recorded (a ballot, a receipt:
    bot/engine.py)."""

    def targets(self) -> tuple[Target, ...]:
        """Everywhere an answer to this question may lead."""
        nexts = self.next.values() if isinstance(self.next, Mapping) else (self.next,)
        found = [t for t in (*nexts, self.skip) if t is not None]
        return tuple(dict.fromkeys((*found, *self.goes_to)))

    async def options(self, ctx: Context) -> tuple[Choice, ...]:
        if callable(self.choices):
            return await self.choices(ctx)
        return tuple(Choice(c.id, _(c.label)) for c in self.choices)

    async def reply(self, ctx: Context) -> Reply:
        on_sms = ctx.message.channel is Channel.SMS
        prompt = self.sms if on_sms and self.sms is not None else self.prompt
        text = await prompt(ctx) if callable(prompt) else _(prompt) if prompt else ""
        return Reply(
            text,
            await self.options(ctx) if self.sms_choices or not on_sms else (),
            ask_location=self.ask_location,
            ask_contact=self.ask_contact,
            button=_(self.button) if self.button else None,
            list_button=_(self.list_button) if self.list_button else None,
            stored_choices=self.stored_choices,
        )

    async def take(self, ctx: Context, answer: Answer) -> Outcome:
        if self.answer is not None and (outcome := await self.answer(ctx, answer)):
            return outcome
        if self.skip is not None and is_skip(answer.text):
            if self.store:
                ctx.data[self.store] = None
            return Goto(self.skip)
        value: Any = answer.text
        if self.choices:
            value = answer.pick(await self.options(ctx), self.words)
        elif self.parse is not None:
            value = self.parse(answer.text)
        if isinstance(value, Retry):
            return value
        if value is None:
            return Retry(_(self.hint))
        if self.store:
            ctx.data[self.store] = value
        if isinstance(self.next, Mapping) and value in self.next:
            return Goto(self.next[value])
        if self.then is not None:
            return await self.then(ctx, value)
        assert isinstance(self.next, str), f"nowhere to go after {value!r}"
        return Goto(self.next)


# --- a flow --------------------------------------------------------------------------


class Word(enum.Enum):
    """The words that work anywhere (see ``bot/engine.py``'s ``GLOBAL_WORDS``)."""

    HELP = "help"
    MENU = "menu"
    STOP = "stop"
    START = "start"
    LANGUAGE = "language"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Requires:
    """Who may run a flow: anyone, a member, or an official holding one of
    ``permissions``."""

    member: bool = False
    permissions: frozenset[str] = frozenset()

    async def allows(self, ctx: Context) -> bool:
        if self.member and ctx.member is None:
            return False
        return not self.permissions or bool(self.permissions & await ctx.permissions())

    def __str__(self) -> str:
        if self.permissions:
            return "an official allowed to " + " or ".join(sorted(self.permissions))
        return "a member" if self.member else "anyone"


ANYONE = Requires()
MEMBER = Requires(member=True)


def Permission(*any_of: str) -> Requires:
    return Requires(member=True, permissions=frozenset(any_of))


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    entry: str
    states: dict[str, Ask]
    requires: Requires = ANYONE
    """Checked whenever the engine runs a state of the flow (a position can end between
    two messages); someone not allowed is shown the main menu."""
    fallbacks: Mapping[Word, Fallback | None] = field(default_factory=dict)
    """This flow's own answer to a global word, over the engine's defaults; ``None``
    refuses the word (it is taken as an ordinary answer). STOP and START are the law's
    and cannot be overridden."""
    private: bool = False
    """Its replies show what members wrote in confidence (a grievance's text): the
    message log keeps them without their text."""

    def question(self, state: str) -> Ask:
        return self.states[state]

    def where(self, target: str) -> tuple[str, str]:
        """A declared target as (flow, state)."""
        flow, _sep, state = target.rpartition(":")
        return flow or self.name, state

    def check(self, state: str, outcome: Outcome) -> None:
        """Refuse an outcome that ``state`` does not declare: the graph the tests walk and
        the diagrams show must be the one that runs."""
        declared = self.states[state].targets()
        if isinstance(outcome, Retry):
            return
        if isinstance(outcome, Done):
            ok = END in declared
        elif isinstance(outcome, Return):
            ok = RETURN in declared
        elif isinstance(outcome, Call):
            ok = any(isinstance(t, Call) and (t.flow, t.then) == (outcome.flow, outcome.then)
                     for t in declared)  # fmt: skip
        else:
            ok = any(
                isinstance(t, str) and t not in (END, RETURN) and self.where(t) == (
                    outcome.flow or self.name, outcome.state)
                for t in declared
            )  # fmt: skip
        if not ok:
            raise LookupError(f"{self.name}:{state} returned {outcome!r}, not among {declared}")


# --- an answer, as flows see it ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """What the member sent, reduced to what flows need."""

    text: str
    choice_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    location: Location | None = None
    """The shared location as the channel reported it (accuracy, forwarded, its date)."""
    contact_phone: str | None = None
    contact_is_own: bool = False
    media: tuple[Media, ...] = ()
    """Photos, voice notes and files sent with it (core.channels.base.Media)."""

    def pick(self, choices: tuple[Choice, ...], words: Mapping[str, tuple[str, ...]]) -> str | None:
        """The chosen option's id: a button payload, the option's number (ASCII or Tamil
        digits), or one of its words in either language."""
        ids = {c.id for c in choices}
        if self.choice_id in ids:
            return self.choice_id
        number = parse_choice_number(self.text)
        if number is not None and 1 <= number <= len(choices):
            return choices[number - 1].id
        folded = fold(self.text)
        if not folded:
            return None
        for choice in choices:
            if folded == fold(choice.label):
                return choice.id
            if folded in (fold(w) for w in words.get(choice.id, ())):
                return choice.id
        return None
