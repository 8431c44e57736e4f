"""api.twilio.com (2010-04-01): accounts, messages, addresses, phone numbers."""

import math
import random
import re
from datetime import UTC, date, datetime

from aiohttp import web

from smsplatform.sandboxes.twilio import magic
from smsplatform.sandboxes.twilio.wire import (
    ApiError,
    Form,
    invalid,
    json_response,
    missing,
    new_record,
    new_sid,
    not_found,
    now,
    rfc2822,
    v2010_page,
)

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
US_NUMBER = re.compile(r"^\+1[2-9]\d{2}[2-9]\d{6}$")


def routes(prefix: str) -> list:
    accounts = f"{prefix}/2010-04-01/Accounts"
    one = f"{accounts}/{{AccountSid}}"
    return [
        web.post(f"{accounts}.json", create_account),
        web.get(f"{accounts}.json", list_accounts),
        web.get(f"{accounts}/{{AccountSid}}.json", fetch_account),
        web.post(f"{one}/Messages.json", create_message),
        web.get(f"{one}/Messages.json", list_messages),
        web.get(f"{one}/Messages/{{Sid}}.json", fetch_message),
        web.post(f"{one}/Addresses.json", create_address),
        web.get(f"{one}/Addresses.json", list_addresses),
        web.get(f"{one}/Addresses/{{Sid}}.json", fetch_address),
        web.post(f"{one}/Addresses/{{Sid}}.json", update_address),
        web.get(f"{one}/AvailablePhoneNumbers/{{CountryCode}}/Local.json", available_numbers),
        web.post(f"{one}/IncomingPhoneNumbers.json", buy_number),
        web.get(f"{one}/IncomingPhoneNumbers.json", list_numbers),
        web.get(f"{one}/IncomingPhoneNumbers/{{Sid}}.json", fetch_number),
        web.post(f"{one}/IncomingPhoneNumbers/{{Sid}}.json", update_number),
    ]


def _sandbox(request):
    return request.app["sandbox"]


def _owned(request, kind: str, account: dict) -> dict:
    record = _sandbox(request).store.get(kind, request.match_info["Sid"])
    if record is None or record["account_sid"] != account["sid"]:
        raise not_found(request.path.removeprefix("/api"))
    return record


# --- accounts --------------------------------------------------------------------------------


def new_account(*, sid: str, token: str, name: str, owner: str | None = None) -> dict:
    timestamp = now()
    return {
        "sid": sid,
        "auth_token": token,
        "friendly_name": name,
        "owner_account_sid": owner or sid,
        "status": "active",
        "type": "Full",
        "date_created": timestamp,
        "date_updated": timestamp,
    }


def render_account(account: dict) -> dict:
    sid = account["sid"]
    base = f"/2010-04-01/Accounts/{sid}"
    return {
        "auth_token": account["auth_token"],
        "date_created": rfc2822(account["date_created"]),
        "date_updated": rfc2822(account["date_updated"]),
        "friendly_name": account["friendly_name"],
        "owner_account_sid": account["owner_account_sid"],
        "sid": sid,
        "status": account["status"],
        "subresource_uris": {
            "addresses": f"{base}/Addresses.json",
            "available_phone_numbers": f"{base}/AvailablePhoneNumbers.json",
            "incoming_phone_numbers": f"{base}/IncomingPhoneNumbers.json",
            "messages": f"{base}/Messages.json",
        },
        "type": account["type"],
        "uri": f"{base}.json",
    }


async def create_account(request):
    sandbox = _sandbox(request)
    caller = sandbox.account_of(request)
    if caller["owner_account_sid"] != caller["sid"]:
        raise ApiError(403, 20008, "Subaccounts cannot create subaccounts")
    form = Form(await request.post())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %I:%M %p")
    account = new_account(
        sid=new_sid("AC"),
        token=new_sid("")[:32],
        name=form.get("FriendlyName") or f"SubAccount Created at {stamp}",
        owner=caller["sid"],
    )
    sandbox.store.put("account", account)
    return json_response(render_account(account), status=201)


