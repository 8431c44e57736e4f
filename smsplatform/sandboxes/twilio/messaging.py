"""messaging.twilio.com (v1): Messaging Services and their sender pools, A2P brand
registrations, use cases and campaigns (Usa2p). Reviews are in reviews.py."""

from aiohttp import web

from smsplatform.sandboxes.twilio.wire import (
    ApiError,
    Form,
    invalid,
    iso8601,
    json_response,
    new_record,
    not_found,
    now,
    v1_page,
)

USECASES = [
    ("2FA", "Two-Factor authentication (2FA)", "One-time passwords, password resets", False),
    (
        "ACCOUNT_NOTIFICATION",
        "Account Notification",
        "Reminders, alerts and notifications about an account",
        False,
    ),
    ("CUSTOMER_CARE", "Customer Care", "Account management and support", False),
    (
        "DELIVERY_NOTIFICATION",
        "Delivery Notification",
        "The status of the delivery of a product or service",
        False,
    ),
    ("LOW_VOLUME", "Low Volume Mixed", "Several use cases at a low volume", False),
    ("MARKETING", "Marketing", "Promotions, offers and other marketing content", False),
    ("MIXED", "Mixed", "Several use cases for one brand", False),
    ("POLLING_VOTING", "Polling and voting", "Surveys and polls", False),
]
USECASE_CODES = {code for code, *_ in USECASES}


def routes(prefix: str) -> list:
    services = f"{prefix}/v1/Services"
    one = services + "/{ServiceSid}"
    brands = f"{prefix}/v1/a2p/BrandRegistrations"
    return [
        web.post(services, create_service),
        web.get(services, list_services),
        web.get(one, fetch_service),
        web.post(one, update_service),
        web.post(one + "/PhoneNumbers", add_phone_number),
        web.get(one + "/PhoneNumbers", list_phone_numbers),
        web.get(one + "/Compliance/Usa2p/Usecases", list_usecases),
        web.post(one + "/Compliance/Usa2p", create_campaign),
        web.get(one + "/Compliance/Usa2p", list_campaigns),
        web.get(one + "/Compliance/Usa2p/{Sid}", fetch_campaign),
        web.post(one + "/Compliance/Usa2p/{Sid}", update_campaign),
        web.post(brands, create_brand),
        web.get(brands, list_brands),
        web.get(brands + "/{Sid}", fetch_brand),
        web.post(brands + "/{Sid}", resubmit_brand),
    ]


def _sandbox(request):
    return request.app["sandbox"]


def _base(request) -> str:
    return _sandbox(request).base_url(request, "messaging")


def _not_found(request):
    return not_found(request.path.removeprefix("/messaging"))


# --- services --------------------------------------------------------------------------------

SERVICE_SETTINGS = (
    # (record field, form parameter, kind, default)
    ("inbound_request_url", "InboundRequestUrl", "text", None),
    ("inbound_method", "InboundMethod", "text", "POST"),
    ("fallback_url", "FallbackUrl", "text", None),
    ("fallback_method", "FallbackMethod", "text", "POST"),
    ("status_callback", "StatusCallback", "text", None),
    ("sticky_sender", "StickySender", "bool", True),
    ("mms_converter", "MmsConverter", "bool", True),
    ("smart_encoding", "SmartEncoding", "bool", True),
    ("scan_message_content", "ScanMessageContent", "text", "inherit"),
    ("fallback_to_long_code", "FallbackToLongCode", "bool", True),
    ("area_code_geomatch", "AreaCodeGeomatch", "bool", True),
    ("validity_period", "ValidityPeriod", "int", 36000),
    ("synchronous_validation", "SynchronousValidation", "bool", False),
    ("usecase", "Usecase", "text", "undeclared"),
    ("use_inbound_webhook_on_number", "UseInboundWebhookOnNumber", "bool", False),
)


