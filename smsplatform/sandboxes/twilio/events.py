"""events.twilio.com (v1): Event Streams sinks and subscriptions, and the delivery of A2P brand
and campaign events to webhook sinks (twilio-a2p.md §1.1, "Event Streams").

A webhook sink gets a POST whose body is a JSON array of CloudEvents (one per request unless
the sink batches). Like Twilio's JSON webhooks, the sink's URL gets ``bodySHA256=<hex sha256 of
the body>`` and X-Twilio-Signature signs that URL alone, with the auth token of the account
that owns the sink. Each account has its own sinks and subscriptions: an ISV sets them up in
every subaccount.
"""

import hashlib
import json
from urllib.parse import urlsplit

from aiohttp import web

from smsplatform.sandboxes.twilio.wire import (
    ApiError,
    Form,
    invalid,
    iso8601,
    json_response,
    new_record,
    new_sid,
    not_found,
    now,
    v1_page,
)

BRAND_EVENT = "com.twilio.messaging.compliance.brand-registration."
CAMPAIGN_EVENT = "com.twilio.messaging.compliance.campaign-registration."
DATA_SCHEMAS = {
    "brand-registered": "A2P.BrandRegistrationRegistered",
    "brand-failure": "A2P.BrandRegistrationFailure",
    "brand-vetted-verified": "A2P.BrandRegistrationVettedVerified",
    "campaign-submitted": "A2P.CampaignRegistrationSubmitted",
    "campaign-approved": "A2P.CampaignRegistrationApproved",
    "campaign-failure": "A2P.CampaignRegistrationFailure",
}


def routes(prefix: str) -> list:
    return [
        web.post(f"{prefix}/v1/Sinks", create_sink),
        web.get(f"{prefix}/v1/Sinks", list_sinks),
        web.get(f"{prefix}/v1/Sinks/{{Sid}}", fetch_sink),
        web.delete(f"{prefix}/v1/Sinks/{{Sid}}", delete_sink),
        web.post(f"{prefix}/v1/Subscriptions", create_subscription),
        web.get(f"{prefix}/v1/Subscriptions", list_subscriptions),
        web.get(f"{prefix}/v1/Subscriptions/{{Sid}}", fetch_subscription),
        web.delete(f"{prefix}/v1/Subscriptions/{{Sid}}", delete_subscription),
    ]


def _sandbox(request):
    return request.app["sandbox"]


def _base(request) -> str:
    return _sandbox(request).base_url(request, "events")


def _owned(request, kind: str) -> dict:
    sandbox = _sandbox(request)
    record = sandbox.store.get(kind, request.match_info["Sid"])
    if record is None or record["account_sid"] != sandbox.account_of(request)["sid"]:
        raise not_found(request.path.removeprefix("/events"))
    return record


# --- sinks -----------------------------------------------------------------------------------


def render_sink(sink: dict, base: str) -> dict:
    url = f"{base}/v1/Sinks/{sink['sid']}"
    return {
        "date_created": iso8601(sink["date_created"]),
        "date_updated": iso8601(sink["date_updated"]),
        "description": sink["description"],
        "sid": sink["sid"],
        "sink_configuration": sink["sink_configuration"],
        "sink_type": sink["sink_type"],
        "status": sink["status"],
        "url": url,
        "links": {"sink_test": f"{url}/Test", "sink_validate": f"{url}/Validate"},
    }


async def create_sink(request):
    sandbox = _sandbox(request)
    form = Form(await request.post())
    description = form.require("Description")
    sink_type = form.require("SinkType")
    if sink_type not in ("kinesis", "webhook", "segment"):
        raise invalid("SinkType")
    configuration = form.json("SinkConfiguration")
    if not isinstance(configuration, dict):
        raise ApiError(400, 20001, "Missing required parameter SinkConfiguration in the post body")
    if sink_type == "webhook":
        destination = configuration.get("destination") or ""
        if urlsplit(destination).scheme not in ("http", "https"):
            raise invalid("SinkConfiguration", "destination must be an http(s) URL")
        if configuration.get("method", "POST") not in ("GET", "POST"):
            raise invalid("SinkConfiguration", "method must be GET or POST")
    sink = new_record(
        "DG",
        sandbox.account_of(request)["sid"],
        description=description,
        sink_type=sink_type,
        sink_configuration=configuration,
        # Webhook sinks need no validation round; other kinds are only stored here.
        status="active" if sink_type == "webhook" else "initialized",
    )
    sandbox.store.put("sink", sink)
    return json_response(render_sink(sink, _base(request)), status=201)