async def list_accounts(request):
    """The caller's own account and its subaccounts, optionally by FriendlyName / Status."""
    sandbox = _sandbox(request)
    caller = sandbox.account_of(request)
    found = [
        account
        for account in sandbox.store.all("account")
        if account["sid"] == caller["sid"] or account["owner_account_sid"] == caller["sid"]
    ]
    if "FriendlyName" in request.query:
        found = [a for a in found if a["friendly_name"] == request.query["FriendlyName"]]
    if "Status" in request.query:
        found = [a for a in found if a["status"] == request.query["Status"]]
    return v2010_page(request, "accounts", found, render_account)


async def fetch_account(request):
    account = _sandbox(request).path_account(request)
    return json_response(render_account(account))


# --- messages --------------------------------------------------------------------------------

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def count_segments(body: str) -> int:
    """SMS segments of ``body``: GSM-7 160 (153 per part), else UCS-2 70 (67 per part)."""
    if not body:
        return 1
    if all(char in GSM7 or char in GSM7_EXTENDED for char in body):
        length = sum(2 if char in GSM7_EXTENDED else 1 for char in body)
        return 1 if length <= 160 else math.ceil(length / 153)
    length = len(body.encode("utf-16-le")) // 2
    return 1 if length <= 70 else math.ceil(length / 67)


def render_message(message: dict) -> dict:
    sid, account_sid = message["sid"], message["account_sid"]
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": message["body"],
        "date_created": rfc2822(message["date_created"]),
        "date_sent": rfc2822(message["date_sent"]),
        "date_updated": rfc2822(message["date_updated"]),
        "direction": message["direction"],
        "error_code": message["error_code"],
        "error_message": message["error_message"],
        "from": message["from"],
        "messaging_service_sid": message["messaging_service_sid"],
        "num_media": str(len(message["media_urls"])),
        "num_segments": str(message["num_segments"]),
        "price": message["price"],
        "price_unit": "USD",
        "sid": sid,
        "status": message["status"],
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": message["to"],
        "uri": f"{uri}.json",
    }


async def create_message(request):
    sandbox = _sandbox(request)
    account = sandbox.path_account(request)
    form = Form(await request.post())
    to = form.get("To")
    if not to:
        raise ApiError(400, 21604, "A 'To' phone number is required.")
    body = form.get("Body", "")
    media_urls = form.getall("MediaUrl")
    if not body and not media_urls:
        raise ApiError(400, 21602, "Message body is required.")
    if len(body) > 1600:
        raise ApiError(
            400, 21617, "The concatenated message body exceeds the 1600 character limit."
        )
    if len(media_urls) > 10:
        raise invalid("MediaUrl", "at most 10 media files")
    validity_period = form.integer("ValidityPeriod")
    if validity_period is not None and not 1 <= validity_period <= 36000:
        raise invalid("ValidityPeriod", "between 1 and 36000 seconds")
    service_sid = form.get("MessagingServiceSid")
    from_number = form.get("From")
    if not service_sid and not from_number:
        raise ApiError(
            400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send."
        )
    if to in magic.TO_ERRORS:
        code, message = magic.TO_ERRORS[to]
        raise ApiError(400, code, message)
    if not E164.match(to):
        raise ApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")

    service = None
    if service_sid:
        service = sandbox.store.get("service", service_sid)
        if service is None or service["account_sid"] != account["sid"]:
            raise ApiError(400, 21701, f"The Messaging Service Sid {service_sid} is invalid.")
    if from_number:
        _check_sender(sandbox, account, from_number)
        sender = from_number
    else:
        pool = [
            item["phone_number"]
            for item in sandbox.store.where("service_number", service_sid=service_sid)
        ]
        if not pool:
            raise ApiError(400, 21704, "The Messaging Service contains no phone numbers.")
        sender = pool[sum(map(ord, to)) % len(pool)]  # sticky: one recipient, one sender
    opt_out_scope = service_sid or sender
    if sandbox.store.get("opt_out", f"{opt_out_scope}|{to}"):
        raise ApiError(400, 21610, "Attempt to send to unsubscribed recipient")

    timestamp = now()
    message = {
        "sid": new_sid("MM" if media_urls else "SM"),
        "account_sid": account["sid"],
        "to": to,
        # With a Messaging Service the sender is picked when the message leaves the queue.
        "from": None if service and not from_number else sender,
        "sender": sender,
        "body": body,
        "media_urls": media_urls,
        "num_segments": 0 if service else count_segments(body),
        "segments": count_segments(body),
        "direction": "outbound-api",
        "status": "accepted" if service else "queued",
        "messaging_service_sid": service_sid,
        "status_callback": form.get("StatusCallback") or (service or {}).get("status_callback"),
        "validity_period": validity_period,
        "error_code": None,
        "error_message": None,
        "price": None,
        "date_created": timestamp,
        "date_updated": timestamp,
        "date_sent": None,
    }
    sandbox.store.put("message", message)
    sandbox.stats["messages_created"] += 1
    sandbox.deliveries.accepted(message)
    return json_response(render_message(message), status=201)


