"""What the Twilio gateway takes and returns: plain dataclasses, never SDK objects.

Field names follow Twilio's resource fields (snake_case), except ``from_number`` for Twilio's
``from`` (a Python keyword). Imported through smsplatform.providers.twilio.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from smsplatform.providers.errors import ProviderError

# TrustHub policies of the A2P onboarding (twilio-a2p.md §1): the secondary customer profile of
# an ISV's direct customer, and the A2P messaging trust product.
SECONDARY_CUSTOMER_PROFILE_POLICY_SID = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
A2P_TRUST_PRODUCT_POLICY_SID = "RNb0d4771c2c98518d916a3d4cd70a8f8b"


def from_resource(record_class, resource, **overrides):
    """A ``record_class`` from an SDK instance (or a dict), reading the same-named fields."""
    values = {}
    for item in fields(record_class):
        if item.name in overrides:
            values[item.name] = overrides[item.name]
        elif isinstance(resource, dict):
            values[item.name] = resource.get(item.name)
        else:
            values[item.name] = getattr(resource, item.name, None)
    return record_class(**values)


# --- Messages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingSMS:
    """One text to send. ``key`` is the caller's own reference (e.g. our message id), echoed in
    its SendResult. Give ``messaging_service_sid`` (Twilio picks the sender) or ``from_number``."""

    key: Any
    to: str
    body: str = ""
    messaging_service_sid: str | None = None
    from_number: str | None = None
    status_callback: str | None = None
    media_urls: Sequence[str] = ()
    validity_period: int | None = None  # seconds, 1..36000


@dataclass(frozen=True)
class SendResult:
    """The outcome of one OutgoingSMS: Twilio's sid, status and segment count, or the
    classified error (then ``sid`` is None). An AmbiguousOutcome error means the text may have
    been sent: reconcile (list_messages(to=...)) before sending it again."""

    key: Any
    sid: str | None
    status: str | None
    num_segments: int
    error: ProviderError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Message:
    sid: str
    account_sid: str
    to: str
    from_number: str | None
    body: str | None
    status: str
    direction: str | None
    num_segments: int
    num_media: int
    messaging_service_sid: str | None
    error_code: int | None
    error_message: str | None
    price: str | None
    price_unit: str | None
    date_created: datetime | None
    date_sent: datetime | None
    date_updated: datetime | None

    @classmethod
    def from_sdk(cls, instance):
        return from_resource(
            cls,
            instance,
            from_number=instance.from_,
            num_segments=int(instance.num_segments or 0),
            num_media=int(instance.num_media or 0),
        )


@dataclass(frozen=True)
class Subaccount:
    sid: str
    auth_token: str
    friendly_name: str
    status: str
    owner_account_sid: str | None


# --- TrustHub --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustBundle:
    """A customer profile or a trust product (both are TrustHub bundles, BU...)."""

    sid: str
    account_sid: str
    policy_sid: str
    friendly_name: str
    email: str
    status: str  # draft, pending-review, in-review, twilio-approved, twilio-rejected
    status_callback: str | None
    valid_until: datetime | None
    errors: list = field(default_factory=list)


@dataclass(frozen=True)
class CustomerProfile(TrustBundle):
    """The business's secondary customer profile (its identity in TrustHub)."""


@dataclass(frozen=True)
class TrustProduct(TrustBundle):
    """The A2P messaging profile (a trust product) that the brand registration points to."""


@dataclass(frozen=True)
class EndUser:
    sid: str
    account_sid: str
    friendly_name: str
    type: str
    attributes: dict


@dataclass(frozen=True)
class SupportingDocument:
    sid: str
    account_sid: str
    friendly_name: str
    type: str
    status: str
    mime_type: str | None
    attributes: dict


@dataclass(frozen=True)
class EntityAssignment:
    sid: str
    bundle_sid: str
    object_sid: str
    account_sid: str


