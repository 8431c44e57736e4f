"""Organizations (the tenants), their domains, users, memberships and the audit log.

All of this lives in the public schema: a user can belong to several organizations, and support
staff must see every organization at once.
"""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone as django_timezone
from django_tenants.models import DomainMixin, TenantMixin

from organizations.roles import Role
from organizations.schema_names import restore_constraint_names


class OrganizationQuerySet(models.QuerySet):
    def customers(self):
        """Organizations that are customers: not the platform's own public or template rows."""
        return self.filter(kind=Organization.Kind.CUSTOMER)


class Organization(TenantMixin):
    class Kind(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        PUBLIC = "public", "Platform (public schema)"
        TEMPLATE = "template", "Template schema"
        SPARE = "spare", "Spare schema (ready for the next sign-up)"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOMER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    country = models.CharField(max_length=2, default="US", help_text="ISO 3166-1 alpha-2")
    timezone = models.CharField(max_length=64, default="America/New_York")
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    # Public profile, for the contact card (vCard) subscribers save.
    website = models.URLField(blank=True)
    logo = models.FileField(upload_to="logos/", blank=True)
    # Set when a carrier or Twilio reports the organization may not send (e.g. error 30034,
    # unregistered 10DLC number); cleared by a person once fixed. Sending stops meanwhile.
    sending_paused_at = models.DateTimeField(null=True, blank=True)
    sending_paused_reason = models.CharField(max_length=255, blank=True)

    # django-tenants: create the schema on save (cloned from the template), never drop it
    # implicitly: deleting an organization's data is an explicit, audited act.
    auto_create_schema = True
    auto_drop_schema = False

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self):
        return self.name

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        super().create_schema(check_if_exists, sync_schema, verbosity)
        # Cloned from the template: its unique constraints come back under other names.
        restore_constraint_names(settings.TENANT_BASE_SCHEMA, self.schema_name)

    @property
    def is_customer(self):
        return self.kind == self.Kind.CUSTOMER

    @property
    def url(self):
        """The organization's own address, e.g. http://acme.localhost:8000."""
        return f"{settings.SITE_SCHEME}://{self.slug}.{settings.BASE_DOMAIN}{settings.SITE_PORT_SUFFIX}"


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self):
        return self.domain


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Customers reach organizations through memberships; support staff have
    ``is_staff`` and work in the admin on the public domain."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Support staff: may use the admin console."
    )
    date_joined = models.DateTimeField(default=django_timezone.now)
    # The person's own mobile, verified by a texted code: test messages go only there.
    phone = models.CharField(max_length=20, blank=True)
    phone_verified_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def verified_phone(self) -> str:
        return self.phone if self.phone and self.phone_verified_at else ""


class Membership(models.Model):
    """A user's role in one organization. The permission gate (organizations.permissions) reads
    only this row."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["organization__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")
        ]

    def __str__(self):
        return f"{self.user} · {self.organization} ({self.get_role_display()})"


class AuditLogQuerySet(models.QuerySet):
    def delete(self):
        raise TypeError("The audit log is append-only")


class AuditLog(models.Model):
    """Append-only record of the state changes that matter (DESIGN §4.6)."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_log"
    )
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False, db_index=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("The audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only")
