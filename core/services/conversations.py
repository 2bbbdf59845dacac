"""Conversation states in PostgreSQL (table ``conversation_states``): the SQL the engine
runs on every message (bot/engine.py, bot/state.py) and what erasure and retention delete.

A state row is keyed by a keyed HMAC of (channel, address), so the table names no
number. Its row lock is the conversation's lock: the first statement of each message's
transaction upserts the row, which waits for the message before it from the same address
to commit and then returns the state that message saved.
"""

from __future__ import annotations

from core.security import keyed_hmac


def key(secret: str, channel: str, address: str) -> str:
    """A conversation's row key (32 hex characters)."""
    return keyed_hmac(secret, "conv", channel, address)[:32]


LOCK_WAIT = "10s"
"""How long a message waits for the one before it from the same address (Twilio gives
up on a webhook after 15 s): longer than the server's usual lock timeout."""

LOCK_AND_LOAD = """
WITH wait AS (SELECT set_config('lock_timeout', $3, true))
INSERT INTO conversation_states AS c (key, state, updated_at)
SELECT $1, '{}', $2 FROM wait
ON CONFLICT (key) DO UPDATE SET key = excluded.key
RETURNING c.state::text, c.updated_at
"""
"""Lock the conversation for this transaction and read its state (``'{}'`` for a new
one). The row to insert is computed from ``wait``, so the lock timeout is set before
the insert can wait; on a conflict the returned row is the latest committed version."""

SAVE = "UPDATE conversation_states SET state = $2::jsonb, updated_at = $3 WHERE key = $1"
"""Save the state, in the message's transaction. An erasure in that transaction deleted
the row (:data:`FORGET`): nothing is written back."""

FORGET = "DELETE FROM conversation_states WHERE key = :k"

PUT = (
    "INSERT INTO conversation_states (key, state, updated_at)"
    " VALUES (:k, CAST(:state AS jsonb), :at)"
    " ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
)
"""Set a state from outside a conversation (tests, benchmarks that start members at a
given question)."""