@dataclass(frozen=True)
class Evaluation:
    sid: str
    bundle_sid: str
    policy_sid: str
    status: str  # compliant or noncompliant
    results: list  # Twilio's results[] as received: what is missing or invalid, with codes

    @property
    def compliant(self) -> bool:
        return self.status == "compliant"


@dataclass(frozen=True)
class Address:
    sid: str
    account_sid: str
    customer_name: str
    street: str
    street_secondary: str | None
    city: str
    region: str
    postal_code: str
    iso_country: str
    friendly_name: str | None
    validated: bool | None
    verified: bool | None


# --- Messaging: brands, services, campaigns -------------------------------------------------


@dataclass(frozen=True)
class BrandRegistration:
    sid: str
    account_sid: str
    customer_profile_bundle_sid: str
    a2p_profile_bundle_sid: str
    brand_type: str | None
    status: str  # PENDING, IN_REVIEW, APPROVED, FAILED, SUSPENDED, DELETION_*
    identity_status: str | None
    tcr_id: str | None
    brand_score: int | None
    errors: list
    failure_reason: str | None
    skip_automatic_sec_vet: bool | None
    mock: bool | None
    russell_3000: bool | None
    government_entity: bool | None
    tax_exempt_status: str | None
    date_created: datetime | None
    date_updated: datetime | None


@dataclass(frozen=True)
class MessagingService:
    sid: str
    account_sid: str
    friendly_name: str
    inbound_request_url: str | None
    inbound_method: str | None
    fallback_url: str | None
    status_callback: str | None
    use_inbound_webhook_on_number: bool | None
    validity_period: int | None
    usecase: str | None
    us_app_to_person_registered: bool | None
    sticky_sender: bool | None
    smart_encoding: bool | None
    area_code_geomatch: bool | None


@dataclass(frozen=True)
class A2PUsecase:
    code: str
    name: str
    description: str
    post_approval_required: bool


@dataclass(frozen=True)
class A2PCampaign:
    sid: str
    account_sid: str
    brand_registration_sid: str
    messaging_service_sid: str
    us_app_to_person_usecase: str
    description: str
    message_flow: str | None
    message_samples: list
    has_embedded_links: bool | None
    has_embedded_phone: bool | None
    subscriber_opt_in: bool | None
    age_gated: bool | None
    direct_lending: bool | None
    opt_in_message: str | None
    opt_out_message: str | None
    help_message: str | None
    opt_in_keywords: list | None
    opt_out_keywords: list | None
    help_keywords: list | None
    campaign_status: str | None  # e.g. IN_PROGRESS, VERIFIED, FAILED
    campaign_id: str | None
    is_externally_registered: bool | None
    rate_limits: dict | None
    mock: bool | None
    errors: list
    date_created: datetime | None
    date_updated: datetime | None


# --- Phone numbers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AvailableNumber:
    phone_number: str
    friendly_name: str
    locality: str | None
    region: str | None
    postal_code: str | None
    iso_country: str
    lata: str | None
    rate_center: str | None
    address_requirements: str | None
    capabilities: dict


@dataclass(frozen=True)
class IncomingNumber:
    sid: str
    account_sid: str
    phone_number: str
    friendly_name: str | None
    sms_url: str | None
    sms_method: str | None
    status_callback: str | None
    bundle_sid: str | None
    address_sid: str | None
    capabilities: dict | None
    status: str | None


@dataclass(frozen=True)
class ServicePhoneNumber:
    sid: str
    account_sid: str
    service_sid: str
    phone_number: str
    country_code: str | None
    capabilities: list


# --- Event Streams ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSink:
    """Where Event Streams delivers events (DG...): for the A2P registration, a webhook."""

    sid: str
    description: str
    sink_type: str
    sink_configuration: dict
    status: str  # initialized, validating, active, failed


@dataclass(frozen=True)
class EventSubscription:
    """Which event types go to a sink (DF...)."""

    sid: str
    account_sid: str
    description: str
    sink_sid: str
