"""Who is asking: sign-in (a provider's identity, or a local account's password), sessions,
and API / device tokens. Tokens and passwords are stored hashed; a token's secret is shown once.

Exception tree (``ServiceError``s, fit to show the person)::

    SignInRefused   the identity or password does not lead to anyone here
    (refusals by role are ``errors.NotAllowed``)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from attendance.core.domain.access import ApiToken, LocalUser, Principal, PrincipalKind, TokenKind
from attendance.core.domain.model import ChatIdentity, DomainError, Employee, Role, new_id, normalise_email
from attendance.core.errors import NotAllowed, NotFound, ServiceError
from attendance.core.ports import (
    AlreadyExists,
    ApiTokenRepository,
    AuditLog,
    ChatIdentityRepository,
    Clock,
    EmployeeRepository,
    LocalUserRepository,
    TenantRepository,
    UsedKeys,
)
from attendance.services.directory import employee_for, tenant_for
from attendance.services.reports import aware

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1  # about 64 MiB and 0.1 s per check


class SignInRefused(ServiceError):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessDeps:
    tenants: TenantRepository
    employees: EmployeeRepository
    identities: ChatIdentityRepository
    tokens: ApiTokenRepository
    users: LocalUserRepository
    audit: AuditLog
    clock: Clock
    used: UsedKeys


# ---------------------------------------------------------------- secrets and passwords


def hash_secret(secret: str) -> str:
    """Tokens are long random strings, so a plain SHA-256 is enough (no dictionary to try)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=2**27)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=2**27,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# ---------------------------------------------------------------- principals


def employee_principal(
    person: Employee, *, kind: PrincipalKind, actor: str | None = None, csrf: str | None = None
) -> Principal:
    return Principal(
        tenant_id=person.tenant_id,
        kind=kind,
        actor=actor or person.id,
        name=person.name,
        roles=person.roles,
        employee_id=person.id,
        csrf=csrf,
    )


async def session_principal(tenant_id: str, subject: str, csrf: str, *, deps: AccessDeps) -> Principal | None:
    """The principal a session names, with roles as they are now (a removed role counts at once)."""
    kind, _, ident = subject.partition(":")
    if kind == "employee":
        person = await deps.employees.get(tenant_id, ident)
        return employee_principal(person, kind=PrincipalKind.SESSION, csrf=csrf) if person else None
    if kind == "device":
        token = await deps.tokens.get(tenant_id, ident)
        if token is None or not token.active or token.kind is not TokenKind.DEVICE:
            return None
        return Principal(
            tenant_id=tenant_id,
            kind=PrincipalKind.DEVICE,
            actor=f"device:{token.id}",
            name=token.name,
            roles=frozenset(),
            csrf=csrf,
        )
    if kind == "user":
        user = await deps.users.get(tenant_id, ident)
        if user is None:
            return None
        person = await deps.employees.get(tenant_id, user.employee_id) if user.employee_id else None
        roles = user.roles | (person.roles if person else frozenset())
        return Principal(
            tenant_id=tenant_id,
            kind=PrincipalKind.SESSION,
            actor=f"user:{user.id}",
            name=person.name if person else user.email,
            roles=roles,
            employee_id=person.id if person else None,
            csrf=csrf,
        )
    return None


async def token_principal(secret: str, *, deps: AccessDeps) -> Principal | None:
    token = await deps.tokens.by_hash(hash_secret(secret))
    if token is None or not token.active:
        return None
    now = deps.clock.now()
    if token.last_used_at is None or (now - aware(token.last_used_at)).total_seconds() > 60:
        await deps.tokens.touch(token.id, now)
    actor = f"token:{token.id}"
    if token.kind is TokenKind.PERSONAL:
        person = await deps.employees.get(token.tenant_id, token.employee_id or "")
        return employee_principal(person, kind=PrincipalKind.TOKEN, actor=actor) if person else None
    kind = PrincipalKind.DEVICE if token.kind is TokenKind.DEVICE else PrincipalKind.TOKEN
    return Principal(tenant_id=token.tenant_id, kind=kind, actor=actor, name=token.name, roles=token.roles)


# ---------------------------------------------------------------- sign-in


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalIdentity:
    """What a sign-in provider vouched for: its organisation (Slack team / Entra tenant), the user's
    id there, and an email it says is verified (or None)."""

    provider: str  # "slack" | "entra"
    org_id: str
    user_id: str
    email: str | None


async def external_sign_in(identity: ExternalIdentity, *, deps: AccessDeps) -> Principal:
    """Map the provider's user to an employee: by the linked chat id, else by verified email (then linked)."""
    platform = "slack" if identity.provider == "slack" else "teams"  # Entra ids are Teams' ids
    tenant = await tenant_for(platform, identity.org_id, tenants=deps.tenants, identities=deps.identities)
    if tenant is None:
        raise SignInRefused("Your organisation does not use attendance yet. Ask your admin to connect it.")
    person = await employee_for(
        tenant.id, platform, identity.user_id, employees=deps.employees, identities=deps.identities
    )
    if person is None and identity.email:
        try:
            person = await deps.employees.by_email(tenant.id, normalise_email(identity.email))
        except DomainError:
            person = None
        if person is not None:
            try:
                who = ChatIdentity(platform, identity.org_id, identity.user_id)
            except DomainError as exc:
                raise SignInRefused(f"Your sign-in provider sent an id this service cannot keep: {exc}") from exc
            await deps.identities.link_user(tenant.id, person.id, who)
    if person is None:
        raise SignInRefused(f"You are not on the staff list of {tenant.name}. Ask your admin to add you.")
    await deps.audit.record(
        tenant_id=tenant.id,
        actor=person.id,
        action=f"signin.{identity.provider}",
        subject=person.id,
        at=deps.clock.now(),
    )
    return employee_principal(person, kind=PrincipalKind.SESSION)


