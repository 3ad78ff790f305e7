"""Ports: what the services need from the outside world, as ``typing.Protocol``s, by area
(``people``, ``checkins``, ``deliveries``, ``messaging``, ``access``); every one is importable from
here.

Adapters live elsewhere and are named by technology and port (``MongoTenantRepository``,
``FacePipeline``, ...). Only ``bootstrap`` knows which adapter serves which port.
"""

from __future__ import annotations

from attendance.core.ports.access import (
    ApiTokenRepository,
    CorrectionRequests,
    EnrollmentCodes,
    LocalUserRepository,
    UsedKeys,
)
from attendance.core.ports.checkins import (
    AttendanceStore,
    ChallengeStore,
    EngineUnavailable,
    FaceEngine,
    Fingerprint,
    Fingerprints,
    GalleryProvider,
    JobQueue,
    PhotoBuffer,
    PhotoFiles,
    PhotoSource,
    PhotoUnavailable,
    Replier,
    ReviewQueue,
    SequenceTaken,
)
from attendance.core.ports.deliveries import (
    AdminAlerts,
    Connector,
    DeliveryRepository,
    DestinationCheck,
    SubscriptionRepository,
)
from attendance.core.ports.messaging import (
    ChatButton,
    ChatMessages,
    DownloadLinks,
    SentLog,
    TeamsAddress,
    TeamsAddresses,
)
from attendance.core.ports.observability import Attribute, Metrics, NoMetrics, NoTracer, Span, Tracer
from attendance.core.ports.people import (
    AlreadyExists,
    AuditEntry,
    AuditLog,
    AuditTrail,
    ChatIdentityRepository,
    Clock,
    ConsentRepository,
    EmployeeRepository,
    Resealed,
    SealedStore,
    TemplateCipher,
    TemplateRepository,
    TenantRepository,
)
from attendance.core.ports.workforce import HolidayCalendar, TimeOffRepository

__all__ = [
    "AdminAlerts",
    "AlreadyExists",
    "ApiTokenRepository",
    "AttendanceStore",
    "Attribute",
    "AuditEntry",
    "AuditLog",
    "AuditTrail",
    "ChallengeStore",
    "ChatButton",
    "ChatIdentityRepository",
    "ChatMessages",
    "Clock",
    "Connector",
    "ConsentRepository",
    "CorrectionRequests",
    "DeliveryRepository",
    "DestinationCheck",
    "DownloadLinks",
    "EmployeeRepository",
    "EngineUnavailable",
    "EnrollmentCodes",
    "FaceEngine",
    "Fingerprint",
    "Fingerprints",
    "GalleryProvider",
    "HolidayCalendar",
    "JobQueue",
    "LocalUserRepository",
    "Metrics",
    "NoMetrics",
    "NoTracer",
    "PhotoBuffer",
    "PhotoFiles",
    "PhotoSource",
    "PhotoUnavailable",
    "Replier",
    "Resealed",
    "ReviewQueue",
    "SealedStore",
    "SentLog",
    "SequenceTaken",
    "Span",
    "SubscriptionRepository",
    "TeamsAddress",
    "TeamsAddresses",
    "TemplateCipher",
    "TemplateRepository",
    "TenantRepository",
    "TimeOffRepository",
    "Tracer",
    "UsedKeys",
]
