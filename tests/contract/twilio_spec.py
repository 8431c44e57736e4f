"""Twilio's official OpenAPI specs (shared/specs/twilio), loaded once per session, and the check
of what went over the wire: each request the gateway sent to the Twilio sandbox and each answer
the sandbox gave, validated by openapi-core (path, method, parameters, types, enums, required
fields, and no field the spec does not know).

The sandbox journals every API request (``--journal``); TwilioContract.check() validates the new
entries. Only the gateway's own requests (the SDK's User-Agent) are checked: a test that sends a
deliberately malformed request by hand is not a contract breach.
"""

import copy
import email.utils
import json
import os
import re
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl

import jsonschema
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest, MockResponse

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = {
    "api": "twilio_api_v2010.json",
    "messaging": "twilio_messaging_v1.json",
    "trusthub": "twilio_trusthub_v1.json",
}


def spec_dir() -> Path:
    """shared/specs/twilio next to the checkout (or any folder above it), or TWILIO_SPECS_DIR."""
    if os.environ.get("TWILIO_SPECS_DIR"):
        return Path(os.environ["TWILIO_SPECS_DIR"])
    for folder in ROOT.parents:
        candidate = folder / "shared" / "specs" / "twilio"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("Twilio specs not found: set TWILIO_SPECS_DIR")


def _rfc2822(value) -> bool:
    try:
        return email.utils.parsedate_to_datetime(value) is not None
    except (TypeError, ValueError):
        return False


# Formats Twilio's specs use beyond JSON Schema's own. openapi-core refuses to unmarshal a value
# whose format it does not know, so each gets a check (strict where the format is precise).
TWILIO_FORMATS = {
    "date-time-rfc-2822": _rfc2822,
    "phone-number": lambda value: isinstance(value, str) and value != "",
    "iso-country-code": lambda value: (
        isinstance(value, str) and bool(re.fullmatch(r"[A-Z]{2}", value))
    ),
    "http-method": lambda value: value in ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"),
    "currency": lambda value: isinstance(value, str) and bool(re.fullmatch(r"[A-Z]{3}", value)),
    "uri-map": lambda value: isinstance(value, dict),
    "phone-number-capabilities": lambda value: isinstance(value, dict),
    "endpoint": lambda value: isinstance(value, str),
    "ice-server": lambda value: True,
    "twiml": lambda value: isinstance(value, str),
}

# Twilio's (legacy) error body, which the SDK reads: the specs declare no error answers.
ERROR_BODY = {
    "type": "object",
    "required": ["code", "message", "more_info", "status"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "more_info": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
    },
}


@cache
def specs() -> dict[str, OpenAPI]:
    """One OpenAPI per Twilio domain. The specs are Twilio's own, so validating the specs
    themselves (seconds for 2.7 MB) is skipped."""
    config = Config(
        spec_validator_cls=None,
        extra_format_validators=TWILIO_FORMATS,
        # A field the spec does not know is a mismatch, in our requests and in the sandbox's
        # answers alike.
        additional_properties_default_policy="forbid",
    )
    loaded = {}
    for domain, filename in SPEC_FILES.items():
        with (spec_dir() / filename).open(encoding="utf-8") as spec_file:
            data = _free_form_objects_allowed(json.load(spec_file))
        loaded[domain] = OpenAPI.from_dict(data, config=config)
    loaded["events"] = OpenAPI.from_dict(_events_spec(), config=config)
    return loaded


def _events_spec() -> dict:
    """Twilio's Events spec when the shared specs have it, else the subset written from its
    reference pages (tests/contract/twilio_events_spec.py)."""
    official = spec_dir() / "twilio_events_v1.json"
    if official.exists():
        with official.open(encoding="utf-8") as spec_file:
            return _free_form_objects_allowed(json.load(spec_file))
    from tests.contract.twilio_events_spec import EVENTS_V1

    return _free_form_objects_allowed(copy.deepcopy(EVENTS_V1))


