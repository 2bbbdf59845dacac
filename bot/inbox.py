"""The message log: the SQL every message runs besides its conversation state's
(core/services/conversations.py). Plain SQL on the driver connection (no ORM work on the
hot path).
"""

from __future__ import annotations

from core.services import conversations, officials

# What every message runs, as plain SQL on the driver connection (no ORM work on the hot
# path): log the message — a provider's retry finds it logged and stops there — and read,
# in the same statement, who is writing and what they may do as an official.
CLAIM_AND_WHO = f"""
WITH claim AS (
    INSERT INTO messages (direction, channel, address, provider, provider_message_id,
                          status, created_at)
    VALUES ('in', $1, $2, $3, $4, 'received', $5)
    ON CONFLICT (provider, provider_message_id) DO NOTHING
    RETURNING id
)
SELECT EXISTS (SELECT FROM claim) AS claimed, a.id AS address_id, a.member_id, a.phone,
       a.language, a.consent_given_at, a.opted_out_at, a.last_inbound_at,
       m.phone AS member_phone, m.language AS member_language,
       {officials.PERMISSIONS_SQL.format(member_id="m.id")} AS permissions,
       -- A number never seen on this channel: is it a member's? (Only then does the
       -- engine open an ORM session to link it; a stranger costs nothing more.)
       (SELECT pm.id FROM members AS pm
        WHERE a.id IS NULL AND $6 AND pm.phone = $2) AS phone_member_id,
       -- An official's question or a rating waits for this member's next message
       -- (bot/flows/grievance.py: the same conditions as its WAITING).
       EXISTS (SELECT FROM grievances AS g WHERE g.member_id = m.id AND (
           (g.waiting_since IS NOT NULL
            AND g.status IN ('submitted', 'acknowledged', 'in_progress'))
           OR (g.status IN ('resolved', 'rejected') AND g.rating IS NULL
               AND g.resolved_at > $5 - interval '3 days'))) AS grievance_waiting
FROM (VALUES (1)) AS one
LEFT JOIN channel_addresses AS a ON a.channel = $1 AND a.address = $2
LEFT JOIN members AS m ON m.id = a.member_id
"""
TOUCH = (
    "UPDATE channel_addresses SET last_inbound_at = greatest(last_inbound_at, $3),"
    " updated_at = $3 WHERE channel = $1 AND address = $2"
)
SAVE_AND_RECORD_REPLY = f"""
WITH saved AS ({conversations.SAVE})
INSERT INTO messages (direction, channel, address, provider, body, status)
VALUES ('out', $4, $5, $6, $7, 'replied')
"""
"""The step's last statement: the state saved (:data:`SAVE`'s ``$1``-``$3``) and the
reply logged."""
