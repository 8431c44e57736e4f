"""trusthub.twilio.com (v1): customer profiles and trust products (both "bundles", BU...), end
users, supporting documents, entity assignments and evaluations.

Evaluations check what the A2P policies require (twilio-a2p.md §1) and answer like Twilio, with
results[] naming what is missing or invalid (codes 22214-22219). A submitted bundle is reviewed
after the review delay (reviews.py): approved when its evaluation is compliant.
"""

import re

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

SECONDARY_PROFILE_POLICY = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
A2P_TRUST_PRODUCT_POLICY = "RNb0d4771c2c98518d916a3d4cd70a8f8b"
BUNDLE_STATUSES = ("draft", "pending-review", "in-review", "twilio-rejected", "twilio-approved")
E164 = re.compile(r"^\+[1-9]\d{1,14}$")

# Per bundle type: URL collection, link names, the key of the bundle SID in sub-resources.
BUNDLE_TYPES = {
    "customer_profile": ("CustomerProfiles", "customer_profiles", "customer_profile_sid"),
    "trust_product": ("TrustProducts", "trust_products", "trust_product_sid"),
}


def routes(prefix: str) -> list:
    table = []
    for bundle_type, (collection, _, _) in BUNDLE_TYPES.items():
        base = f"{prefix}/v1/{collection}"
        one = base + "/{BundleSid}"
        table += [
            web.post(base, _with(create_bundle, bundle_type)),
            web.get(base, _with(list_bundles, bundle_type)),
            web.get(one, _with(fetch_bundle, bundle_type)),
            web.post(one, _with(update_bundle, bundle_type)),
            web.post(one + "/EntityAssignments", _with(create_assignment, bundle_type)),
            web.get(one + "/EntityAssignments", _with(list_assignments, bundle_type)),
            web.post(one + "/Evaluations", _with(create_evaluation, bundle_type)),
            web.get(one + "/Evaluations/{Sid}", _with(fetch_evaluation, bundle_type)),
        ]
    table += [
        web.post(f"{prefix}/v1/EndUsers", create_end_user),
        web.get(f"{prefix}/v1/EndUsers", list_end_users),
        web.get(f"{prefix}/v1/EndUsers/{{Sid}}", fetch_end_user),
        web.post(f"{prefix}/v1/EndUsers/{{Sid}}", update_end_user),
        web.post(f"{prefix}/v1/SupportingDocuments", create_document),
        web.get(f"{prefix}/v1/SupportingDocuments", list_documents),
        web.get(f"{prefix}/v1/SupportingDocuments/{{Sid}}", fetch_document),
    ]
    return table


def _with(handler, bundle_type):
    async def bound(request):
        return await handler(request, bundle_type)

    return bound


def _sandbox(request):
    return request.app["sandbox"]


def _base(request) -> str:
    return _sandbox(request).base_url(request, "trusthub")


def _not_found(request):
    return not_found(request.path.removeprefix("/trusthub"))


# --- bundles ---------------------------------------------------------------------------------


def new_bundle(bundle_type, *, account_sid, friendly_name, email, policy_sid, status_callback, sid):
    timestamp = now()
    return {
        "sid": sid,
        "bundle_type": bundle_type,
        "account_sid": account_sid,
        "policy_sid": policy_sid,
        "friendly_name": friendly_name,
        "status": "draft",
        "valid_until": None,
        "email": email,
        "status_callback": status_callback,
        "errors": None,
        "date_created": timestamp,
        "date_updated": timestamp,
    }


def render_bundle(bundle: dict, base: str) -> dict:
    collection, link, _ = BUNDLE_TYPES[bundle["bundle_type"]]
    url = f"{base}/v1/{collection}/{bundle['sid']}"
    return {
        "sid": bundle["sid"],
        "account_sid": bundle["account_sid"],
        "policy_sid": bundle["policy_sid"],
        "friendly_name": bundle["friendly_name"],
        "status": bundle["status"],
        "valid_until": iso8601(bundle["valid_until"]),
        "email": bundle["email"],
        "status_callback": bundle["status_callback"],
        "date_created": iso8601(bundle["date_created"]),
        "date_updated": iso8601(bundle["date_updated"]),
        "url": url,
        "links": {
            f"{link}_entity_assignments": f"{url}/EntityAssignments",
            f"{link}_evaluations": f"{url}/Evaluations",
            f"{link}_channel_endpoint_assignment": f"{url}/ChannelEndpointAssignments",
        },
        "errors": bundle["errors"],
    }


def _bundle(request, bundle_type) -> dict:
    sandbox = _sandbox(request)
    bundle = sandbox.store.get("bundle", request.match_info["BundleSid"])
    if (
        bundle is None
        or bundle["bundle_type"] != bundle_type
        or bundle["account_sid"] != sandbox.account_of(request)["sid"]
    ):
        raise _not_found(request)
    return bundle


