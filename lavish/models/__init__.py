"""All models, imported here so Alembic and relationships see every table."""

from lavish.models.audit import AuditEntry
from lavish.models.billing import (
    CURRENCIES,
    ENDED_SUBSCRIPTION,
    RUNNING_SUBSCRIPTION,
    Order,
    OrderStatus,
    Payment,
    Subscription,
    SubscriptionStatus,
    WebhookEvent,
    WebhookState,
)
from lavish.models.domain import Domain, DomainCheck, DomainStatus, HttpsStatus
from lavish.models.edits import (
    AgentRun,
    EditAttachment,
    EditEvent,
    EditRequest,
    EditStatus,
)
from lavish.models.outbox import EmailStatus, OutboxEmail
from lavish.models.site import Site, SiteStatus, SiteVersion
from lavish.models.user import Role, User, normalize_email

__all__ = [
    "CURRENCIES",
    "ENDED_SUBSCRIPTION",
    "RUNNING_SUBSCRIPTION",
    "AgentRun",
    "AuditEntry",
    "EditAttachment",
    "EditEvent",
    "EditRequest",
    "EditStatus",
    "Domain",
    "DomainCheck",
    "DomainStatus",
    "EmailStatus",
    "HttpsStatus",
    "Order",
    "OrderStatus",
    "OutboxEmail",
    "Payment",
    "Role",
    "Site",
    "SiteStatus",
    "SiteVersion",
    "Subscription",
    "SubscriptionStatus",
    "User",
    "WebhookEvent",
    "WebhookState",
    "normalize_email",
]
