"""Every table of the seed's PostgreSQL part, one module per seed section."""

from core.models.auth import OtpVerification, RefreshToken, SocialConnection, User
from core.models.base import Base
from core.models.communications import (
    Announcement,
    AnnouncementScope,
    Discussion,
    DiscussionReply,
    Grievance,
    GrievanceEvent,
    GrievancePriority,
    GrievanceStatus,
)
from core.models.conversations import ConversationStateRow
from core.models.engagement import Badge, EngagementScore, MemberActivity, MemberBadge
from core.models.events import (
    AttendanceStatus,
    Campaign,
    CampaignStatus,
    CampaignTask,
    Event,
    EventAttendee,
    EventStatus,
    EventType,
)
from core.models.finance import (
    Donation,
    DonationCampaign,
    DonationReceiptCounter,
    PaymentGatewayEvent,
    PaymentStatus,
    UnmatchedPayment,
)
from core.models.members import Member, MemberReach, MemberStatus, MemberTransfer, MemberUnit
from core.models.messaging import (
    AccessLogEntry,
    ChannelAddress,
    Message,
    MessageStatusEvent,
    OutboxEffect,
)
from core.models.notifications import (
    AnnouncementDelivery,
    AnnouncementStatus,
    DeliveryStatus,
    MessageTemplate,
    TemplateCategory,
)
from core.models.org import OrganizationUnit, Position, UnitType
from core.models.voting import (
    Election,
    ElectionBallotPool,
    ElectionCandidate,
    ElectionEligible,
    ElectionStatus,
    ElectionVote,
    ElectionVoter,
)
from core.models.whatsapp_tier import WhatsAppTierUse

__all__ = [
    "AccessLogEntry",
    "Announcement",
    "AnnouncementDelivery",
    "AnnouncementScope",
    "AnnouncementStatus",
    "AttendanceStatus",
    "Badge",
    "Base",
    "Campaign",
    "CampaignStatus",
    "CampaignTask",
    "ChannelAddress",
    "ConversationStateRow",
    "DeliveryStatus",
    "Discussion",
    "DiscussionReply",
    "Donation",
    "DonationCampaign",
    "DonationReceiptCounter",
    "Election",
    "ElectionBallotPool",
    "ElectionCandidate",
    "ElectionEligible",
    "ElectionStatus",
    "ElectionVote",
    "ElectionVoter",
    "EngagementScore",
    "Event",
    "EventAttendee",
    "EventStatus",
    "EventType",
    "Grievance",
    "GrievanceEvent",
    "GrievancePriority",
    "GrievanceStatus",
    "Member",
    "MemberActivity",
    "MemberBadge",
    "MemberReach",
    "MemberStatus",
    "MemberTransfer",
    "MemberUnit",
    "Message",
    "MessageStatusEvent",
    "MessageTemplate",
    "OrganizationUnit",
    "OtpVerification",
    "OutboxEffect",
    "PaymentGatewayEvent",
    "PaymentStatus",
    "Position",
    "RefreshToken",
    "SocialConnection",
    "TemplateCategory",
    "UnitType",
    "UnmatchedPayment",
    "User",
    "WhatsAppTierUse",
]
