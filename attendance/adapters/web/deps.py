"""What the web handlers need, wired by ``attendance.entrypoints.bootstrap.web_site``."""

from __future__ import annotations

from dataclasses import dataclass

from attendance.core.ports import (
    AuditTrail,
    DeliveryRepository,
    DestinationCheck,
    EnrollmentCodes,
    JobQueue,
    PhotoBuffer,
    SubscriptionRepository,
)
from attendance.services.access import AccessDeps
from attendance.services.chat import ChatDeps
from attendance.services.dashboard import DashboardDeps
from attendance.settings import Settings


@dataclass(frozen=True, slots=True, kw_only=True)
class WebDeps:
    settings: Settings
    access: AccessDeps
    dash: DashboardDeps
    chat: ChatDeps
    subscriptions: SubscriptionRepository
    deliveries: DeliveryRepository
    trail: AuditTrail
    jobs: JobQueue
    buffer: PhotoBuffer
    destinations: DestinationCheck
    enrollment_codes: EnrollmentCodes
