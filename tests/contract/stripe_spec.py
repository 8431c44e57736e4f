"""Stripe's official OpenAPI spec (API version 2024-04-10) as an openapi-core validator, and the
check of journaled sandbox exchanges against it.

openapi-core does all the validating (path, method, security, required parameters, types,
enums, response schemas). The one thing it cannot read is Stripe's nested bracket encoding
(``line_items[0][price]=...``, ``expand[0]=...``): its deepObject support stops at one level.
So the form body and query string are decoded into the nested structure first (the same decoder
the sandbox uses), and openapi-core's "form" and "deepObject" styles are told to take each
parameter from that structure; its casters then turn the strings into the spec's types before
its schema validator runs.
"""

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from openapi_core import Config, OpenAPI
from openapi_core.casting.schemas import oas30_read_schema_casters_factory
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.media_types import media_type_deserializers
from openapi_core.deserializing.media_types.deserializers import MediaTypeDeserializer
from openapi_core.deserializing.media_types.factories import MediaTypeDeserializersFactory
from openapi_core.deserializing.styles import StyleDeserializersFactory, style_deserializers
from openapi_core.validation.schemas import oas30_read_schema_validators_factory
from werkzeug.datastructures import Headers, ImmutableMultiDict

from smsplatform.sandboxes.stripe.forms import decode_form

ROOT = Path(__file__).resolve().parents[2]
SPEC_VERSION = "2024-04-10"
SPEC_NAME = "specs/stripe/stripe_api_2024-04-10.json"


def spec_path() -> Path:
    """shared/ sits beside a clone (CI, /work/main) or two levels above a worktree."""
    if os.environ.get("STRIPE_OPENAPI_SPEC"):
        return Path(os.environ["STRIPE_OPENAPI_SPEC"])
    candidates = [ROOT.parent / "shared" / SPEC_NAME, ROOT.parent.parent / "shared" / SPEC_NAME]
    return next((path for path in candidates if path.exists()), candidates[0])


API_HOST = "https://api.stripe.com"
FORM = "application/x-www-form-urlencoded"


def _from_nested(explode, name, schema_type, location):
    # ``location`` is already the decoded nested structure: the parameter is simply its key.
    return location[name]


class _NestedFormDeserializer(MediaTypeDeserializer):
    """A Stripe form body, decoded whole and cast by the schema. (openapi-core's own form
    decoding keeps only the properties the schema names, so an unknown parameter would never
    reach the validator's ``additionalProperties: false``.)"""

    def deserialize(self, value: bytes):
        if self.mimetype != FORM or self.schema is None:
            return super().deserialize(value)
        data = decode_form(value)
        return self.schema_caster.cast(data) if self.schema_caster is not None else data


class _NestedFormDeserializersFactory(MediaTypeDeserializersFactory):
    def create(self, *args, **kwargs):
        deserializer = super().create(*args, **kwargs)
        deserializer.__class__ = _NestedFormDeserializer  # same state, the method above
        return deserializer


_NULL_ONLY = {"type": "string", "nullable": True, "enum": [None]}
_STRING_LAST = {"integer": 0, "number": 1, "boolean": 2}


def _read_as_stripe_means_it(node):
    """Three readings of Stripe's spec that its authors intended and today's validators do not
    make on their own, applied to the loaded spec (nothing is relaxed):

    - ``{"anyOf": [...], "nullable": true}`` with no ``type`` means "this or null" (OpenAPI
      3.0.0); OpenAPI 3.0.3 validators ignore such a ``nullable``: add null as an alternative.
    - ``{"type": "string", "enum": [...], "nullable": true}`` allows null too: add it to enum.
    - Form values arrive as strings and openapi-core casts a value for ``anyOf`` with the first
      alternative that accepts it, so ``up_to=10`` stayed the string "10" under
      ``anyOf: [{"enum": ["inf"]}, {"type": "integer"}]``: try typed alternatives first.
    """
    if isinstance(node, dict):
        if node.get("nullable"):
            if "type" not in node:
                for keyword in ("anyOf", "oneOf"):
                    if keyword in node:
                        node[keyword] = [*node[keyword], _NULL_ONLY]
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        for keyword in ("anyOf", "oneOf"):
            if isinstance(node.get(keyword), list):
                node[keyword] = sorted(
                    node[keyword],
                    key=lambda alt: (
                        _STRING_LAST.get(alt.get("type"), 9) if isinstance(alt, dict) else 9
                    ),
                )
        for value in node.values():
            _read_as_stripe_means_it(value)
    elif isinstance(node, list):
        for value in node:
            _read_as_stripe_means_it(value)


