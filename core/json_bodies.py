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
    """Whether objects and lists in `value` nest more than `limit` levels (walked level by level,
    without recursion; a log-batch of a thousand metrics is walked in a few list comprehensions)."""
    level = [value] if type(value) in (dict, list) else []
    depth = 0
    while level:
        if depth >= limit:
            return True
        children = [child for item in level for child in (item.values() if type(item) is dict else item)]
        level = [child for child in children if type(child) is dict or type(child) is list]
        depth += 1
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
