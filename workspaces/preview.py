"""Previews of datastore files: text as text, CSV as a table. Never rendered as markup."""

import csv
import io
from dataclasses import dataclass, field

from django.core.files.storage import Storage

MAX_PREVIEW_BYTES = 256 * 1024
MAX_ROWS = 50
TEXT_SUFFIXES = {
    ".txt",
    ".log",
    ".md",
    ".json",
    ".yaml",
    ".yml",
    ".py",
    ".sh",
    ".ini",
    ".cfg",
    ".toml",
    ".xml",
    ".html",
    ".htm",
    ".svg",
    ".js",
    ".css",
    ".r",
    ".sql",
    ".ipynb",
    ".jsonl",
    ".mltable",
}
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}


@dataclass
class Preview:
    kind: str  # "table", "text" or "binary"
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    truncated: bool = False
    size: int = 0


def _suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    if name == "mltable":
        return ".mltable"
    return "." + name.rsplit(".", 1)[-1] if "." in name else ""


def preview_file(storage: Storage, path: str) -> Preview:
    size = storage.size(path)
    with storage.open(path, "rb") as handle:
        head = handle.read(MAX_PREVIEW_BYTES)
    truncated = size > len(head)
    suffix = _suffix(path)
    if b"\x00" in head[:8192]:
        return Preview(kind="binary", size=size)
    text = head.decode("utf-8", errors="replace")
    if truncated and "\n" in text:
        text = text[: text.rfind("\n")]
    if suffix in TABLE_SUFFIXES:
        reader = csv.reader(io.StringIO(text), delimiter=TABLE_SUFFIXES[suffix])
        rows = []
        for row in reader:
            rows.append(row)
            if len(rows) > MAX_ROWS:
                break
        if rows:
            return Preview(
                kind="table",
                header=rows[0],
                rows=rows[1 : MAX_ROWS + 1],
                truncated=truncated or len(rows) > MAX_ROWS,
                size=size,
            )
    if suffix in TEXT_SUFFIXES or suffix in TABLE_SUFFIXES or text.isprintable() or _mostly_text(text):
        return Preview(kind="text", text=text, truncated=truncated, size=size)
    return Preview(kind="binary", size=size)


def _mostly_text(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return True
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in sample)
    return printable / len(sample) > 0.95