def _read_settings(form: Form, service: dict, *, creating: bool) -> None:
    for field, parameter, kind, default in SERVICE_SETTINGS:
        if parameter not in form:
            if creating:
                service[field] = default
            continue
        if kind == "bool":
            service[field] = form.boolean(parameter)
        elif kind == "int":
            service[field] = form.integer(parameter)
        else:
            service[field] = form.get(parameter) or None
    if service["scan_message_content"] not in ("inherit", "enable", "disable"):
        raise invalid("ScanMessageContent")
    if service["inbound_method"] not in ("GET", "POST"):
        raise invalid("InboundMethod")


def render_service(service: dict, base: str) -> dict:
    url = f"{base}/v1/Services/{service['sid']}"
    rendered = {
        "sid": service["sid"],
        "account_sid": service["account_sid"],
        "friendly_name": service["friendly_name"],
        "date_created": iso8601(service["date_created"]),
        "date_updated": iso8601(service["date_updated"]),
        "url": url,
        "links": {
            "phone_numbers": f"{url}/PhoneNumbers",
            "short_codes": f"{url}/ShortCodes",
            "alpha_senders": f"{url}/AlphaSenders",
            "messages": f"{url}/Messages",
            "us_app_to_person": f"{url}/Compliance/Usa2p",
            "us_app_to_person_usecases": f"{url}/Compliance/Usa2p/Usecases",
            "channel_senders": f"{url}/ChannelSenders",
            "destination_alpha_senders": f"{url}/DestinationAlphaSenders",
        },
        "us_app_to_person_registered": service["us_app_to_person_registered"],
    }
    for field, *_ in SERVICE_SETTINGS:
        rendered[field] = service[field]
    return rendered


def _service(request) -> dict:
    sandbox = _sandbox(request)
    service = sandbox.store.get("service", request.match_info["ServiceSid"])
    if service is None or service["account_sid"] != sandbox.account_of(request)["sid"]:
        raise _not_found(request)
    return service


async def create_service(request):
    sandbox = _sandbox(request)
    form = Form(await request.post())
    service = new_record(
        "MG",
        sandbox.account_of(request)["sid"],
        friendly_name=form.require("FriendlyName"),
        us_app_to_person_registered=False,
    )
    _read_settings(form, service, creating=True)
    sandbox.store.put("service", service)
    return json_response(render_service(service, _base(request)), status=201)


async def list_services(request):
    sandbox = _sandbox(request)
    found = sandbox.store.where("service", account_sid=sandbox.account_of(request)["sid"])
    base = _base(request)
    return v1_page(request, base, "services", found, lambda s: render_service(s, base))


async def fetch_service(request):
    return json_response(render_service(_service(request), _base(request)))


async def update_service(request):
    sandbox = _sandbox(request)
    service = dict(_service(request))
    form = Form(await request.post())
    if "FriendlyName" in form:
        service["friendly_name"] = form.get("FriendlyName")
    _read_settings(form, service, creating=False)
    service["date_updated"] = now()
    sandbox.store.put("service", service)
    return json_response(render_service(service, _base(request)))


def render_service_number(entry: dict, base: str) -> dict:
    return {
        "sid": entry["sid"],
        "account_sid": entry["account_sid"],
        "service_sid": entry["service_sid"],
        "date_created": iso8601(entry["date_created"]),
        "date_updated": iso8601(entry["date_created"]),
        "phone_number": entry["phone_number"],
        "country_code": "US",
        "capabilities": ["SMS", "MMS", "Voice"],
        "url": f"{base}/v1/Services/{entry['service_sid']}/PhoneNumbers/{entry['sid']}",
    }