async def create_bundle(request, bundle_type):
    sandbox = _sandbox(request)
    form = Form(await request.post())
    policy_sid = form.require("PolicySid")
    if not re.fullmatch(r"RN[0-9a-fA-F]{32}", policy_sid):
        raise invalid("PolicySid")
    bundle = new_bundle(
        bundle_type,
        account_sid=sandbox.account_of(request)["sid"],
        friendly_name=form.require("FriendlyName"),
        email=form.require("Email"),
        policy_sid=policy_sid,
        status_callback=form.get("StatusCallback"),
        sid=new_sid("BU"),
    )
    sandbox.store.put("bundle", bundle)
    return json_response(render_bundle(bundle, _base(request)), status=201)


async def list_bundles(request, bundle_type):
    sandbox = _sandbox(request)
    found = sandbox.store.where(
        "bundle", bundle_type=bundle_type, account_sid=sandbox.account_of(request)["sid"]
    )
    for parameter, field in (
        ("Status", "status"),
        ("FriendlyName", "friendly_name"),
        ("PolicySid", "policy_sid"),
    ):
        if parameter in request.query:
            found = [b for b in found if b[field] == request.query[parameter]]
    base = _base(request)
    return v1_page(request, base, "results", found, lambda b: render_bundle(b, base))


async def fetch_bundle(request, bundle_type):
    return json_response(render_bundle(_bundle(request, bundle_type), _base(request)))


async def update_bundle(request, bundle_type):
    """Edit a bundle, or submit it for review with Status=pending-review."""
    sandbox = _sandbox(request)
    bundle = dict(_bundle(request, bundle_type))
    form = Form(await request.post())
    for name, parameter in (
        ("friendly_name", "FriendlyName"),
        ("email", "Email"),
        ("status_callback", "StatusCallback"),
    ):
        if parameter in form:
            bundle[name] = form.get(parameter)
    status = form.get("Status")
    if status is not None:
        if status not in BUNDLE_STATUSES:
            raise invalid("Status")
        if status != "pending-review":
            raise ApiError(400, 20001, "Status may only be set to pending-review")
        if bundle["status"] not in ("draft", "twilio-rejected"):
            raise ApiError(400, 20001, f"A bundle in status {bundle['status']} cannot be submitted")
        bundle.update(status="pending-review", errors=None)
    bundle["date_updated"] = now()
    sandbox.store.put("bundle", bundle)
    if status == "pending-review":
        sandbox.reviews.bundle_submitted(bundle)
    return json_response(render_bundle(bundle, _base(request)))


# --- assignments -----------------------------------------------------------------------------


def render_assignment(assignment: dict, base: str) -> dict:
    bundle_type = assignment["bundle_type"]
    collection, _, sid_key = BUNDLE_TYPES[bundle_type]
    return {
        "sid": assignment["sid"],
        sid_key: assignment["bundle_sid"],
        "account_sid": assignment["account_sid"],
        "object_sid": assignment["object_sid"],
        "date_created": iso8601(assignment["date_created"]),
        "url": f"{base}/v1/{collection}/{assignment['bundle_sid']}/EntityAssignments/"
        f"{assignment['sid']}",
    }


async def create_assignment(request, bundle_type):
    sandbox = _sandbox(request)
    bundle = _bundle(request, bundle_type)
    form = Form(await request.post())
    object_sid = form.require("ObjectSid")
    account = sandbox.account_of(request)
    kind = {"IT": "end_user", "RD": "document", "BU": "bundle"}.get(object_sid[:2])
    target = sandbox.store.get(kind, object_sid) if kind else None
    if target is None or target["account_sid"] not in sandbox.visible_accounts(account):
        raise ApiError(400, 20001, f"Invalid ObjectSid {object_sid}: no such object")
    if any(
        a["object_sid"] == object_sid
        for a in sandbox.store.where("assignment", bundle_sid=bundle["sid"])
    ):
        raise ApiError(409, 20001, f"{object_sid} is already assigned to {bundle['sid']}")
    assignment = {
        "sid": new_sid("BV"),
        "bundle_type": bundle_type,
        "bundle_sid": bundle["sid"],
        "account_sid": account["sid"],
        "object_sid": object_sid,
        "date_created": now(),
    }
    sandbox.store.put("assignment", assignment)
    return json_response(render_assignment(assignment, _base(request)), status=201)


async def list_assignments(request, bundle_type):
    sandbox = _sandbox(request)
    bundle = _bundle(request, bundle_type)
    found = sandbox.store.where("assignment", bundle_sid=bundle["sid"])
    base = _base(request)
    return v1_page(request, base, "results", found, lambda a: render_assignment(a, base))


# --- evaluations -----------------------------------------------------------------------------