async def list_sinks(request):
    sandbox = _sandbox(request)
    found = sandbox.store.where("sink", account_sid=sandbox.account_of(request)["sid"])
    if "Status" in request.query:
        found = [s for s in found if s["status"] == request.query["Status"]]
    base = _base(request)
    return v1_page(request, base, "sinks", found, lambda s: render_sink(s, base))


async def fetch_sink(request):
    return json_response(render_sink(_owned(request, "sink"), _base(request)))


async def delete_sink(request):
    sandbox = _sandbox(request)
    sink = _owned(request, "sink")
    for subscription in sandbox.store.where("subscription", sink_sid=sink["sid"]):
        sandbox.store.delete("subscription", subscription["sid"])
    sandbox.store.delete("sink", sink["sid"])
    return web.Response(status=204)


# --- subscriptions ---------------------------------------------------------------------------


def render_subscription(subscription: dict, base: str) -> dict:
    url = f"{base}/v1/Subscriptions/{subscription['sid']}"
    return {
        "account_sid": subscription["account_sid"],
        "sid": subscription["sid"],
        "date_created": iso8601(subscription["date_created"]),
        "date_updated": iso8601(subscription["date_updated"]),
        "description": subscription["description"],
        "sink_sid": subscription["sink_sid"],
        "url": url,
        "links": {"subscribed_events": f"{url}/SubscribedEvents"},
        "receive_events_from_subaccounts": False,
    }


async def create_subscription(request):
    sandbox = _sandbox(request)
    account = sandbox.account_of(request)
    form = Form(await request.post())
    description = form.require("Description")
    sink = sandbox.store.get("sink", form.require("SinkSid"))
    if sink is None or sink["account_sid"] != account["sid"]:
        raise ApiError(400, 20001, "Invalid SinkSid: no such sink in this account")
    if sink["status"] != "active":
        raise ApiError(400, 20001, "The sink must be active before it can be subscribed to")
    types = []
    for raw in form.getall("Types"):
        try:
            item = json.loads(raw)
        except ValueError:
            raise invalid("Types", "each item is a JSON object") from None
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise invalid("Types", 'each item needs a "type"')
        types.append({"type": item["type"], "schema_version": int(item.get("schema_version", 1))})
    if not types:
        raise ApiError(400, 20001, "Missing required parameter Types in the post body")
    subscription = new_record(
        "DF", account["sid"], description=description, sink_sid=sink["sid"], types=types
    )
    sandbox.store.put("subscription", subscription)
    return json_response(render_subscription(subscription, _base(request)), status=201)


async def list_subscriptions(request):
    sandbox = _sandbox(request)
    found = sandbox.store.where("subscription", account_sid=sandbox.account_of(request)["sid"])
    if "SinkSid" in request.query:
        found = [s for s in found if s["sink_sid"] == request.query["SinkSid"]]
    base = _base(request)
    return v1_page(request, base, "subscriptions", found, lambda s: render_subscription(s, base))


async def fetch_subscription(request):
    return json_response(render_subscription(_owned(request, "subscription"), _base(request)))


async def delete_subscription(request):
    sandbox = _sandbox(request)
    sandbox.store.delete("subscription", _owned(request, "subscription")["sid"])
    return web.Response(status=204)


# --- delivery --------------------------------------------------------------------------------


