"""Twilio's wire format: SIDs, dates, error bodies, list pages and form parameters."""

import json
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


def new_sid(prefix: str) -> str:
    """E.g. SM + 32 lowercase hex digits, as Twilio's SIDs look."""
    return prefix + secrets.token_hex(16)


def now() -> float:
    return datetime.now(UTC).timestamp()


def new_record(prefix: str, account_sid: str, **fields) -> dict:
    """A new resource: its SID, its account, ``fields``, and both dates set to now."""
    timestamp = now()
    return {
        "sid": new_sid(prefix),
        "account_sid": account_sid,
        **fields,
        "date_created": timestamp,
        "date_updated": timestamp,
    }


def rfc2822(timestamp: float | None) -> str | None:
    """api.twilio.com's dates: "Thu, 24 Aug 2023 05:01:45 +0000"."""
    if timestamp is None:
        return None
    return format_datetime(datetime.fromtimestamp(timestamp, UTC).replace(microsecond=0))


def iso8601(timestamp: float | None) -> str | None:
    """messaging/trusthub dates: "2021-01-28T10:45:51Z"."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An error answer, in Twilio's (legacy) error body."""

    def __init__(self, status: int, code: int, message: str, **extra):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": MORE_INFO.format(code=self.code),
            "status": self.status,
            **self.extra,
        }

    def response(self, headers=None) -> web.Response:
        return json_response(self.body(), status=self.status, headers=headers)


def not_found(path: str) -> ApiError:
    return ApiError(404, 20404, f"The requested resource {path} was not found")


def missing(parameter: str) -> ApiError:
    return ApiError(400, 20001, f"Missing required parameter {parameter} in the post body")


def invalid(parameter: str, detail: str = "") -> ApiError:
    return ApiError(400, 20001, f"Invalid parameter {parameter}{': ' + detail if detail else ''}")


def json_response(body, *, status: int = 200, headers=None) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


class Form:
    """A request's form parameters (repeated keys kept), with Twilio's conventions."""

    def __init__(self, multidict):
        self.data = multidict

    def __contains__(self, name):
        return name in self.data

    def get(self, name: str, default=None):
        value = self.data.get(name)
        return default if value is None else value

    def require(self, name: str) -> str:
        value = self.data.get(name)
        if value is None or value == "":
            raise missing(name)
        return value

    def getall(self, name: str) -> list[str]:
        return list(self.data.getall(name, []))

    def boolean(self, name: str, default=None):
        value = self.data.get(name)
        if value is None:
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise invalid(name, "expected true or false")

    def integer(self, name: str, default=None):
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise invalid(name, "expected an integer") from None

    def json(self, name: str, default=None):
        value = self.data.get(name)
        if value is None:
            return default
        try:
            return json.loads(value)
        except ValueError:
            raise invalid(name, "expected a JSON object") from None


def page_params(request, *, default_size: int = 50) -> tuple[int, int]:
    try:
        size = max(1, min(1000, int(request.query.get("PageSize", default_size))))
        page = max(0, int(request.query.get("Page", 0)))
    except ValueError:
        raise invalid("PageSize") from None
    return page, size


def v2010_page(request, key: str, items: list, render) -> web.Response:
    """A list page of api.twilio.com (2010-04-01): items under ``key``, *_page_uri paths."""
    page, size = page_params(request)
    start = page * size
    chunk = items[start : start + size]
    path = request.path.removeprefix(request.app["sandbox"].prefix_of(request))
    query = [(k, v) for k, v in request.query.items() if k not in ("Page", "PageSize", "PageToken")]

    def uri(number):
        params = "&".join(f"{k}={_quote(v)}" for k, v in query)
        return f"{path}?{params + '&' if params else ''}PageSize={size}&Page={number}"

    has_next = start + size < len(items)
    return json_response(
        {
            key: [render(item) for item in chunk],
            "end": start + max(0, len(chunk) - 1),
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) + f"&PageToken=PA{page + 1}" if has_next else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": uri(page),
        }
    )


def v1_page(request, base_url: str, key: str, items: list, render) -> web.Response:
    """A list page of messaging/trusthub v1: items under ``key`` and a ``meta`` object."""
    page, size = page_params(request)
    start = page * size
    chunk = items[start : start + size]
    url = base_url + request.path.removeprefix(request.app["sandbox"].prefix_of(request))
    query = [(k, v) for k, v in request.query.items() if k not in ("Page", "PageSize", "PageToken")]

    def page_url(number):
        params = "".join(f"{k}={_quote(v)}&" for k, v in query)
        return f"{url}?{params}PageSize={size}&Page={number}"

    has_next = start + size < len(items)
    return json_response(
        {
            key: [render(item) for item in chunk],
            "meta": {
                "page": page,
                "page_size": size,
                "first_page_url": page_url(0),
                "previous_page_url": page_url(page - 1) if page > 0 else None,
                "url": page_url(page),
                "next_page_url": page_url(page + 1) + f"&PageToken=PA{page + 1}"
                if has_next
                else None,
                "key": key,
            },
        }
    )


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
