"""The A2P 10DLC calls of the Twilio gateway (twilio-a2p.md §1): TrustHub customer profiles,
end users, documents, addresses, assignments, evaluations and trust products; brand
registrations; Messaging Services; A2P campaigns (Usa2p); phone numbers; the Event Streams sink
and subscription that push brand and campaign events. Thin and typed: the A2P registration
(a2p/engine.py) builds its state machine on top.

The list and find calls exist to reconcile: a create whose answer was lost (a timeout, a worker
that died before saving the SID) is looked up before it is sent again.

Mixed into TwilioGateway (smsplatform/providers/twilio.py), which supplies ``client``,
``_account``, ``_create`` (a call Twilio must not receive twice) and ``_read``.
"""

from collections.abc import Sequence

from django.conf import settings
from twilio.base import values

from smsplatform.providers.twilio_records import (
    A2P_TRUST_PRODUCT_POLICY_SID,
    SECONDARY_CUSTOMER_PROFILE_POLICY_SID,
    A2PCampaign,
    A2PUsecase,
    Address,
    AvailableNumber,
    BrandRegistration,
    CustomerProfile,
    EndUser,
    EntityAssignment,
    Evaluation,
    EventSink,
    EventSubscription,
    IncomingNumber,
    MessagingService,
    ServicePhoneNumber,
    SupportingDocument,
    TrustProduct,
    from_resource,
)


def optional(value):
    """The SDK's "not given" for None, so optional parameters stay out of the request."""
    return values.unset if value is None else value


_opt = optional

# What a Messaging Service may be created or updated with (besides its name).
MESSAGING_SERVICE_SETTINGS = frozenset(
    [
        "friendly_name",
        "inbound_request_url",
        "inbound_method",
        "fallback_url",
        "fallback_method",
        "status_callback",
        "use_inbound_webhook_on_number",
        "validity_period",
        "usecase",
        "sticky_sender",
        "smart_encoding",
        "area_code_geomatch",
        "synchronous_validation",
    ]
)


def _service_settings(options: dict) -> dict:
    unknown = set(options) - MESSAGING_SERVICE_SETTINGS
    if unknown:
        raise TypeError(f"not a Messaging Service setting: {', '.join(sorted(unknown))}")
    return {name: _opt(value) for name, value in options.items()}