def cloud_event(event_type: str, source: str, data: dict) -> dict:
    short = event_type.rsplit(".", 1)[-1]
    return {
        "specversion": "1.0",
        "type": event_type,
        "source": source,
        "id": new_sid("EZ"),
        "dataschema": f"https://events-schemas.twilio.com/{DATA_SCHEMAS.get(short, short)}/1",
        "datacontenttype": "application/json",
        "time": iso8601(now()),
        "data": data,
    }


def signed_json_delivery(destination: str, body: str) -> str:
    """The URL a JSON webhook goes to: the destination plus the body's hash."""
    digest = hashlib.sha256(body.encode()).hexdigest()
    return f"{destination}{'&' if '?' in destination else '?'}bodySHA256={digest}"


class EventStreams:
    """Publishes events to every sink of the account subscribed to their type."""

    def __init__(self, sandbox):
        self.sandbox = sandbox

    def publish(self, account_sid: str, event_type: str, source: str, data: dict) -> int:
        """Queue ``event_type`` for each subscribed webhook sink; how many got it."""
        store = self.sandbox.store
        sent = 0
        for subscription in store.where("subscription", account_sid=account_sid):
            if not any(item["type"] == event_type for item in subscription["types"]):
                continue
            sink = store.get("sink", subscription["sink_sid"])
            if sink is None or sink["sink_type"] != "webhook" or sink["status"] != "active":
                continue
            body = json.dumps([cloud_event(event_type, source, data)], separators=(",", ":"))
            destination = sink["sink_configuration"]["destination"]
            self.sandbox.callbacks.enqueue_json(
                signed_json_delivery(destination, body), body, account_sid
            )
            self.sandbox.stats["events_published"] += 1
            sent += 1
        return sent

    # --- A2P events (twilio-a2p.md §1.1) -------------------------------------------------

    def brand_changed(self, brand: dict) -> None:
        data = {
            "accountsid": brand["account_sid"],
            "brandsid": brand["sid"],
            "createddate": int(brand["date_created"] * 1000),
            "updateddate": int(brand["date_updated"] * 1000),
        }
        source = f"/v1/a2p/BrandRegistrations/{brand['sid']}"
        if brand["status"] == "APPROVED":
            self.publish(
                brand["account_sid"],
                BRAND_EVENT + "brand-registered",
                source,
                {**data, "brandstatus": "registered"},
            )
            if brand.get("brand_score"):
                self.publish(
                    brand["account_sid"],
                    BRAND_EVENT + "brand-vetted-verified",
                    source,
                    {**data, "identitystatus": "vetted_verified",
                     "brandscore": brand["brand_score"]},
                )  # fmt: skip
        elif brand["status"] == "FAILED":
            errors = [
                {
                    "registrationerrorcode": error["code"],
                    "registrationerrordescription": error.get("description", ""),
                    "registrationerrorurl": f"https://www.twilio.com/docs/api/errors/{error['code']}",
                    "registrationerrorfields": error.get("fields", []),
                }
                for error in brand["errors"] or []
            ]
            self.publish(
                brand["account_sid"],
                BRAND_EVENT + "brand-failure",
                source,
                {**data, "brandstatus": "registration_failed", "brandregistrationerrors": errors},
            )

    def campaign_changed(self, campaign: dict) -> None:
        status = {
            "IN_PROGRESS": ("campaign-submitted", "pending"),
            "VERIFIED": ("campaign-approved", "success"),
            "FAILED": ("campaign-failure", "failure"),
        }.get(campaign["campaign_status"])
        if status is None:
            return
        name, registration_status = status
        self.publish(
            campaign["account_sid"],
            CAMPAIGN_EVENT + name,
            f"/v1/Services/{campaign['messaging_service_sid']}/Compliance/Usa2p/{campaign['sid']}",
            {
                "accountsid": campaign["account_sid"],
                "brandsid": campaign["brand_registration_sid"],
                "campaignsid": campaign["sid"],
                "messagingservicesid": campaign["messaging_service_sid"],
                "campaignregistrationstatus": registration_status,
                "createddate": int(campaign["date_created"] * 1000),
                "updateddate": int(campaign["date_updated"] * 1000),
            },
        )