def render_evaluation(evaluation: dict, base: str) -> dict:
    collection, _, sid_key = BUNDLE_TYPES[evaluation["bundle_type"]]
    return {
        "sid": evaluation["sid"],
        "account_sid": evaluation["account_sid"],
        "policy_sid": evaluation["policy_sid"],
        sid_key: evaluation["bundle_sid"],
        "status": evaluation["status"],
        "results": evaluation["results"],
        "date_created": iso8601(evaluation["date_created"]),
        "url": f"{base}/v1/{collection}/{evaluation['bundle_sid']}/Evaluations/{evaluation['sid']}",
    }


async def create_evaluation(request, bundle_type):
    sandbox = _sandbox(request)
    bundle = _bundle(request, bundle_type)
    form = Form(await request.post())
    policy_sid = form.require("PolicySid")
    results = evaluate(sandbox.store, bundle, policy_sid)
    evaluation = {
        "sid": new_sid("EL"),
        "bundle_type": bundle_type,
        "bundle_sid": bundle["sid"],
        "account_sid": bundle["account_sid"],
        "policy_sid": policy_sid,
        "status": "compliant" if all(r["passed"] for r in results) else "noncompliant",
        "results": results,
        "date_created": now(),
    }
    sandbox.store.put("evaluation", evaluation)
    return json_response(render_evaluation(evaluation, _base(request)), status=201)


async def fetch_evaluation(request, bundle_type):
    sandbox = _sandbox(request)
    bundle = _bundle(request, bundle_type)
    evaluation = sandbox.store.get("evaluation", request.match_info["Sid"])
    if evaluation is None or evaluation["bundle_sid"] != bundle["sid"]:
        raise _not_found(request)
    return json_response(render_evaluation(evaluation, _base(request)))


# What each policy requires: (requirement name, friendly name, object type, required fields).
REQUIREMENTS = {
    SECONDARY_PROFILE_POLICY: [
        (
            "business_info",
            "Business Information",
            "customer_profile_business_information",
            (
                "business_name",
                "business_type",
                "business_industry",
                "business_registration_identifier",
                "business_registration_number",
                "business_regions_of_operation",
                "website_url",
                "business_identity",
            ),
        ),
        (
            "authorized_representative_1",
            "Authorized Representative 1",
            "authorized_representative_1",
            ("first_name", "last_name", "email", "phone_number", "business_title", "job_position"),
        ),
        (
            "business_address_info",
            "Business Address",
            "customer_profile_address",
            ("address_sids",),
        ),
        ("isv_primary_profile", "Primary Customer Profile", "customer_profile", ()),
    ],
    A2P_TRUST_PRODUCT_POLICY: [
        (
            "us_a2p_messaging_profile_information",
            "US A2P Messaging Profile Information",
            "us_a2p_messaging_profile_information",
            ("company_type",),
        ),
        ("customer_profile", "Secondary Customer Profile", "customer_profile", ()),
    ],
}


def evaluate(store, bundle: dict, policy_sid: str) -> list[dict]:
    """Twilio-style evaluation results[] of ``bundle`` against ``policy_sid``."""
    assigned = [
        store.get(kind, a["object_sid"])
        for a in store.where("assignment", bundle_sid=bundle["sid"])
        for kind in ({"IT": "end_user", "RD": "document", "BU": "bundle"}[a["object_sid"][:2]],)
    ]
    assigned = [item for item in assigned if item is not None]
    results = []
    for name, friendly_name, object_type, required in REQUIREMENTS.get(policy_sid, []):
        candidates = [
            item
            for item in assigned
            if item.get("type") == object_type or item.get("bundle_type") == object_type
        ]
        if not candidates:
            results.append(
                _result(
                    name,
                    friendly_name,
                    object_type,
                    error_code=22216 if object_type == "customer_profile_address" else 22214,
                    failure_reason=f"A {friendly_name} is missing. Please add one to the "
                    "regulatory bundle.",
                )
            )
            continue
        item = candidates[0]
        invalid_fields = _invalid_fields(store, item, required)
        if invalid_fields:
            results.append(
                _result(
                    name,
                    friendly_name,
                    object_type,
                    error_code=invalid_fields[0]["error_code"],
                    failure_reason=f"The {friendly_name} is incomplete or invalid.",
                    invalid=invalid_fields,
                )
            )
        else:
            results.append(_result(name, friendly_name, object_type, passed=True))
    return results


