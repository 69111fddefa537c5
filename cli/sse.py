"""Server-Sent Events, read as the browser's EventSource reads them (the HTML living standard's rules)."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    event: str
    data: str
    id: str | None  # the last event ID when this event was dispatched


def parse_events(lines: Iterable[str]) -> Iterator[Event]:
    """Events from the stream's lines (without their line breaks). `data:` lines are joined with "\\n";
    comments (`: keep-alive`) and `retry:` are skipped; an event is dispatched at a blank line."""
    event_type, data, last_id = "", [], None
    for line in lines:
        if line == "":
            if data:
                yield Event(event_type or "message", "\n".join(data), last_id)
            event_type, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            event_type = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\x00" not in value:
            last_id = value
