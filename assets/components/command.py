"""A command component's `command`: its `${{inputs.x}}` / `${{outputs.y}}` bindings (checked against
the declared interface) and its optional `$[[ ... ]]` parts (left out when the inputs inside are
not given), split into tokens the detail page highlights without ever emitting user markup."""

import re
from dataclasses import dataclass

BINDING = re.compile(r"\$\{\{\s*(?P<expr>[^{}]*?)\s*\}\}")
_TOKENS = re.compile(r"\$\[\[|\]\]|\$\{\{\s*[^{}]*?\s*\}\}")


@dataclass(frozen=True)
class BindingProblem:
    binding: str  # as written, e.g. "${{inputs.epochs}}"
    message: str


def binding_problems(command: str, *, inputs: dict, outputs: dict) -> list[BindingProblem]:
    """Every binding that names no declared input or output (or is not an input/output binding)."""
    problems = []
    declared = {"inputs": list(inputs or {}), "outputs": list(outputs or {})}
    for match in BINDING.finditer(command or ""):
        parts = match["expr"].split(".")
        kind = parts[0]
        if kind in declared and len(parts) == 2 and parts[1] in declared[kind]:
            continue
        if kind in declared and len(parts) == 2:
            names = ", ".join(declared[kind]) or "none"
            message = f"{match[0]} names no declared {kind[:-1]} (declared {kind}: {names})"
        else:
            message = f"{match[0]} is not a binding a command can use; write ${{{{inputs.<name>}}}} or ${{{{outputs.<name>}}}}"
        problems.append(BindingProblem(binding=match[0], message=message))
    return problems


def command_tokens(command: str) -> list[dict]:
    """[{text, css}] covering the whole command: plain text, bindings and optional parts, so a
    template can wrap each in a <span> and let autoescaping handle the text."""
    tokens: list[dict] = []
    depth = 0
    position = 0

    def plain(text: str) -> None:
        if text:
            tokens.append({"text": text, "css": "opt" if depth else ""})

    for match in _TOKENS.finditer(command or ""):
        plain(command[position : match.start()])
        text = match[0]
        if text == "$[[":
            depth += 1
            tokens.append({"text": text, "css": "opt-mark"})
        elif text == "]]":
            if depth:
                tokens.append({"text": text, "css": "opt-mark"})
                depth -= 1
            else:
                plain(text)
        else:
            kind = BINDING.match(text)["expr"].split(".")[0]
            css = f"binding binding-{kind}" if kind in ("inputs", "outputs") else "binding"
            tokens.append({"text": text, "css": css + (" opt" if depth else "")})
        position = match.end()
    plain(command[position:] if command else "")
    return tokens