class A2PCalls:
    """Twilio's A2P onboarding calls, for TwilioGateway."""

    # --- TrustHub: customer profiles, end users, documents, trust products ---------------

    def create_customer_profile(
        self,
        friendly_name: str,
        *,
        email: str | None = None,
        policy_sid: str = SECONDARY_CUSTOMER_PROFILE_POLICY_SID,
        status_callback: str | None = None,
    ) -> CustomerProfile:
        """A draft secondary customer profile. ``email`` defaults to the ISV's monitored
        address (TWILIO_NOTIFICATION_EMAIL), as Twilio asks of ISVs."""
        profile = self._create(
            lambda: self.client.trusthub.v1.customer_profiles.create(
                friendly_name=friendly_name,
                email=email or settings.TWILIO_NOTIFICATION_EMAIL,
                policy_sid=policy_sid,
                status_callback=_opt(status_callback),
            )
        )
        return from_resource(CustomerProfile, profile)

    def fetch_customer_profile(self, sid: str) -> CustomerProfile:
        profile = self._read(lambda: self.client.trusthub.v1.customer_profiles(sid).fetch())
        return from_resource(CustomerProfile, profile)

    def update_customer_profile(
        self,
        sid: str,
        *,
        status: str | None = None,
        friendly_name: str | None = None,
        email: str | None = None,
        status_callback: str | None = None,
    ) -> CustomerProfile:
        profile = self._create(
            lambda: self.client.trusthub.v1.customer_profiles(sid).update(
                status=_opt(status),
                friendly_name=_opt(friendly_name),
                email=_opt(email),
                status_callback=_opt(status_callback),
            )
        )
        return from_resource(CustomerProfile, profile)

    def submit_customer_profile(self, sid: str) -> CustomerProfile:
        """Submit for Twilio's review (status pending-review)."""
        return self.update_customer_profile(sid, status="pending-review")

    def assign_to_customer_profile(self, profile_sid: str, object_sid: str) -> EntityAssignment:
        """Attach an end user (IT...), supporting document (RD...) or profile (BU..., e.g. the
        ISV's primary profile) to a customer profile."""
        assignment = self._create(
            lambda: self.client.trusthub.v1.customer_profiles(
                profile_sid
            ).customer_profiles_entity_assignments.create(object_sid=object_sid)
        )
        return from_resource(EntityAssignment, assignment, bundle_sid=profile_sid)

    def evaluate_customer_profile(
        self, sid: str, *, policy_sid: str = SECONDARY_CUSTOMER_PROFILE_POLICY_SID
    ) -> Evaluation:
        evaluation = self._create(
            lambda: self.client.trusthub.v1.customer_profiles(
                sid
            ).customer_profiles_evaluations.create(policy_sid=policy_sid)
        )
        return from_resource(Evaluation, evaluation, bundle_sid=sid)

    def create_end_user(self, friendly_name: str, type: str, attributes: dict) -> EndUser:
        """E.g. type customer_profile_business_information, authorized_representative_1,
        us_a2p_messaging_profile_information (attributes: twilio-a2p.md §1)."""
        end_user = self._create(
            lambda: self.client.trusthub.v1.end_users.create(
                friendly_name=friendly_name, type=type, attributes=attributes
            )
        )
        return from_resource(EndUser, end_user)

    def update_end_user(
        self, sid: str, *, friendly_name: str | None = None, attributes: dict | None = None
    ) -> EndUser:
        """Correct an end user's details (e.g. the EIN before resubmitting a failed brand)."""
        end_user = self._create(
            lambda: self.client.trusthub.v1.end_users(sid).update(
                friendly_name=_opt(friendly_name), attributes=_opt(attributes)
            )
        )
        return from_resource(EndUser, end_user)

    def create_supporting_document(
        self, friendly_name: str, type: str, attributes: dict
    ) -> SupportingDocument:
        """E.g. type customer_profile_address with {"address_sids": "AD..."}."""
        document = self._create(
            lambda: self.client.trusthub.v1.supporting_documents.create(
                friendly_name=friendly_name, type=type, attributes=attributes
            )
        )
        return from_resource(SupportingDocument, document)

    def create_trust_product(
        self,
        friendly_name: str,
        *,
        email: str | None = None,
        policy_sid: str = A2P_TRUST_PRODUCT_POLICY_SID,
        status_callback: str | None = None,
    ) -> TrustProduct:
        product = self._create(
            lambda: self.client.trusthub.v1.trust_products.create(
                friendly_name=friendly_name,
                email=email or settings.TWILIO_NOTIFICATION_EMAIL,
                policy_sid=policy_sid,
                status_callback=_opt(status_callback),
            )
        )
        return from_resource(TrustProduct, product)

    def find_customer_profiles(self, friendly_name: str) -> list[CustomerProfile]:
        found = self._read(
            lambda: self.client.trusthub.v1.customer_profiles.list(
                friendly_name=friendly_name, limit=20
            )
        )
        return [from_resource(CustomerProfile, profile) for profile in found]

    def list_customer_profile_assignments(self, profile_sid: str) -> list[EntityAssignment]:
        found = self._read(
            lambda: self.client.trusthub.v1.customer_profiles(
                profile_sid
            ).customer_profiles_entity_assignments.list(limit=100)
        )
        return [from_resource(EntityAssignment, a, bundle_sid=profile_sid) for a in found]

    def list_end_users(self, *, limit: int = 200) -> list[EndUser]:
        found = self._read(lambda: self.client.trusthub.v1.end_users.list(limit=limit))
        return [from_resource(EndUser, end_user) for end_user in found]

    def list_supporting_documents(self, *, limit: int = 200) -> list[SupportingDocument]:
        found = self._read(lambda: self.client.trusthub.v1.supporting_documents.list(limit=limit))
        return [from_resource(SupportingDocument, document) for document in found]

    def find_trust_products(self, friendly_name: str) -> list[TrustProduct]:
        found = self._read(
            lambda: self.client.trusthub.v1.trust_products.list(
                friendly_name=friendly_name, limit=20
            )
        )
        return [from_resource(TrustProduct, product) for product in found]

    def list_trust_product_assignments(self, product_sid: str) -> list[EntityAssignment]:
        found = self._read(
            lambda: self.client.trusthub.v1.trust_products(
                product_sid
            ).trust_products_entity_assignments.list(limit=100)
        )
        return [from_resource(EntityAssignment, a, bundle_sid=product_sid) for a in found]

    def fetch_trust_product(self, sid: str) -> TrustProduct:
        product = self._read(lambda: self.client.trusthub.v1.trust_products(sid).fetch())
        return from_resource(TrustProduct, product)

    def update_trust_product(
        self,
        sid: str,
        *,
        status: str | None = None,
        friendly_name: str | None = None,
        email: str | None = None,
        status_callback: str | None = None,
    ) -> TrustProduct:
        product = self._create(
            lambda: self.client.trusthub.v1.trust_products(sid).update(
                status=_opt(status),
                friendly_name=_opt(friendly_name),
                email=_opt(email),
                status_callback=_opt(status_callback),
            )
        )
        return from_resource(TrustProduct, product)

    def submit_trust_product(self, sid: str) -> TrustProduct:
        return self.update_trust_product(sid, status="pending-review")

    def assign_to_trust_product(self, product_sid: str, object_sid: str) -> EntityAssignment:
        assignment = self._create(
            lambda: self.client.trusthub.v1.trust_products(
                product_sid
            ).trust_products_entity_assignments.create(object_sid=object_sid)
        )
        return from_resource(EntityAssignment, assignment, bundle_sid=product_sid)

    def evaluate_trust_product(
        self, sid: str, *, policy_sid: str = A2P_TRUST_PRODUCT_POLICY_SID
    ) -> Evaluation:
        evaluation = self._create(
            lambda: self.client.trusthub.v1.trust_products(sid).trust_products_evaluations.create(
                policy_sid=policy_sid
            )
        )
        return from_resource(Evaluation, evaluation, bundle_sid=sid)

    def create_address(
        self,
        *,
        customer_name: str,
        street: str,
        city: str,
        region: str,
        postal_code: str,
        iso_country: str = "US",
        street_secondary: str | None = None,
        friendly_name: str | None = None,
        auto_correct_address: bool | None = None,
    ) -> Address:
        address = self._create(
            lambda: self._account.addresses.create(
                customer_name=customer_name,
                street=street,
                city=city,
                region=region,
                postal_code=postal_code,
                iso_country=iso_country,
                street_secondary=_opt(street_secondary),
                friendly_name=_opt(friendly_name),
                auto_correct_address=_opt(auto_correct_address),
            )
        )
        return from_resource(Address, address)

    def update_address(
        self,
        sid: str,
        *,
        customer_name: str | None = None,
        street: str | None = None,
        street_secondary: str | None = None,
        city: str | None = None,
        region: str | None = None,
        postal_code: str | None = None,
        friendly_name: str | None = None,
    ) -> Address:
        """Correct an address (a profile's address document keeps pointing at it)."""
        address = self._create(
            lambda: self._account.addresses(sid).update(
                customer_name=_opt(customer_name),
                street=_opt(street),
                street_secondary=_opt(street_secondary),
                city=_opt(city),
                region=_opt(region),
                postal_code=_opt(postal_code),
                friendly_name=_opt(friendly_name),
            )
        )
        return from_resource(Address, address)

    def find_addresses(self, friendly_name: str) -> list[Address]:
        found = self._read(
            lambda: self._account.addresses.list(friendly_name=friendly_name, limit=20)
        )
        return [from_resource(Address, address) for address in found]

    # --- Messaging: brands, services, campaigns -----------------------------------------

    def create_brand_registration(
        self,
        *,
        customer_profile_sid: str,
        a2p_profile_sid: str,
        brand_type: str = "STANDARD",
        skip_automatic_sec_vet: bool | None = None,
        mock: bool | None = None,
    ) -> BrandRegistration:
        """Register the brand with TCR (this call costs money). ``skip_automatic_sec_vet``
        only for low-volume standard brands and 527 political organisations."""
        brand = self._create(
            lambda: self.client.messaging.v1.brand_registrations.create(
                customer_profile_bundle_sid=customer_profile_sid,
                a2p_profile_bundle_sid=a2p_profile_sid,
                brand_type=brand_type,
                skip_automatic_sec_vet=_opt(skip_automatic_sec_vet),
                mock=_opt(mock),
            )
        )
        return from_resource(BrandRegistration, brand)

    def fetch_brand_registration(self, sid: str) -> BrandRegistration:
        brand = self._read(lambda: self.client.messaging.v1.brand_registrations(sid).fetch())
        return from_resource(BrandRegistration, brand)

    def list_brand_registrations(self, *, limit: int = 100) -> list[BrandRegistration]:
        """The account's brands. Twilio's list has been seen to leave some out
        (twilio-ruby#688): keep SIDs and fetch by SID; this is for reconciling only."""
        found = self._read(lambda: self.client.messaging.v1.brand_registrations.list(limit=limit))
        return [from_resource(BrandRegistration, brand) for brand in found]

    def resubmit_brand_registration(self, sid: str) -> BrandRegistration:
        """Only while the brand is FAILED (else error 21725); fix the profile data first."""
        brand = self._create(lambda: self.client.messaging.v1.brand_registrations(sid).update())
        return from_resource(BrandRegistration, brand)

    def create_messaging_service(self, friendly_name: str, **options) -> MessagingService:
        """A Messaging Service. ``options``: any of MESSAGING_SERVICE_SETTINGS (Twilio's
        parameters in snake_case), e.g. inbound_request_url, status_callback,
        use_inbound_webhook_on_number, validity_period, usecase."""
        service = self._create(
            lambda: self.client.messaging.v1.services.create(
                friendly_name=friendly_name, **_service_settings(options)
            )
        )
        return from_resource(MessagingService, service)

    def list_messaging_services(self, *, limit: int = 100) -> list[MessagingService]:
        found = self._read(lambda: self.client.messaging.v1.services.list(limit=limit))
        return [from_resource(MessagingService, service) for service in found]

    def fetch_messaging_service(self, sid: str) -> MessagingService:
        service = self._read(lambda: self.client.messaging.v1.services(sid).fetch())
        return from_resource(MessagingService, service)

    def update_messaging_service(self, sid: str, **options) -> MessagingService:
        """Change ``options`` (friendly_name or any of MESSAGING_SERVICE_SETTINGS)."""
        service = self._create(
            lambda: self.client.messaging.v1.services(sid).update(**_service_settings(options))
        )
        return from_resource(MessagingService, service)

    def list_a2p_usecases(self, service_sid: str, brand_sid: str) -> list[A2PUsecase]:
        """The use cases this (APPROVED) brand may register a campaign for."""
        found = self._read(
            lambda: self.client.messaging.v1.services(service_sid).us_app_to_person_usecases.fetch(
                brand_registration_sid=brand_sid
            )
        )
        return [from_resource(A2PUsecase, item) for item in found.us_app_to_person_usecases or []]

    def create_a2p_campaign(
        self,
        service_sid: str,
        *,
        brand_sid: str,
        usecase: str,
        description: str,
        message_flow: str,
        message_samples: Sequence[str],
        has_embedded_links: bool,
        has_embedded_phone: bool,
        opt_in_message: str | None = None,
        opt_out_message: str | None = None,
        help_message: str | None = None,
        opt_in_keywords: Sequence[str] | None = None,
        opt_out_keywords: Sequence[str] | None = None,
        help_keywords: Sequence[str] | None = None,
        subscriber_opt_in: bool | None = None,
        age_gated: bool | None = None,
        direct_lending: bool | None = None,
        privacy_policy_url: str | None = None,
        terms_and_conditions_url: str | None = None,
    ) -> A2PCampaign:
        """Register the campaign (Usa2p) of an APPROVED brand on a messaging service."""
        campaign = self._create(
            lambda: self.client.messaging.v1.services(service_sid).us_app_to_person.create(
                brand_registration_sid=brand_sid,
                description=description,
                message_flow=message_flow,
                message_samples=list(message_samples),
                us_app_to_person_usecase=usecase,
                has_embedded_links=has_embedded_links,
                has_embedded_phone=has_embedded_phone,
                opt_in_message=_opt(opt_in_message),
                opt_out_message=_opt(opt_out_message),
                help_message=_opt(help_message),
                opt_in_keywords=_opt(opt_in_keywords and list(opt_in_keywords)),
                opt_out_keywords=_opt(opt_out_keywords and list(opt_out_keywords)),
                help_keywords=_opt(help_keywords and list(help_keywords)),
                subscriber_opt_in=_opt(subscriber_opt_in),
                age_gated=_opt(age_gated),
                direct_lending=_opt(direct_lending),
                privacy_policy_url=_opt(privacy_policy_url),
                terms_and_conditions_url=_opt(terms_and_conditions_url),
            )
        )
        return from_resource(A2PCampaign, campaign)

    def list_a2p_campaigns(self, service_sid: str) -> list[A2PCampaign]:
        found = self._read(
            lambda: self.client.messaging.v1.services(service_sid).us_app_to_person.list(limit=20)
        )
        return [from_resource(A2PCampaign, campaign) for campaign in found]

    def fetch_a2p_campaign(self, service_sid: str, sid: str) -> A2PCampaign:
        campaign = self._read(
            lambda: self.client.messaging.v1.services(service_sid).us_app_to_person(sid).fetch()
        )
        return from_resource(A2PCampaign, campaign)

    def update_a2p_campaign(
        self,
        service_sid: str,
        sid: str,
        *,
        description: str,
        message_flow: str,
        message_samples: Sequence[str],
        has_embedded_links: bool,
        has_embedded_phone: bool,
        age_gated: bool,
        direct_lending: bool,
        privacy_policy_url: str | None = None,
        terms_and_conditions_url: str | None = None,
    ) -> A2PCampaign:
        """Edit a campaign (e.g. after carriers rejected it); Twilio reviews it again."""
        campaign = self._create(
            lambda: (
                self.client.messaging.v1.services(service_sid)
                .us_app_to_person(sid)
                .update(
                    has_embedded_links=has_embedded_links,
                    has_embedded_phone=has_embedded_phone,
                    message_samples=list(message_samples),
                    message_flow=message_flow,
                    description=description,
                    age_gated=age_gated,
                    direct_lending=direct_lending,
                    privacy_policy_url=_opt(privacy_policy_url),
                    terms_and_conditions_url=_opt(terms_and_conditions_url),
                )
            )
        )
        return from_resource(A2PCampaign, campaign)

    def add_number_to_messaging_service(
        self, service_sid: str, phone_number_sid: str
    ) -> ServicePhoneNumber:
        """Put a number in the service's sender pool (a number belongs to one service only:
        error 21712)."""
        number = self._create(
            lambda: self.client.messaging.v1.services(service_sid).phone_numbers.create(
                phone_number_sid=phone_number_sid
            )
        )
        return from_resource(ServicePhoneNumber, number)

    def list_service_phone_numbers(self, service_sid: str) -> list[ServicePhoneNumber]:
        found = self._read(
            lambda: self.client.messaging.v1.services(service_sid).phone_numbers.list(limit=100)
        )
        return [from_resource(ServicePhoneNumber, number) for number in found]

    # --- phone numbers ---------------------------------------------------------------------

    def search_available_numbers(
        self,
        *,
        country: str = "US",
        area_code: int | None = None,
        contains: str | None = None,
        in_region: str | None = None,
        in_postal_code: str | None = None,
        in_locality: str | None = None,
        near_number: str | None = None,
        distance: int | None = None,
        sms_enabled: bool | None = True,
        mms_enabled: bool | None = None,
        limit: int = 20,
    ) -> list[AvailableNumber]:
        """Local numbers one could buy now."""
        found = self._read(
            lambda: self._account.available_phone_numbers(country).local.list(
                area_code=_opt(area_code),
                contains=_opt(contains),
                in_region=_opt(in_region),
                in_postal_code=_opt(in_postal_code),
                in_locality=_opt(in_locality),
                near_number=_opt(near_number),
                distance=_opt(distance),
                sms_enabled=_opt(sms_enabled),
                mms_enabled=_opt(mms_enabled),
                limit=limit,
            )
        )
        return [from_resource(AvailableNumber, number) for number in found]

    def buy_phone_number(
        self,
        *,
        phone_number: str | None = None,
        area_code: str | None = None,
        friendly_name: str | None = None,
        sms_url: str | None = None,
        sms_method: str | None = None,
        status_callback: str | None = None,
        bundle_sid: str | None = None,
        address_sid: str | None = None,
    ) -> IncomingNumber:
        """Buy ``phone_number`` (from a search), or any number in ``area_code``."""
        if not (phone_number or area_code):
            raise ValueError("give phone_number or area_code")
        number = self._create(
            lambda: self._account.incoming_phone_numbers.create(
                phone_number=_opt(phone_number),
                area_code=_opt(area_code),
                friendly_name=_opt(friendly_name),
                sms_url=_opt(sms_url),
                sms_method=_opt(sms_method),
                status_callback=_opt(status_callback),
                bundle_sid=_opt(bundle_sid),
                address_sid=_opt(address_sid),
            )
        )
        return from_resource(IncomingNumber, number)

    def update_phone_number(
        self,
        sid: str,
        *,
        sms_url: str | None = None,
        sms_method: str | None = None,
        status_callback: str | None = None,
        friendly_name: str | None = None,
    ) -> IncomingNumber:
        """E.g. point the number's incoming texts (SmsUrl) at our inbound webhook."""
        number = self._create(
            lambda: self._account.incoming_phone_numbers(sid).update(
                sms_url=_opt(sms_url),
                sms_method=_opt(sms_method),
                status_callback=_opt(status_callback),
                friendly_name=_opt(friendly_name),
            )
        )
        return from_resource(IncomingNumber, number)

    def find_incoming_numbers(self, phone_number: str) -> list[IncomingNumber]:
        """The account's numbers equal to ``phone_number`` (E.164)."""
        found = self._read(
            lambda: self._account.incoming_phone_numbers.list(phone_number=phone_number, limit=20)
        )
        return [from_resource(IncomingNumber, number) for number in found]

    # --- Event Streams (brand and campaign events, twilio-a2p.md §1.1) ----------------------

    def create_event_sink(
        self, description: str, destination: str, *, batch_events: bool = False
    ) -> EventSink:
        """A webhook sink: Twilio POSTs events (a JSON array of CloudEvents), signed."""
        sink = self._create(
            lambda: self.client.events.v1.sinks.create(
                description=description,
                sink_configuration={
                    "destination": destination,
                    "method": "POST",
                    "batch_events": batch_events,
                },
                sink_type="webhook",
            )
        )
        return from_resource(EventSink, sink)

    def list_event_sinks(self) -> list[EventSink]:
        found = self._read(lambda: self.client.events.v1.sinks.list(limit=100))
        return [from_resource(EventSink, sink) for sink in found]

    def create_event_subscription(
        self, description: str, sink_sid: str, types: Sequence[str], *, schema_version: int = 1
    ) -> EventSubscription:
        subscription = self._create(
            lambda: self.client.events.v1.subscriptions.create(
                description=description,
                sink_sid=sink_sid,
                types=[{"type": name, "schema_version": schema_version} for name in types],
            )
        )
        return from_resource(EventSubscription, subscription)

    def list_event_subscriptions(self, sink_sid: str | None = None) -> list[EventSubscription]:
        found = self._read(
            lambda: self.client.events.v1.subscriptions.list(sink_sid=_opt(sink_sid), limit=100)
        )
        return [from_resource(EventSubscription, subscription) for subscription in found]