def _invalid_fields(store, item: dict, required) -> list[dict]:
    attributes = item.get("attributes") or {}
    problems = []
    for field in required:
        value = attributes.get(field)
        label = field.replace("_", " ").title()
        if value in (None, "", []):
            code = 22219 if field == "address_sids" else 22215
            problems.append(_field(field, label, code, f"The {label} is missing."))
        elif field == "phone_number" and not E164.match(str(value)):
            problems.append(_field(field, label, 22218, "The Phone Number is invalid."))
        elif field == "address_sids":
            sids = value if isinstance(value, list) else [value]
            if not all(store.get("address", sid) for sid in sids):
                problems.append(_field(field, label, 22219, "The Address is not valid."))
    if item.get("type") == "us_a2p_messaging_profile_information" and (
        attributes.get("company_type") == "public"
    ):
        for field in ("stock_exchange", "stock_ticker"):
            if not attributes.get(field):
                label = field.replace("_", " ").title()
                problems.append(_field(field, label, 22215, f"The {label} is missing."))
    return problems


def _field(name, label, code, reason):
    return {
        "friendly_name": label,
        "object_field": name,
        "failure_reason": reason,
        "error_code": code,
    }


def _result(
    name,
    friendly_name,
    object_type,
    *,
    passed=False,
    error_code=None,
    failure_reason="",
    invalid=(),
):
    return {
        "friendly_name": friendly_name,
        "object_type": object_type,
        "passed": passed,
        "failure_reason": None if passed else failure_reason,
        "error_code": None if passed else error_code,
        "valid": [],
        "invalid": list(invalid),
        "requirement_friendly_name": friendly_name,
        "requirement_name": name,
    }


# --- end users and supporting documents -------------------------------------------------------


def render_end_user(end_user: dict, base: str) -> dict:
    return {
        "sid": end_user["sid"],
        "account_sid": end_user["account_sid"],
        "friendly_name": end_user["friendly_name"],
        "type": end_user["type"],
        "attributes": end_user["attributes"],
        "date_created": iso8601(end_user["date_created"]),
        "date_updated": iso8601(end_user["date_updated"]),
        "url": f"{base}/v1/EndUsers/{end_user['sid']}",
    }


def _attributes(form: Form) -> dict:
    attributes = form.json("Attributes", {})
    if not isinstance(attributes, dict):
        raise invalid("Attributes", "expected a JSON object")
    return attributes


async def create_end_user(request):
    sandbox = _sandbox(request)
    form = Form(await request.post())
    end_user = new_record(
        "IT",
        sandbox.account_of(request)["sid"],
        friendly_name=form.require("FriendlyName"),
        type=form.require("Type"),
        attributes=_attributes(form),
    )
    sandbox.store.put("end_user", end_user)
    return json_response(render_end_user(end_user, _base(request)), status=201)


def _owned(request, kind):
    sandbox = _sandbox(request)
    record = sandbox.store.get(kind, request.match_info["Sid"])
    if record is None or record["account_sid"] != sandbox.account_of(request)["sid"]:
        raise _not_found(request)
    return record


async def list_end_users(request):
    sandbox = _sandbox(request)
    found = sandbox.store.where("end_user", account_sid=sandbox.account_of(request)["sid"])
    base = _base(request)
    return v1_page(request, base, "results", found, lambda e: render_end_user(e, base))


async def fetch_end_user(request):
    return json_response(render_end_user(_owned(request, "end_user"), _base(request)))


async def update_end_user(request):
    sandbox = _sandbox(request)
    end_user = dict(_owned(request, "end_user"))
    form = Form(await request.post())
    if "FriendlyName" in form:
        end_user["friendly_name"] = form.get("FriendlyName")
    if "Attributes" in form:
        end_user["attributes"] = _attributes(form)
    end_user["date_updated"] = now()
    sandbox.store.put("end_user", end_user)
    return json_response(render_end_user(end_user, _base(request)))


def render_document(document: dict, base: str) -> dict:
    return {
        "sid": document["sid"],
        "account_sid": document["account_sid"],
        "friendly_name": document["friendly_name"],
        "mime_type": None,
        "status": document["status"],
        "type": document["type"],
        "attributes": document["attributes"],
        "date_created": iso8601(document["date_created"]),
        "date_updated": iso8601(document["date_updated"]),
        "url": f"{base}/v1/SupportingDocuments/{document['sid']}",
    }


async def create_document(request):
    sandbox = _sandbox(request)
    form = Form(await request.post())
    document = new_record(
        "RD",
        sandbox.account_of(request)["sid"],
        friendly_name=form.require("FriendlyName"),
        type=form.require("Type"),
        attributes=_attributes(form),
        status="DRAFT",
    )
    sandbox.store.put("document", document)
    return json_response(render_document(document, _base(request)), status=201)


async def list_documents(request):
    sandbox = _sandbox(request)
    found = sandbox.store.where("document", account_sid=sandbox.account_of(request)["sid"])
    base = _base(request)
    return v1_page(request, base, "results", found, lambda d: render_document(d, base))


async def fetch_document(request):
    return json_response(render_document(_owned(request, "document"), _base(request)))