def _check_sender(sandbox, account: dict, from_number: str) -> None:
    if from_number in magic.FROM_ERRORS:
        code, message = magic.FROM_ERRORS[from_number]
        raise ApiError(400, code, message)
    if from_number == magic.UNIVERSAL_FROM:
        return
    number_sid = sandbox.store.numbers_by_phone.get(from_number)
    number = sandbox.store.get("number", number_sid) if number_sid else None
    if number is None or number["account_sid"] != account["sid"]:
        raise ApiError(
            400,
            21606,
            f"The 'From' phone number provided ({from_number}) is not a valid message-capable "
            "Twilio phone number for this destination/account.",
        )


async def fetch_message(request):
    sandbox = _sandbox(request)
    message = _owned(request, "message", sandbox.path_account(request))
    return json_response(render_message(message))


async def list_messages(request):
    """Newest first; To / From exact; DateSent (=, <, >) by UTC day, as Twilio filters."""
    sandbox = _sandbox(request)
    account = sandbox.path_account(request)
    query = request.query
    sids = sandbox.store.messages_by_account.get(account["sid"], [])
    found = []
    for sid in reversed(sids):
        message = sandbox.store.get("message", sid)
        if message is None:
            continue
        if "To" in query and message["to"] != query["To"]:
            continue
        if "From" in query and message["from"] != query["From"]:
            continue
        if not _date_filters_match(query, message["date_sent"]):
            continue
        found.append(message)
    return v2010_page(request, "messages", found, render_message)


def _date_filters_match(query, timestamp: float | None) -> bool:
    filters = {
        name: query[name] for name in ("DateSent", "DateSent<", "DateSent>") if name in query
    }
    if not filters:
        return True
    if timestamp is None:
        return False
    sent = datetime.fromtimestamp(timestamp, UTC).date()
    for name, value in filters.items():
        day = _day(value)
        if (
            (name == "DateSent" and sent != day)
            or (name == "DateSent<" and sent > day)
            or (name == "DateSent>" and sent < day)
        ):
            return False
    return True


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise invalid("DateSent", value) from None


# --- addresses -------------------------------------------------------------------------------


def render_address(address: dict) -> dict:
    return {
        "account_sid": address["account_sid"],
        "city": address["city"],
        "customer_name": address["customer_name"],
        "date_created": rfc2822(address["date_created"]),
        "date_updated": rfc2822(address["date_updated"]),
        "friendly_name": address["friendly_name"],
        "iso_country": address["iso_country"],
        "postal_code": address["postal_code"],
        "region": address["region"],
        "sid": address["sid"],
        "street": address["street"],
        "uri": f"/2010-04-01/Accounts/{address['account_sid']}/Addresses/{address['sid']}.json",
        "emergency_enabled": address["emergency_enabled"],
        "validated": True,
        "verified": False,
        "street_secondary": address["street_secondary"],
    }


async def create_address(request):
    sandbox = _sandbox(request)
    account = sandbox.path_account(request)
    form = Form(await request.post())
    fields = {
        name: form.require(parameter)
        for name, parameter in (
            ("customer_name", "CustomerName"),
            ("street", "Street"),
            ("city", "City"),
            ("region", "Region"),
            ("postal_code", "PostalCode"),
            ("iso_country", "IsoCountry"),
        )
    }
    address = new_record(
        "AD",
        account["sid"],
        **fields,
        friendly_name=form.get("FriendlyName"),
        street_secondary=form.get("StreetSecondary"),
        emergency_enabled=form.boolean("EmergencyEnabled", False),
    )
    sandbox.store.put("address", address)
    return json_response(render_address(address), status=201)


