"""What Twilio is sent, from the customer's answers (Registration.details): the TrustHub end
users' attributes, the address, the brand type and the campaign (twilio-a2p.md §1). Pure
functions: the engine makes the calls."""

from dataclasses import dataclass

from a2p.forms import LOW_VOLUME_STANDARD

# Where a field of the form goes, to say "change this" on a rejection.
TWILIO_FIELD_TO_FORM = {
    "business_name": "legal_name",
    "business_type": "business_type",
    "business_industry": "industry",
    "business_registration_identifier": "registration_id_type",
    "business_registration_number": "registration_number",
    "business_regions_of_operation": "regions",
    "website_url": "website",
    "social_media_profile_urls": "social_profiles",
    "first_name": "rep_first_name",
    "last_name": "rep_last_name",
    "email": "rep_email",
    "phone_number": "rep_phone",
    "business_title": "rep_title",
    "job_position": "rep_position",
    "address_sids": "street",
    "company_type": "company_type",
    "stock_exchange": "stock_exchange",
    "stock_ticker": "stock_ticker",
    "brand_contact_email": "brand_contact_email",
    "description": "description",
    "message_flow": "message_flow",
    "message_samples": "sample_1",
}


def business_information(details: dict) -> dict:
    attributes = {
        "business_name": details["legal_name"],
        "business_identity": "direct_customer",
        "business_type": details["business_type"],
        "business_industry": details["industry"],
        "business_registration_identifier": details["registration_id_type"],
        "business_registration_number": details["registration_number"],
        "business_regions_of_operation": ",".join(details["regions"]),
        "website_url": details["website"],
    }
    if details.get("social_profiles"):
        attributes["social_media_profile_urls"] = ",".join(details["social_profiles"])
    return attributes


def authorized_representative(details: dict) -> dict:
    return {
        "first_name": details["rep_first_name"],
        "last_name": details["rep_last_name"],
        "email": details["rep_email"],
        "phone_number": details["rep_phone"],
        "business_title": details["rep_title"],
        "job_position": details["rep_position"],
    }


def messaging_profile(details: dict) -> dict:
    attributes = {"company_type": details["company_type"]}
    if details["company_type"] == "public":
        attributes.update(
            stock_exchange=details["stock_exchange"],
            stock_ticker=details["stock_ticker"],
            brand_contact_email=details["brand_contact_email"],
        )
    return attributes


def address(details: dict) -> dict:
    return {
        "customer_name": details["legal_name"],
        "street": details["street"],
        "street_secondary": details.get("street_secondary") or None,
        "city": details["city"],
        "region": details["state"],
        "postal_code": details["postal_code"],
        "iso_country": details["country"],
    }


@dataclass(frozen=True)
class BrandRequest:
    brand_type: str
    skip_automatic_sec_vet: bool


def brand(details: dict) -> BrandRequest:
    """Low-Volume Standard is a Standard brand that skips secondary vetting (twilio-a2p.md §1,
    step 3): cheaper, and its throughput stays at the lowest tier."""
    return BrandRequest("STANDARD", details["brand_type"] == LOW_VOLUME_STANDARD)


# A Messaging Service declares what it is for; it must agree with the campaign's use case
# (error 21719).
SERVICE_USECASES = {
    "MARKETING": "marketing",
    "ACCOUNT_NOTIFICATION": "notifications",
    "CUSTOMER_CARE": "discussion",
}


def service_usecase(details: dict) -> str:
    return SERVICE_USECASES.get(details["use_case"], "undeclared")


def campaign(details: dict) -> dict:
    """The arguments of create_a2p_campaign (besides the service and brand)."""
    fields = campaign_content(details)
    fields.update(
        usecase=details["use_case"],
        opt_in_message=details.get("opt_in_message") or None,
        opt_out_message=details.get("opt_out_message") or None,
        help_message=details.get("help_message") or None,
        opt_in_keywords=details.get("opt_in_keywords") or None,
        opt_out_keywords=details.get("opt_out_keywords") or None,
        help_keywords=details.get("help_keywords") or None,
        subscriber_opt_in=True,
    )
    return fields


def campaign_content(details: dict) -> dict:
    """What the campaign update call sends again after a rejection."""
    return {
        "description": details["description"],
        "message_flow": details["message_flow"],
        "message_samples": list(details["samples"]),
        "has_embedded_links": bool(details.get("has_links")),
        "has_embedded_phone": bool(details.get("has_phone_numbers")),
        "age_gated": False,
        "direct_lending": False,
        "privacy_policy_url": details["privacy_policy_url"],
        "terms_and_conditions_url": details["terms_url"],
    }
