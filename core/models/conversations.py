"""Where each conversation is (bot/state.py): one row per (channel, address), under a
keyed HMAC of the pair, in an unlogged table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class ConversationStateRow(Base):
    """The flow and question a conversation is at and what was typed so far. Read and
    written inside each message's transaction, and its row lock is the conversation's
    lock (one message at a time, across every bot process).

    Unlogged (no WAL): after a PostgreSQL crash the table is empty and a replica has
    none of it. Losing a state costs a member a re-asked question, never data: what
    matters is written by core services. Rows idle a day are purged (core/services/
    retention.py); an erasure deletes the erased addresses' rows."""

    __tablename__ = "conversation_states"
    __table_args__ = {"prefixes": ["UNLOGGED"]}  # noqa: RUF012

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime]