async def list_addresses(request):
    sandbox = _sandbox(request)
    found = sandbox.store.where("address", account_sid=sandbox.path_account(request)["sid"])
    for parameter, field in (
        ("CustomerName", "customer_name"),
        ("FriendlyName", "friendly_name"),
        ("IsoCountry", "iso_country"),
    ):
        if parameter in request.query:
            found = [a for a in found if a[field] == request.query[parameter]]
    return v2010_page(request, "addresses", found, render_address)


async def fetch_address(request):
    sandbox = _sandbox(request)
    return json_response(render_address(_owned(request, "address", sandbox.path_account(request))))


async def update_address(request):
    sandbox = _sandbox(request)
    address = dict(_owned(request, "address", sandbox.path_account(request)))
    form = Form(await request.post())
    for name, parameter in (
        ("customer_name", "CustomerName"),
        ("street", "Street"),
        ("street_secondary", "StreetSecondary"),
        ("city", "City"),
        ("region", "Region"),
        ("postal_code", "PostalCode"),
        ("friendly_name", "FriendlyName"),
    ):
        if parameter in form:
            address[name] = form.get(parameter) or None
    if "EmergencyEnabled" in form:
        address["emergency_enabled"] = form.boolean("EmergencyEnabled")
    address["date_updated"] = now()
    sandbox.store.put("address", address)
    return json_response(render_address(address))


# --- phone numbers ---------------------------------------------------------------------------

# A few US area codes with a place, so searches by region or postal code find something.
AREA_CODES = {
    "212": ("New York", "NY", "10001", 40.75, -73.99),
    "305": ("Miami", "FL", "33101", 25.77, -80.19),
    "312": ("Chicago", "IL", "60601", 41.88, -87.62),
    "404": ("Atlanta", "GA", "30303", 33.75, -84.39),
    "415": ("San Francisco", "CA", "94103", 37.77, -122.41),
    "512": ("Austin", "TX", "78701", 30.27, -97.74),
    "617": ("Boston", "MA", "02108", 42.36, -71.06),
    "702": ("Las Vegas", "NV", "89101", 36.17, -115.14),
}


