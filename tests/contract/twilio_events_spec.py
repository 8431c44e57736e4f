"""The part of Twilio's Event Streams API (events.twilio.com v1) the platform uses: sinks and
subscriptions. ``shared/specs/twilio`` holds no Events spec, so this OpenAPI document is written
here from Twilio's Sink and Subscription resource reference (field names, types, SID patterns,
enums). When the official ``twilio_events_v1.json`` joins the shared specs it takes precedence
(tests/contract/twilio_spec.py)."""

STRING = {"type": "string"}
NULLABLE_STRING = {"type": "string", "nullable": True}
DATE_TIME = {"type": "string", "format": "date-time", "nullable": True}
URI = {"type": "string", "format": "uri", "nullable": True}
URI_MAP = {"type": "object", "format": "uri-map", "nullable": True}
SINK_SID = {"type": "string", "minLength": 34, "maxLength": 34, "pattern": "^DG[0-9a-fA-F]{32}$"}
SUBSCRIPTION_SID = {**SINK_SID, "pattern": "^DF[0-9a-fA-F]{32}$"}
ACCOUNT_SID = {**SINK_SID, "pattern": "^AC[0-9a-fA-F]{32}$"}

SINK = {
    "type": "object",
    "properties": {
        "date_created": DATE_TIME,
        "date_updated": DATE_TIME,
        "description": NULLABLE_STRING,
        "sid": {**SINK_SID, "nullable": True},
        "sink_configuration": {"nullable": True},
        "sink_type": {
            "type": "string",
            "enum": ["kinesis", "webhook", "segment"],
            "nullable": True,
        },
        "status": {
            "type": "string",
            "enum": ["initialized", "validating", "active", "failed"],
            "nullable": True,
        },
        "url": URI,
        "links": URI_MAP,
    },
}
SUBSCRIPTION = {
    "type": "object",
    "properties": {
        "account_sid": {**ACCOUNT_SID, "nullable": True},
        "sid": {**SUBSCRIPTION_SID, "nullable": True},
        "date_created": DATE_TIME,
        "date_updated": DATE_TIME,
        "description": NULLABLE_STRING,
        "sink_sid": {**SINK_SID, "nullable": True},
        "url": URI,
        "links": URI_MAP,
        "receive_events_from_subaccounts": {"type": "boolean", "nullable": True},
    },
}
META = {
    "type": "object",
    "properties": {
        "first_page_url": {"type": "string", "format": "uri"},
        "key": STRING,
        "next_page_url": {"type": "string", "format": "uri", "nullable": True},
        "page": {"type": "integer"},
        "page_size": {"type": "integer"},
        "previous_page_url": {"type": "string", "format": "uri", "nullable": True},
        "url": {"type": "string", "format": "uri"},
    },
}
PAGING = [
    {
        "name": "PageSize",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
    {"name": "Page", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "PageToken", "in": "query", "schema": STRING},
]
SID_PARAMETER = {"name": "Sid", "in": "path", "required": True, "schema": STRING}
FORM = "application/x-www-form-urlencoded"
SECURITY = [{"accountSid_authToken": []}]


def _json(schema, status="200"):
    return {status: {"description": "OK", "content": {"application/json": {"schema": schema}}}}


def _form(properties, required):
    return {
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": False,
                }
            }
        }
    }


def _page(key, item):
    return {"type": "object", "properties": {key: {"type": "array", "items": item}, "meta": META}}


EVENTS_V1 = {
    "openapi": "3.0.1",
    "info": {"title": "Twilio - Events (the sinks and subscriptions subset)", "version": "1.0.0"},
    "servers": [{"url": "https://events.twilio.com"}],
    "components": {
        "securitySchemes": {"accountSid_authToken": {"type": "http", "scheme": "basic"}}
    },
    "security": SECURITY,
    "paths": {
        "/v1/Sinks": {
            "post": {
                "operationId": "CreateSink",
                "requestBody": _form(
                    {
                        "Description": STRING,
                        "SinkConfiguration": {},
                        "SinkType": {"type": "string", "enum": ["kinesis", "webhook", "segment"]},
                    },
                    ["Description", "SinkConfiguration", "SinkType"],
                ),
                "responses": _json(SINK, "201"),
            },
            "get": {
                "operationId": "ListSink",
                "parameters": [
                    {"name": "InUse", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "Status", "in": "query", "schema": STRING},
                    *PAGING,
                ],
                "responses": _json(_page("sinks", SINK)),
            },
        },
        "/v1/Sinks/{Sid}": {
            "get": {
                "operationId": "FetchSink",
                "parameters": [SID_PARAMETER],
                "responses": _json(SINK),
            },
            "delete": {
                "operationId": "DeleteSink",
                "parameters": [SID_PARAMETER],
                "responses": {"204": {"description": "The resource was deleted successfully."}},
            },
        },
        "/v1/Subscriptions": {
            "post": {
                "operationId": "CreateSubscription",
                "requestBody": _form(
                    {
                        "Description": STRING,
                        "SinkSid": SINK_SID,
                        "Types": {"type": "array", "items": {}},
                    },
                    ["Description", "SinkSid", "Types"],
                ),
                "responses": _json(SUBSCRIPTION, "201"),
            },
            "get": {
                "operationId": "ListSubscription",
                "parameters": [{"name": "SinkSid", "in": "query", "schema": SINK_SID}, *PAGING],
                "responses": _json(_page("subscriptions", SUBSCRIPTION)),
            },
        },
        "/v1/Subscriptions/{Sid}": {
            "get": {
                "operationId": "FetchSubscription",
                "parameters": [SID_PARAMETER],
                "responses": _json(SUBSCRIPTION),
            },
            "delete": {
                "operationId": "DeleteSubscription",
                "parameters": [SID_PARAMETER],
                "responses": {"204": {"description": "The resource was deleted successfully."}},
            },
        },
    },
}
