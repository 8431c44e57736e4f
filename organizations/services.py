"""Domain functions for organizations, members and the audit log. Views, admin actions and
commands call these; nothing else changes this state."""

import logging
import re
import secrets
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone as django_timezone
from django_tenants.utils import schema_context, schema_exists, schema_rename

from organizations.models import AuditLog, Domain, Membership, Organization, User
from organizations.roles import Role

logger = logging.getLogger(__name__)

_SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")


def normalize_slug(value: str) -> str:
    return (value or "").strip().lower()


def validate_slug_format(slug: str) -> None:
    """Raise ValidationError (code invalid/reserved) for a slug no organization may take."""
    if not _SLUG_RE.match(slug) or "--" in slug:
        raise ValidationError(
            "Use 3 to 40 lowercase letters, digits or single hyphens, starting with a letter "
            "and ending with a letter or digit.",
            code="invalid",
        )
    if slug in settings.RESERVED_SLUGS or slug.startswith(("pg-", "xn--", "spare-")):
        raise ValidationError("That address is reserved. Please choose another.", code="reserved")


def validate_new_slug(slug: str) -> None:
    validate_slug_format(slug)
    if Organization.objects.filter(slug=slug).exists() or schema_exists(schema_name_for(slug)):
        raise ValidationError("That address is already taken.", code="taken")


def schema_name_for(slug: str) -> str:
    # Slugs never contain underscores, so mapping hyphens to underscores cannot collide.
    return slug.replace("-", "_")


def domain_for(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def record_audit(action, *, organization=None, actor=None, target="", data=None, ip=None):
    return AuditLog.objects.create(
        organization=organization,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target=str(target)[:200],
        data=data or {},
        ip_address=ip,
    )


@transaction.atomic
def create_organization(*, name: str, slug: str, owner: User, ip=None) -> Organization:
    """Create an organization with its own schema, its domain and its owner's membership, all or
    nothing: PostgreSQL DDL is transactional, so a failure anywhere leaves neither a row nor a
    half-made schema.

    The schema is a spare one renamed (constant time) when the pool has one, else a fresh clone
    of the template (whose cost grows with the number of schemas in the database)."""
    slug = normalize_slug(slug)
    validate_new_slug(slug)
    started = time.perf_counter()
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        try:
            with transaction.atomic():
                organization = _claim_spare_schema(name=name.strip(), slug=slug)
                source = "spare" if organization else "clone"
                if organization is None:
                    organization = Organization(
                        name=name.strip(), slug=slug, schema_name=schema_name_for(slug)
                    )
                    organization.save(verbosity=0)
                Domain.objects.create(domain=domain_for(slug), tenant=organization, is_primary=True)
        except (IntegrityError, ValidationError) as exc:
            # Lost a race with another sign-up for the same address (row or schema).
            raise ValidationError("That address is already taken.", code="taken") from exc
        Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
        record_audit(
            "organization.created", organization=organization, actor=owner, target=slug, ip=ip
        )
        if source == "spare":
            from organizations.tasks import replenish_spare_schemas

            transaction.on_commit(replenish_spare_schemas.delay)
    logger.info(
        "Created organization %s from a %s schema in %.0f ms",
        slug,
        source,
        (time.perf_counter() - started) * 1000,
    )
    return organization


def _claim_spare_schema(*, name: str, slug: str) -> Organization | None:
    """Turn the oldest spare schema into ``slug``'s: rename the schema and the row. SKIP LOCKED
    lets concurrent sign-ups each take a different spare without waiting on each other."""
    spare = (
        Organization.objects.select_for_update(skip_locked=True)
        .filter(kind=Organization.Kind.SPARE)
        .order_by("created_at", "pk")
        .first()
    )
    if spare is None:
        return None
    schema_rename(spare, schema_name_for(slug), save=False)
    spare.name, spare.slug, spare.kind = name, slug, Organization.Kind.CUSTOMER
    spare.created_at = django_timezone.now()
    spare.save(update_fields=["name", "slug", "kind", "schema_name", "created_at"])
    return spare


def replenish_spare_schemas(target: int | None = None) -> int:
    """Clone spare schemas until the pool holds ``target`` (settings.TENANT_SPARE_SCHEMAS).
    Returns how many were created. Runs in the background, never in a visitor's request."""
    target = settings.TENANT_SPARE_SCHEMAS if target is None else target
    created = 0
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        while Organization.objects.filter(kind=Organization.Kind.SPARE).count() < target:
            token = secrets.token_hex(6)
            Organization(
                name="Spare schema",
                slug=f"spare-{token}",
                schema_name=f"spare_{token}",
                kind=Organization.Kind.SPARE,
            ).save(verbosity=0)
            created += 1
    return created


@transaction.atomic
def sign_up(
    *, business_name: str, slug: str, email: str, password: str, ip=None
) -> tuple[Organization, User]:
    """A visitor creates their account and their organization in one step."""
    email = User.objects.normalize_email(email).strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            "An account with this email already exists. Sign in to add a workspace.",
            code="email_taken",
        )
    user = User.objects.create_user(email=email, password=password)
    organization = create_organization(name=business_name, slug=slug, owner=user, ip=ip)
    return organization, user


def add_member(*, organization: Organization, user: User, role: str, actor=None) -> Membership:
    membership, created = Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    if created:
        action = "membership.added"
    elif membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
        action = "membership.role_changed"
    else:
        return membership
    record_audit(
        action, organization=organization, actor=actor, target=user.email, data={"role": role}
    )
    return membership


def ensure_platform_tenants() -> None:
    """Create the public tenant (with the platform's own domain) and the template schema new
    organizations are cloned from. Idempotent."""
    public, _ = Organization.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME,
        defaults={"name": "Platform", "slug": "public", "kind": Organization.Kind.PUBLIC},
    )
    Domain.objects.get_or_create(
        domain=settings.BASE_DOMAIN, defaults={"tenant": public, "is_primary": True}
    )
    if not Organization.objects.filter(schema_name=settings.TENANT_BASE_SCHEMA).exists():
        # With no template schema yet, django-tenants falls back to running the migrations.
        Organization(
            name="Template",
            slug="tenant-template",
            schema_name=settings.TENANT_BASE_SCHEMA,
            kind=Organization.Kind.TEMPLATE,
        ).save(verbosity=0)


def ensure_demo_organization(*, email: str, password: str) -> tuple[Organization, User]:
    """The organization `make run` opens with, and its owner. Idempotent; keeps existing data."""
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, full_name="Demo Owner")
    organization = Organization.objects.filter(slug=settings.DEMO_ORGANIZATION_SLUG).first()
    if organization is None:
        organization = create_organization(
            name="Demo Boutique", slug=settings.DEMO_ORGANIZATION_SLUG, owner=user
        )
    else:
        add_member(organization=organization, user=user, role=Role.OWNER)
    return organization, user
