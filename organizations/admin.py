"""Support console: organizations with their domains and members, users, and the audit log."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db import models
from django.db.models import Count
from django_tenants.admin import TenantAdminMixin

from organizations.models import AuditLog, Domain, Membership, Organization, User


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Organization)
class OrganizationAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "primary_domain",
        "kind",
        "status",
        "member_count",
        "created_at",
    ]
    list_filter = ["kind", "status", "country", "created_at"]
    search_fields = ["name", "slug", "domains__domain", "memberships__user__email"]
    readonly_fields = ["schema_name", "created_at"]
    inlines = [DomainInline, MembershipInline]
    date_hierarchy = "created_at"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    change_form_template = "admin/organizations/organization/change_form.html"

    def get_urls(self):
        from django.urls import path

        from messaging import support

        wrap = self.admin_site.admin_view
        return [
            path("<int:organization_id>/messages/", wrap(support.organization_messages),
                 name="organization_messages"),
            path("<int:organization_id>/campaigns/", wrap(support.organization_campaigns),
                 name="organization_campaigns"),
            path("find-message/", wrap(support.find_message), name="find_message"),
            *super().get_urls(),
        ]  # fmt: skip

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=Count("memberships", distinct=True))
            .prefetch_related("domains")
        )

    @admin.display(ordering="member_count", description="Members")
    def member_count(self, obj):
        return obj.member_count

    @admin.display(description="Domain")
    def primary_domain(self, obj):
        return next((d.domain for d in obj.domains.all() if d.is_primary), "—")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization__kind"]
    search_fields = ["user__email", "user__full_name", "organization__name", "organization__slug"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user", "organization"]


class UserMembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["organization"]
    fields = ["organization", "role", "created_at"]
    readonly_fields = ["created_at"]


class PlatformUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class PlatformUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = PlatformUserChangeForm
    add_form = PlatformUserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
    ]
    inlines = [UserMembershipInline]


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "actor", "action", "target"]
    list_filter = ["action", "created_at"]
    search_fields = ["action", "target", "organization__name", "organization__slug", "actor__email"]
    list_select_related = ["organization", "actor"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