def _free_form_objects_allowed(node):
    """The specs leave some objects free-form (``subresource_uris``, ``links``: type object, no
    properties); under the "forbid" policy above every key of theirs would be a breach. Say
    what the spec means: any key is allowed there. Objects with declared properties stay
    strict."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" not in node:
            node.setdefault("additionalProperties", True)
        for value in node.values():
            _free_form_objects_allowed(value)
    elif isinstance(node, list):
        for value in node:
            _free_form_objects_allowed(value)
    return node


def _problems(errors) -> list[str]:
    found = []
    for error in errors:
        cause = error.__cause__
        details = getattr(cause, "schema_errors", None)
        if details:
            found += [f"{type(error).__name__}: {detail.message}" for detail in details]
        else:
            found.append(f"{type(error).__name__}: {cause or error!r}")
    return found


def check_entry(entry: dict) -> list[str]:
    """The contract breaches in one journal entry (an empty list when it conforms)."""
    app = specs()[entry["domain"]]
    headers = dict(entry["headers"])
    content_type = headers.get("Content-Type", "")
    request = MockRequest(
        entry["host"],
        entry["method"],
        entry["path"],
        args=[tuple(pair) for pair in entry["query"]],
        headers=headers,
        data=entry["body"].encode(),
        content_type=content_type.split(";")[0] if content_type else "",
    )
    label = f"{entry['method']} {entry['path']}"
    problems = [f"{label} request: {p}" for p in _problems(app.unmarshal_request(request).errors)]
    problems += [f"{label} request: {p}" for p in _undeclared_form_fields(app, entry)]
    status = entry["status"]
    if status >= 400:
        try:
            jsonschema.validate(json.loads(entry["response_body"] or "null"), ERROR_BODY)
        except (ValueError, jsonschema.ValidationError) as exc:
            problems.append(f"{label} error answer {status}: {exc}")
        return problems
    response = MockResponse(
        entry["response_body"].encode(),
        status_code=status,
        content_type=entry["response_content_type"],
    )
    result = app.unmarshal_response(request, response)
    problems += [f"{label} answer {status}: {p}" for p in _problems(result.errors)]
    return problems


FORM = "application/x-www-form-urlencoded"


def _undeclared_form_fields(app: OpenAPI, entry: dict) -> list[str]:
    """openapi-core decodes a form body by the schema's properties and silently drops any other
    field, so "additionalProperties: false" never sees them; name them here, from the
    operation openapi-core itself finds."""
    if not entry["body"]:
        return []
    try:
        found = APICallPathFinder(app.spec).find(
            entry["method"].lower(), entry["host"] + entry["path"]
        )
    except PathError:
        return []  # reported by the validation above
    body = found.operation / "requestBody" / "content"
    if FORM not in body:
        return [f"the spec takes no form body for {entry['method']} {entry['path']}"]
    declared = set((body / FORM / "schema" / "properties").keys())
    sent = {name for name, _ in parse_qsl(entry["body"], keep_blank_values=True)}
    return [f"'{name}' is not a parameter of this operation" for name in sorted(sent - declared)]


def from_gateway(entry: dict) -> bool:
    return entry["headers"].get("User-Agent", "").startswith("twilio-python/")


class TwilioContract:
    """Reads the sandbox journal incrementally and validates what is new."""

    def __init__(self, sandbox_url: str, session):
        self.url = sandbox_url
        self.session = session
        self.last_seq = 0
        self.checked: dict[str, int] = {}  # "METHOD /path" (spec template) -> entries checked

    def new_entries(self) -> list[dict]:
        answer = self.session.get(f"{self.url}/sandbox/journal", params={"after": self.last_seq})
        answer.raise_for_status()
        data = answer.json()
        self.last_seq = data["last"]
        return data["entries"]

    def check(self) -> list[str]:
        problems = []
        for entry in self.new_entries():
            if not from_gateway(entry):
                continue
            problems += check_entry(entry)
            key = f"{entry['method']} {_template(entry['path'])}"
            self.checked[key] = self.checked.get(key, 0) + 1
        return problems


def _template(path: str) -> str:
    """/v1/Services/MGabc.../PhoneNumbers -> /v1/Services/{sid}/PhoneNumbers, for counting."""
    return re.sub(r"(?<=/)[A-Z]{2}[0-9a-f]{32}", "{sid}", path)