async def add_phone_number(request):
    sandbox = _sandbox(request)
    service = _service(request)
    form = Form(await request.post())
    number_sid = form.require("PhoneNumberSid")
    number = sandbox.store.get("number", number_sid)
    if number is None or number["account_sid"] != service["account_sid"]:
        raise ApiError(404, 20404, f"Phone Number {number_sid} was not found in this account.")
    existing = sandbox.store.get("service_number", number_sid)
    if existing is not None:
        raise ApiError(
            409 if existing["service_sid"] == service["sid"] else 400,
            21712,
            "Phone Number or Short Code is already associated with another Messaging Service.",
        )
    entry = {
        "sid": number_sid,  # the pool entry shares the number's PN sid, as in Twilio
        "account_sid": service["account_sid"],
        "service_sid": service["sid"],
        "phone_number": number["phone_number"],
        "date_created": now(),
    }
    sandbox.store.put("service_number", entry)
    return json_response(render_service_number(entry, _base(request)), status=201)


async def list_phone_numbers(request):
    sandbox = _sandbox(request)
    service = _service(request)
    found = sandbox.store.where("service_number", service_sid=service["sid"])
    base = _base(request)
    return v1_page(request, base, "phone_numbers", found, lambda e: render_service_number(e, base))


# --- brands ----------------------------------------------------------------------------------


def render_brand(brand: dict, base: str) -> dict:
    url = f"{base}/v1/a2p/BrandRegistrations/{brand['sid']}"
    return {
        "sid": brand["sid"],
        "account_sid": brand["account_sid"],
        "customer_profile_bundle_sid": brand["customer_profile_bundle_sid"],
        "a2p_profile_bundle_sid": brand["a2p_profile_bundle_sid"],
        "date_created": iso8601(brand["date_created"]),
        "date_updated": iso8601(brand["date_updated"]),
        "brand_type": brand["brand_type"],
        "status": brand["status"],
        "tcr_id": brand["tcr_id"],
        "failure_reason": brand["failure_reason"],
        "errors": brand["errors"],
        "url": url,
        "brand_score": brand["brand_score"],
        "brand_feedback": None,
        "identity_status": brand["identity_status"],
        "russell_3000": False,
        "government_entity": False,
        "tax_exempt_status": None,
        "skip_automatic_sec_vet": brand["skip_automatic_sec_vet"],
        "mock": brand["mock"],
        "links": {
            "brand_vettings": f"{url}/Vettings",
            "brand_registration_otps": f"{url}/SmsOtp",
        },
    }


def _brand(request, sid: str | None = None) -> dict:
    sandbox = _sandbox(request)
    brand = sandbox.store.get("brand", sid or request.match_info["Sid"])
    if brand is None or brand["account_sid"] != sandbox.account_of(request)["sid"]:
        raise _not_found(request)
    return brand


async def create_brand(request):
    sandbox = _sandbox(request)
    account = sandbox.account_of(request)
    form = Form(await request.post())
    bundles = {}
    for parameter, bundle_type in (
        ("CustomerProfileBundleSid", "customer_profile"),
        ("A2PProfileBundleSid", "trust_product"),
    ):
        sid = form.require(parameter)
        bundle = sandbox.store.get("bundle", sid)
        if (
            bundle is None
            or bundle["bundle_type"] != bundle_type
            or (bundle["account_sid"] != account["sid"])
        ):
            raise ApiError(400, 20001, f"Invalid {parameter}: {sid} is not a {bundle_type}")
        bundles[parameter] = sid
    brand_type = form.get("BrandType", "STANDARD")
    if brand_type not in ("STANDARD", "SOLE_PROPRIETOR"):
        raise invalid("BrandType")
    brand = new_record(
        "BN",
        account["sid"],
        customer_profile_bundle_sid=bundles["CustomerProfileBundleSid"],
        a2p_profile_bundle_sid=bundles["A2PProfileBundleSid"],
        brand_type=brand_type,
        status="PENDING",
        identity_status="UNVERIFIED",
        tcr_id=None,
        brand_score=None,
        failure_reason=None,
        errors=[],
        skip_automatic_sec_vet=form.boolean("SkipAutomaticSecVet", False),
        mock=form.boolean("Mock", False),
    )
    sandbox.store.put("brand", brand)
    sandbox.reviews.brand_submitted(brand)
    return json_response(render_brand(brand, _base(request)), status=201)