def friendly(phone_number: str) -> str:
    digits = phone_number[-10:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def _candidates(area_code: str):
    """Numbers of an area code, in a fixed pseudo-random order (never in 555, which the
    sandbox keeps for designated recipients)."""
    rng = random.Random(f"twilio-sandbox-{area_code}")
    while True:
        exchange = rng.randint(200, 999)
        if exchange == 555 or exchange % 100 == 11:
            continue
        yield f"+1{area_code}{exchange}{rng.randint(0, 9999):04d}"


def render_available(phone_number: str) -> dict:
    place = AREA_CODES.get(phone_number[2:5])
    locality, region, postal_code, latitude, longitude = place or (None, None, None, None, None)
    return {
        "friendly_name": friendly(phone_number),
        "phone_number": phone_number,
        "lata": None,
        "locality": locality,
        "rate_center": locality.upper().replace(" ", "") if locality else None,
        "latitude": latitude,
        "longitude": longitude,
        "region": region,
        "postal_code": postal_code,
        "iso_country": "US",
        "address_requirements": "none",
        "beta": False,
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
    }


async def available_numbers(request):
    sandbox = _sandbox(request)
    sandbox.path_account(request)
    query = request.query
    if request.match_info["CountryCode"] != "US":
        return v2010_page(request, "available_phone_numbers", [], render_available)
    if "AreaCode" in query:
        area_codes = [query["AreaCode"]]
    elif "NearNumber" in query and US_NUMBER.match(query["NearNumber"]):
        area_codes = [query["NearNumber"][2:5]]
    else:
        area_codes = [
            code
            for code, (locality, region, postal_code, *_) in AREA_CODES.items()
            if query.get("InRegion", region) == region
            and query.get("InPostalCode", postal_code) == postal_code
            and query.get("InLocality", locality) == locality
        ]
    if magic.EMPTY_AREA_CODE in area_codes:
        area_codes.remove(magic.EMPTY_AREA_CODE)
    contains = query.get("Contains", "").replace("*", "").lstrip("+")
    wanted = min(int(query.get("PageSize", 30)), 100)
    found = []
    for area_code in area_codes:
        tried = 0
        for number in _candidates(area_code):
            tried += 1
            if tried > 5000 or len(found) >= wanted:
                break
            if number in sandbox.store.numbers_by_phone or contains not in number:
                continue
            found.append(number)
    return v2010_page(request, "available_phone_numbers", found, render_available)


def render_number(number: dict) -> dict:
    return {
        "account_sid": number["account_sid"],
        "address_sid": number["address_sid"],
        "address_requirements": "none",
        "api_version": API_VERSION,
        "beta": False,
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
        "date_created": rfc2822(number["date_created"]),
        "date_updated": rfc2822(number["date_updated"]),
        "friendly_name": number["friendly_name"],
        "identity_sid": None,
        "phone_number": number["phone_number"],
        "origin": "twilio",
        "sid": number["sid"],
        "sms_application_sid": None,
        "sms_fallback_method": "POST",
        "sms_fallback_url": None,
        "sms_method": number["sms_method"],
        "sms_url": number["sms_url"],
        "status_callback": number["status_callback"],
        "status_callback_method": "POST",
        "trunk_sid": None,
        "uri": f"/2010-04-01/Accounts/{number['account_sid']}/IncomingPhoneNumbers/"
        f"{number['sid']}.json",
        "voice_receive_mode": "voice",
        "voice_application_sid": None,
        "voice_caller_id_lookup": False,
        "voice_fallback_method": "POST",
        "voice_fallback_url": None,
        "voice_method": "POST",
        "voice_url": None,
        "emergency_status": "Inactive",
        "emergency_address_sid": None,
        "emergency_address_status": "unregistered",
        "bundle_sid": number["bundle_sid"],
        "status": "in-use",
        "type": "local",
    }


async def buy_number(request):
    sandbox = _sandbox(request)
    account = sandbox.path_account(request)
    form = Form(await request.post())
    phone_number = form.get("PhoneNumber")
    area_code = form.get("AreaCode")
    if phone_number:
        if phone_number == magic.INVALID_NUMBER or not US_NUMBER.match(phone_number):
            raise ApiError(400, 21421, f"PhoneNumber {phone_number} is invalid.")
        if (
            phone_number == magic.UNAVAILABLE_NUMBER
            or phone_number in sandbox.store.numbers_by_phone
        ):
            raise ApiError(400, 21422, f"PhoneNumber {phone_number} is not available.")
    elif area_code:
        if area_code == magic.EMPTY_AREA_CODE or not re.fullmatch(r"[2-9]\d\d", area_code):
            raise ApiError(400, 21452, f"No phone numbers found in area code {area_code}.")
        phone_number = next(
            n for n in _candidates(area_code) if n not in sandbox.store.numbers_by_phone
        )
    else:
        raise missing("PhoneNumber")
    number = new_record(
        "PN",
        account["sid"],
        phone_number=phone_number,
        friendly_name=form.get("FriendlyName") or friendly(phone_number),
        sms_url=form.get("SmsUrl"),
        sms_method=form.get("SmsMethod", "POST"),
        status_callback=form.get("StatusCallback"),
        bundle_sid=form.get("BundleSid"),
        address_sid=form.get("AddressSid"),
    )
    sandbox.store.put("number", number)
    return json_response(render_number(number), status=201)


async def list_numbers(request):
    sandbox = _sandbox(request)
    account = sandbox.path_account(request)
    found = sandbox.store.where("number", account_sid=account["sid"])
    if "PhoneNumber" in request.query:
        found = [n for n in found if n["phone_number"] == request.query["PhoneNumber"]]
    return v2010_page(request, "incoming_phone_numbers", found, render_number)


async def fetch_number(request):
    sandbox = _sandbox(request)
    return json_response(render_number(_owned(request, "number", sandbox.path_account(request))))


async def update_number(request):
    sandbox = _sandbox(request)
    number = dict(_owned(request, "number", sandbox.path_account(request)))
    form = Form(await request.post())
    for name, parameter in (
        ("sms_url", "SmsUrl"),
        ("sms_method", "SmsMethod"),
        ("status_callback", "StatusCallback"),
        ("friendly_name", "FriendlyName"),
        ("bundle_sid", "BundleSid"),
        ("address_sid", "AddressSid"),
    ):
        if parameter in form:
            number[name] = form.get(parameter) or None
    number["date_updated"] = now()
    sandbox.store.put("number", number)
    return json_response(render_number(number))
