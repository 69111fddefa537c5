"""The local side of a job submission: the code folder as a zip (without what .amlignore or .gitignore
leaves out, as Azure ML's snapshots), and local input folders as zips.

Zips are written to temporary files, so a large folder never sits in memory.
"""

import os
import re
import tempfile
import zipfile
from pathlib import Path

from .errors import CliError

IGNORE_FILES = (".amlignore", ".gitignore")  # the first one found in the folder is used, as Azure ML does


class IgnoreRules:
    """The patterns of a .gitignore-style file: `#` comments, `!` to re-include, a trailing `/` for folders
    only, a `/` inside anchoring to the folder, `*`, `?`, `[...]` and `**`. The last matching rule wins."""

    def __init__(self, lines: list[str]):
        self.rules: list[tuple[re.Pattern, bool, bool]] = []  # (regex, negated, folders only)
        for line in lines:
            line = line.rstrip("\n").rstrip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            if negated:
                line = line[1:]
            if line.startswith("\\"):
                line = line[1:]
            folder_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line  # a slash at the start or inside anchors it to the folder
            line = line.lstrip("/")
            if not line:
                continue
            body = _glob_to_regex(line)
            pattern = f"^{body}$" if anchored else f"^(?:.*/)?{body}$"
            self.rules.append((re.compile(pattern), negated, folder_only))

    @classmethod
    def for_folder(cls, folder: Path) -> "IgnoreRules":
        for name in IGNORE_FILES:
            path = folder / name
            if path.is_file():
                return cls(path.read_text(encoding="utf-8", errors="replace").splitlines())
        return cls([])

    def ignored(self, relative: str, *, is_folder: bool) -> bool:
        result = False
        for regex, negated, folder_only in self.rules:
            if folder_only and not is_folder:
                continue
            if regex.match(relative):
                result = not negated
        return result


def _glob_to_regex(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
                i += 1
            else:
                inner = glob[i + 1 : end].replace("\\", "\\\\")
                out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
                i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def snapshot_files(folder: Path) -> list[tuple[Path, str]]:
    """(file, path relative to `folder`) for every file the snapshot takes, sorted."""
    rules = IgnoreRules.for_folder(folder)
    found = []
    for root, subfolders, names in os.walk(folder):
        base = Path(root).relative_to(folder).as_posix()
        base = "" if base == "." else base + "/"
        subfolders[:] = sorted(d for d in subfolders if not rules.ignored(base + d, is_folder=True))
        for name in sorted(names):
            path = Path(root, name)
            if path.is_file() and not rules.ignored(base + name, is_folder=False):
                found.append((path, base + name))
    return sorted(found, key=lambda item: item[1])


def zip_folder(folder: Path, *, ignore_rules: bool) -> tempfile.SpooledTemporaryFile:
    """A zip of the folder's contents (paths relative to it), rewound, in a temporary file."""
    if folder.is_file():
        files = [(folder, folder.name)]
    elif ignore_rules:
        files = snapshot_files(folder)
    else:
        files = [(p, p.relative_to(folder).as_posix()) for p in sorted(folder.rglob("*")) if p.is_file()]
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    try:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path, relative in files:
                archive.write(path, relative)
    except OSError as exc:
        spool.close()
        raise CliError(f"Cannot read {folder}: {exc}")
    spool.seek(0)
    return spool