async def list_brands(request):
    sandbox = _sandbox(request)
    found = sandbox.store.where("brand", account_sid=sandbox.account_of(request)["sid"])
    base = _base(request)
    return v1_page(request, base, "data", found, lambda b: render_brand(b, base))


async def fetch_brand(request):
    return json_response(render_brand(_brand(request), _base(request)))


async def resubmit_brand(request):
    """Twilio only takes a brand back for review once it has FAILED (error 21725)."""
    sandbox = _sandbox(request)
    brand = dict(_brand(request))
    if brand["status"] != "FAILED":
        raise ApiError(400, 21725, "Brand can be updated only when in FAILED state.")
    brand.update(status="PENDING", errors=[], failure_reason=None, date_updated=now())
    sandbox.store.put("brand", brand)
    sandbox.reviews.brand_submitted(brand)
    return json_response(render_brand(brand, _base(request)), status=202)


# --- use cases and campaigns -----------------------------------------------------------------


def _approved_brand(request, sid: str) -> dict:
    sandbox = _sandbox(request)
    brand = sandbox.store.get("brand", sid or "")
    if brand is None or brand["account_sid"] != sandbox.account_of(request)["sid"]:
        raise ApiError(400, 20001, f"Invalid BrandRegistrationSid {sid}")
    if brand["status"] != "APPROVED":
        # What Twilio answers here is not documented; 30994 ("brand pending") is the closest.
        raise ApiError(400, 30994, f"Brand {sid} is not approved yet (status {brand['status']}).")
    return brand


async def list_usecases(request):
    _service(request)
    _approved_brand(request, request.query.get("BrandRegistrationSid"))
    return json_response(
        {
            "us_app_to_person_usecases": [
                {
                    "code": code,
                    "name": name,
                    "description": description,
                    "post_approval_required": post_approval,
                }
                for code, name, description, post_approval in USECASES
            ]
        }
    )


def render_campaign(campaign: dict, base: str) -> dict:
    return {
        "sid": campaign["sid"],
        "account_sid": campaign["account_sid"],
        "brand_registration_sid": campaign["brand_registration_sid"],
        "messaging_service_sid": campaign["messaging_service_sid"],
        "description": campaign["description"],
        "message_samples": campaign["message_samples"],
        "us_app_to_person_usecase": campaign["us_app_to_person_usecase"],
        "has_embedded_links": campaign["has_embedded_links"],
        "has_embedded_phone": campaign["has_embedded_phone"],
        "subscriber_opt_in": campaign["subscriber_opt_in"],
        "age_gated": campaign["age_gated"],
        "direct_lending": campaign["direct_lending"],
        "campaign_status": campaign["campaign_status"],
        "campaign_id": campaign["campaign_id"],
        "is_externally_registered": False,
        "rate_limits": campaign["rate_limits"],
        "message_flow": campaign["message_flow"],
        "opt_in_message": campaign["opt_in_message"],
        "opt_out_message": campaign["opt_out_message"],
        "help_message": campaign["help_message"],
        "opt_in_keywords": campaign["opt_in_keywords"],
        "opt_out_keywords": campaign["opt_out_keywords"],
        "help_keywords": campaign["help_keywords"],
        "date_created": iso8601(campaign["date_created"]),
        "date_updated": iso8601(campaign["date_updated"]),
        "url": f"{base}/v1/Services/{campaign['messaging_service_sid']}/Compliance/Usa2p/"
        f"{campaign['sid']}",
        "mock": campaign["mock"],
        "errors": campaign["errors"],
    }


