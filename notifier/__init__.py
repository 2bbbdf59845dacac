"""The notifier: an arq worker that fans announcements out and sends them, and the
priority lane for messages to one person.

What the rest of the project calls (after its transaction has committed)::

    await notifier.schedule_publish(redis, announcement_id, publish_at)
    await notifier.enqueue_batch(redis, announcement_id, batch)  # after a re-queue
    await notifier.enqueue_reply(redis, channel, address, reply, key=...)
    notifier.QueuedOutbox(redis)   # the bot's Outbox through the priority lane

Run it with ``vck worker``. Design and guarantees: docs/notifier.md.
"""

from notifier.worker import (
    QueuedOutbox,
    enqueue_batch,
    enqueue_reply,
    schedule_publish,
)

__all__ = ["QueuedOutbox", "enqueue_batch", "enqueue_reply", "schedule_publish"]
