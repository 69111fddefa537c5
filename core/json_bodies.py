"""JSON request bodies bounded in depth (SECURITY.md 23): a body nested a thousand levels deep is
a 400 with a clear message, never a RecursionError (a 500) in the parser or in code that walks it.

The REST API parses with `JSONParser` (settings.REST_FRAMEWORK); the MLflow endpoints with `loads`.
"""

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32
TOO_DEEP = f"The request body is nested more than {MAX_DEPTH} levels deep."


class TooDeep(ValueError):
    def __init__(self):
        super().__init__(TOO_DEEP)


def nested_too_deep(value, limit: int = MAX_DEPTH) -> bool:
    """Whether objects and lists in `value` nest more than `limit` levels (walked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def loads(raw: bytes | str):
    """json.loads, raising TooDeep (a ValueError) for a body nested too deep."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise TooDeep from None
    if nested_too_deep(value):
        raise TooDeep
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the depth bound."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if nested_too_deep(value):
            raise ParseError(TOO_DEEP)
        return value