@functools.cache
def stripe_openapi() -> OpenAPI:
    """Loaded once per process (about half a second): validating the 6 MB spec itself is
    skipped, the validators for each operation are built lazily by openapi-core."""
    spec = json.loads(spec_path().read_text())
    _read_as_stripe_means_it(spec)
    styles = {**style_deserializers, "form": _from_nested, "deepObject": _from_nested}
    style_factory = StyleDeserializersFactory(
        oas30_read_schema_casters_factory, style_deserializers=styles
    )
    config = Config(
        spec_validator_cls=None,
        style_deserializers_factory=style_factory,
        media_type_deserializers_factory=_NestedFormDeserializersFactory(
            style_factory, media_type_deserializers=media_type_deserializers
        ),
        # Stripe's own format for Unix timestamps; the integer type is what is checked.
        extra_format_validators={"unix-time": lambda value: isinstance(value, int)},
        extra_format_unmarshallers={"unix-time": int},
    )
    return OpenAPI.from_dict(spec, config=config)


@dataclass
class JournaledRequest:
    """One request the sandbox received, in the shape openapi-core reads."""

    method: str
    path: str
    query: str
    body_text: str
    content_type: str
    authorization: str
    host_url: str = API_HOST
    parameters: RequestParameters = field(init=False)

    def __post_init__(self):
        self.method = self.method.lower()
        header = {"Authorization": f"{self.authorization} x"} if self.authorization else {}
        self.parameters = RequestParameters(
            query=decode_form(self.query),
            header=Headers(header),
            cookie=ImmutableMultiDict(),
            path={},
        )

    @property
    def body(self) -> bytes | None:
        return self.body_text.encode() if self.method in ("post", "put") else None

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


@dataclass
class JournaledResponse:
    status_code: int
    text: str
    content_type: str = "application/json"
    headers: Headers = field(default_factory=Headers)

    @property
    def data(self) -> bytes:
        return self.text.encode()


def problems_in(entry: dict) -> list[str]:
    """What the spec says is wrong with one journaled exchange (empty when it conforms)."""
    openapi = stripe_openapi()
    request = JournaledRequest(
        method=entry["method"],
        path=entry["path"],
        query=entry["query"],
        body_text=entry["body"],
        content_type=(entry["content_type"] or "").split(";")[0] or FORM,
        authorization=entry["authorization"],
    )
    response = JournaledResponse(status_code=entry["status"], text=entry["response"])
    where = f"{entry['method']} {entry['path']}"
    found = []
    if entry.get("stripe_version") not in (None, SPEC_VERSION):
        found.append(
            f"{where}: sent Stripe-Version {entry['stripe_version']}, the spec is {SPEC_VERSION}"
        )
    result = openapi.unmarshal_request(request)
    for error in result.errors:
        found.append(f"{where}: request: {_describe(error)}")
    result = openapi.unmarshal_response(request, response)
    for error in result.errors:
        found.append(f"{where} -> {entry['status']}: response: {_describe(error)}")
    return found


def event_problems(event: dict) -> list[str]:
    """What the spec says is wrong with a webhook event: the ``event`` object itself and its
    ``data.object`` against the schema of that object's type (``customer``, ``invoice``...)."""
    openapi = stripe_openapi()
    schemas = openapi.spec / "components" / "schemas"
    found = []
    targets = [("event", event)]
    inner = (event.get("data") or {}).get("object") or {}
    kind = inner.get("object")
    if kind not in schemas:
        found.append(f"{event.get('type')}: data.object has an unknown type {kind!r}")
    else:
        targets.append((kind, inner))
    for name, value in targets:
        validator = oas30_read_schema_validators_factory.create(
            openapi.spec,
            schemas / name,
            extra_format_validators={"unix-time": lambda v: isinstance(v, int)},
        )
        try:
            validator.validate(value)
        except Exception as error:  # openapi-core's InvalidSchemaValue, with the details
            found.append(f"{event.get('type')} ({name}): {_describe(error)}")
    return found


def _describe(error) -> str:
    """The error and, for schema mismatches, where in the document each one is (the values
    themselves can be whole objects: shortened)."""
    details = [f"{type(error).__name__}: {_short(str(error))}".rstrip(": ")]
    cause = error if getattr(error, "schema_errors", None) else error.__cause__
    while cause is not None:
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            for schema_error in list(schema_errors)[:8]:
                for leaf in _leaves(schema_error):
                    where = "/".join(str(part) for part in leaf.absolute_path) or "<root>"
                    details.append(f"{where}: {_short(leaf.message)}")
        else:
            details.append(_short(str(cause)))
        cause = cause.__cause__
    return " | ".join(dict.fromkeys(details))


def _leaves(schema_error):
    """The innermost errors of an anyOf/oneOf mismatch: they say what is actually wrong."""
    if not schema_error.context:
        return [schema_error]
    return [leaf for child in schema_error.context for leaf in _leaves(child)][:6]


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