def _campaign_content(form: Form, *, creating: bool) -> dict:
    """The reviewable content of a campaign, checked against Twilio's documented limits."""
    content = {
        "description": form.require("Description"),
        "message_flow": form.require("MessageFlow"),
        "message_samples": form.getall("MessageSamples"),
        "has_embedded_links": form.boolean("HasEmbeddedLinks"),
        "has_embedded_phone": form.boolean("HasEmbeddedPhone"),
    }
    if content["has_embedded_links"] is None:
        raise ApiError(400, 20001, "Missing required parameter HasEmbeddedLinks in the post body")
    if content["has_embedded_phone"] is None:
        raise ApiError(400, 20001, "Missing required parameter HasEmbeddedPhone in the post body")
    if not 40 <= len(content["description"]) <= 4096:
        raise invalid("Description", "40 to 4096 characters")
    if not 40 <= len(content["message_flow"]) <= 2048:
        raise invalid("MessageFlow", "40 to 2048 characters")
    samples = content["message_samples"]
    if not 2 <= len(samples) <= 5 or not all(20 <= len(s) <= 1024 for s in samples):
        raise invalid("MessageSamples", "2 to 5 samples of 20 to 1024 characters")
    if creating:
        content.update(
            opt_in_message=form.get("OptInMessage"),
            opt_out_message=form.get("OptOutMessage"),
            help_message=form.get("HelpMessage"),
            opt_in_keywords=form.getall("OptInKeywords") or None,
            opt_out_keywords=form.getall("OptOutKeywords") or None,
            help_keywords=form.getall("HelpKeywords") or None,
            subscriber_opt_in=form.boolean("SubscriberOptIn", False),
        )
    for parameter in ("AgeGated", "DirectLending"):
        value = form.boolean(parameter)
        if value is None and not creating:
            raise ApiError(400, 20001, f"Missing required parameter {parameter} in the post body")
        content["age_gated" if parameter == "AgeGated" else "direct_lending"] = bool(value)
    return content


async def create_campaign(request):
    sandbox = _sandbox(request)
    service = _service(request)
    form = Form(await request.post())
    brand = _approved_brand(request, form.require("BrandRegistrationSid"))
    usecase = form.require("UsAppToPersonUsecase")
    if usecase not in USECASE_CODES:
        raise ApiError(400, 30900, f"Use case {usecase} is not available to this brand.")
    if sandbox.store.where("campaign", messaging_service_sid=service["sid"]):
        raise ApiError(409, 20001, "This Messaging Service already has an A2P campaign.")
    campaign = new_record(
        "QE",
        service["account_sid"],
        brand_registration_sid=brand["sid"],
        messaging_service_sid=service["sid"],
        us_app_to_person_usecase=usecase,
        **_campaign_content(form, creating=True),
        campaign_status="IN_PROGRESS",
        campaign_id=None,
        rate_limits=None,
        mock=brand["mock"],
        errors=[],
    )
    sandbox.store.put("campaign", campaign)
    sandbox.reviews.campaign_submitted(campaign)
    return json_response(render_campaign(campaign, _base(request)), status=201)


def _campaign(request) -> dict:
    sandbox = _sandbox(request)
    service = _service(request)
    campaign = sandbox.store.get("campaign", request.match_info["Sid"])
    if campaign is None or campaign["messaging_service_sid"] != service["sid"]:
        raise _not_found(request)
    return campaign


async def list_campaigns(request):
    sandbox = _sandbox(request)
    service = _service(request)
    found = sandbox.store.where("campaign", messaging_service_sid=service["sid"])
    base = _base(request)
    return v1_page(request, base, "compliance", found, lambda c: render_campaign(c, base))


async def fetch_campaign(request):
    return json_response(render_campaign(_campaign(request), _base(request)))


async def update_campaign(request):
    """New content goes back to review, whatever the campaign's status was."""
    sandbox = _sandbox(request)
    campaign = dict(_campaign(request))
    form = Form(await request.post())
    campaign.update(_campaign_content(form, creating=False))
    campaign.update(campaign_status="IN_PROGRESS", errors=[], date_updated=now())
    sandbox.store.put("campaign", campaign)
    sandbox.reviews.campaign_submitted(campaign)
    return json_response(render_campaign(campaign, _base(request)))