async def pair_device(secret: str, *, deps: AccessDeps) -> Principal:
    """A kiosk's device token, typed in once on the tablet: its session then lasts until revoked."""
    token = await deps.tokens.by_hash(hash_secret(secret.strip()))
    if token is None or not token.active or token.kind is not TokenKind.DEVICE:
        raise SignInRefused("That is not an active device token. An admin creates one on the Access page.")
    await deps.audit.record(
        tenant_id=token.tenant_id,
        actor=f"device:{token.id}",
        action="signin.device",
        subject=token.name,
        at=deps.clock.now(),
    )
    return Principal(
        tenant_id=token.tenant_id,
        kind=PrincipalKind.DEVICE,
        actor=f"device:{token.id}",
        name=token.name,
        roles=frozenset(),
    )


async def password_sign_in(email: str, password: str, *, deps: AccessDeps) -> Principal:
    refused = SignInRefused("That email and password do not match an account.")
    try:
        user = await deps.users.by_email(normalise_email(email))
    except DomainError:
        raise refused from None
    if user is None:
        await asyncio.to_thread(check_password, password, _DUMMY_HASH)  # the same work either way
        raise refused
    if not await asyncio.to_thread(check_password, password, user.password_hash):
        await deps.audit.record(
            tenant_id=user.tenant_id,
            actor=f"user:{user.id}",
            action="signin.failed",
            subject=user.email,
            at=deps.clock.now(),
        )
        raise refused
    await deps.audit.record(
        tenant_id=user.tenant_id,
        actor=f"user:{user.id}",
        action="signin.password",
        subject=user.email,
        at=deps.clock.now(),
    )
    principal = await session_principal(user.tenant_id, f"user:{user.id}", "", deps=deps)
    if principal is None:
        raise refused
    return principal


_DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def subject_of(principal: Principal) -> str:
    """What a session cookie names: the local account, a kiosk device, or the employee."""
    if principal.actor.startswith(("user:", "device:")):
        return principal.actor
    return f"employee:{principal.employee_id}"


async def create_local_user(
    tenant_name: str, email: str, password: str, roles: Iterable[Role], *, deps: AccessDeps
) -> LocalUser:
    tenant = await deps.tenants.by_name(tenant_name)
    if tenant is None:
        raise NotFound(f"no tenant called {tenant_name!r}")
    try:
        address = normalise_email(email)
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    person = await deps.employees.by_email(tenant.id, address)
    hashed = await asyncio.to_thread(hash_password, password)  # scrypt: 0.1 s of CPU, off the event loop
    user = LocalUser(
        id=new_id(),
        tenant_id=tenant.id,
        email=address,
        password_hash=hashed,
        roles=frozenset(roles) | {Role.EMPLOYEE},
        created_at=deps.clock.now(),
        employee_id=person.id if person else None,
    )
    try:
        await deps.users.add(user)
    except AlreadyExists as exc:
        raise ServiceError(str(exc)) from exc
    await deps.audit.record(
        tenant_id=tenant.id, actor="cli", action="user.created", subject=address, at=user.created_at
    )
    return user


# ---------------------------------------------------------------- tokens


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise NotAllowed("Only an admin of your company can do that. Ask one of them for help.")


async def create_token(
    principal: Principal,
    *,
    name: str,
    kind: TokenKind,
    roles: Iterable[Role] = (),
    employee_id: str | None = None,
    deps: AccessDeps,
) -> tuple[ApiToken, str]:
    """(the token, its secret). The secret is not stored and cannot be shown again."""
    require_admin(principal)
    name = name.strip()
    if not name or len(name) > 80:
        raise ServiceError("Give the token a name of 1 to 80 characters.")
    role_set = frozenset(roles)
    if kind is TokenKind.PERSONAL:
        person = await deps.employees.get(principal.tenant_id, employee_id or "")
        if person is None:
            raise NotFound("A personal token needs an employee of your organisation.")
        role_set = frozenset()
    elif kind is TokenKind.INTEGRATION:
        if not role_set:
            raise ServiceError("An integration token needs a role, for example payroll.")
        employee_id = None
    else:
        role_set, employee_id = frozenset(), None
    prefix = {"personal": "attp", "integration": "atti", "device": "attd"}[kind.value]
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        id=new_id(),
        tenant_id=principal.tenant_id,
        name=name,
        kind=kind,
        secret_hash=hash_secret(secret),
        created_by=principal.actor,
        created_at=deps.clock.now(),
        roles=role_set,
        employee_id=employee_id,
    )
    await deps.tokens.add(token)
    await deps.audit.record(
        tenant_id=principal.tenant_id,
        actor=principal.actor,
        action=f"token.created.{kind.value}",
        subject=token.id,
        at=token.created_at,
    )
    return token, secret


async def list_tokens(principal: Principal, *, deps: AccessDeps) -> list[ApiToken]:
    require_admin(principal)
    return await deps.tokens.list(principal.tenant_id)


async def revoke_token(principal: Principal, token_id: str, *, deps: AccessDeps) -> None:
    require_admin(principal)
    if not await deps.tokens.revoke(principal.tenant_id, token_id, deps.clock.now()):
        raise NotFound("No active token with that id; it may have been revoked already.")
    await deps.audit.record(
        tenant_id=principal.tenant_id,
        actor=principal.actor,
        action="token.revoked",
        subject=token_id,
        at=deps.clock.now(),
    )
