"""The import graph, every import counted (inside functions too): apps import only the apps below
them, so no cycle runs between apps, and none runs among the files of one app."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Lowest first: an app may import the apps before it, never one after it.
LAYERS = ["core", "accounts", "workspaces", "assets", "compute", "jobs", "tracking"]
PROJECT = "studio"  # settings, root URLs, ASGI and Celery wiring: may import every app
PACKAGES = [*LAYERS, PROJECT, "cli"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The studio modules `name` imports, anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            # `from package import module` imports that module; `from module import name` the module.
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _app(module: str) -> str:
    return module.split(".")[0]


def test_apps_import_only_the_apps_below_them():
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in _graph().items()
        for target in targets
        if _app(source) in LAYERS
        and (
            _app(target) == PROJECT
            or (_app(target) in LAYERS and LAYERS.index(_app(target)) > LAYERS.index(_app(source)))
        )
    )
    assert upward == []


def test_no_cycle_between_apps():
    apps: dict[str, set[str]] = {}
    for source, targets in _graph().items():
        apps.setdefault(_app(source), set()).update(_app(t) for t in targets if _app(t) != _app(source))
    assert _cycles(apps) == []


def test_no_cycle_among_the_files_of_an_app():
    graph = _graph()
    assert _cycles(graph) == []


def test_the_checker_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    """The walk counts what a checker of top-level imports would miss."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from .b import g\n    return g\n")
    (package / "b.py").write_text("from pkg import a\n\ndef g():\n    return a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    known = {_module_name(p): p for p in package.rglob("*.py")}
    graph = {name: _imports(name, path, known) for name, path in known.items()}
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}
    assert _cycles(graph) == [["pkg.a", "pkg.b"]]
