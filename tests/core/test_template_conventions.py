"""Conventions every page keeps: one date format, no words broken mid-way by CSS."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))


def test_dates_are_shown_in_one_format():
    """A date reads "Dec 3, 2026 14:32" everywhere (its ISO form in a title or datetime attribute)."""
    formats = {
        (path.relative_to(ROOT).as_posix(), fmt)
        for path in TEMPLATES
        for fmt in re.findall(r"\|date:[\"']([^\"']*)[\"']", path.read_text())
        if fmt not in ("M j, Y H:i", "c")
    }
    relative = [path.name for path in TEMPLATES if "|naturaltime" in path.read_text()]
    assert formats == set() and relative == []


def test_no_stylesheet_breaks_words_anywhere():
    """`word-break: break-all` cuts `uri_file` into `uri_fil`/`e` even where it would fit on the next
    line, and `overflow-wrap: anywhere` (or `word-break: break-word`) lets a table squeeze a column
    below its longest word; `overflow-wrap: break-word` breaks only what is wider than its box."""
    offenders = [
        p.name
        for p in (ROOT / "static" / "css").glob("*.css")
        if re.search(r"break-all|overflow-wrap:\s*anywhere|word-break:\s*break-word", p.read_text())
    ]
    assert offenders == []


def test_page_scripts_share_one_copy_of_their_helpers_and_hang_nothing_else_on_window():
    scripts = {p.name: p.read_text() for p in (ROOT / "static" / "js").glob("*.js")}
    for helper in ("csrfToken", "humanSize"):
        assert [name for name, text in scripts.items() if f"function {helper}(" in text] == ["studio.js"], helper
    globals_set = {
        (name, match) for name, text in scripts.items() for match in re.findall(r"window\.(\w+)\s*=[^=]", text)
    }
    assert globals_set == {("studio.js", "Studio")}
