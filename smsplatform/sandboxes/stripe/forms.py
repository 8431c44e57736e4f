"""Stripe's form encoding, decoded: ``line_items[0][price]=p&metadata[org]=1&expand[]=x`` becomes
``{"line_items": [{"price": "p"}], "metadata": {"org": "1"}, "expand": ["x"]}``.

Values stay strings, as on the wire; whoever reads them knows the type (the sandbox's handlers,
or openapi-core's casters in the contract tests). Shared by the sandbox and the contract tests.
"""

import re
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormDecodeError(ValueError):
    """A form body Stripe's API would refuse (answered 400, as Stripe does)."""


def decode_form(raw: str | bytes) -> dict:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return decode_pairs(parse_qsl(raw, keep_blank_values=True))


def decode_pairs(pairs) -> dict:
    root: dict = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise FormDecodeError(f"Invalid parameter name: {key}")
        path = [match.group(1), *_SEGMENT.findall(match.group(2))]
        node = root
        for index, segment in enumerate(path[:-1]):
            following = path[index + 1]
            child = node.get(segment)
            if child is None:
                child = [] if following == "" else {}
                node[segment] = child
            if isinstance(child, list):
                if following != "" or index + 1 != len(path) - 1:
                    raise FormDecodeError(f"Invalid array parameter: {key}")
                child.append(value)
                break
            if not isinstance(child, dict):
                raise FormDecodeError(f"Conflicting parameter: {key}")
            node = child
        else:
            last = path[-1]
            if last in node:
                raise FormDecodeError(f"Parameter given twice: {key}")
            node[last] = value
    return _lists_from_indexed_dicts(root)


def _lists_from_indexed_dicts(value):
    """``{"0": a, "1": b}`` is how Stripe encodes an array of objects: turn it into ``[a, b]``."""
    if isinstance(value, list):
        return [_lists_from_indexed_dicts(item) for item in value]
    if not isinstance(value, dict):
        return value
    converted = {key: _lists_from_indexed_dicts(item) for key, item in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted
