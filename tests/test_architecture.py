"""The house's rules, checked: no import cycle among the project's modules (imports inside
functions count too), every job is installed, resources hold no SQL and rules never read
Flask request state, and the models match the migrations on both databases."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("backend", "mall", "jobs", "scenarios_adapters", "config")


def _modules() -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def _imports(path: Path, name: str) -> list[str]:
    """Every module name an import statement anywhere in the file (functions too) names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found += [base] + [f"{base}.{a.name}" for a in node.names]
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()

    def resolve(target: str) -> str | None:
        while target and target not in mods:
            target = target.rpartition(".")[0]
        return target or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for target in _imports(path, name):
            resolved = resolve(target)
            if resolved and resolved != name:
                graph[name].add(resolved)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


@pytest.mark.sqlite
def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.sqlite
def test_no_import_cycle_among_the_projects_modules():
    graph = _graph()
    assert "backend.app" in graph and "jobs.runner" in graph
    assert _cycles(graph) == []


@pytest.mark.sqlite
def test_every_job_function_is_installed(app):
    """A `@job` function missing from `backend.schedule.EVERY_JOB` could be enqueued and
    never run: find every decorated function in the code and check it is installed."""
    import importlib
    import inspect

    from jobs import registry_of

    declared = set()
    for name, path in _modules().items():
        if "@job(" not in path.read_text(encoding="utf-8"):
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if not inspect.isfunction(value):
                continue
            spec = getattr(value, "job", None)
            if spec is not None and spec.func is value:
                declared.add(spec.name)
    assert declared, "found no job at all"
    assert declared == set(registry_of(app).by_name)


@pytest.mark.sqlite
def test_resources_hold_http_only_and_rules_never_read_request_state():
    """Resources import neither SQLAlchemy nor the session (no SQL in them); rules and
    models never import Flask's request state."""
    offenders = []
    for name, path in _modules().items():
        source = path.read_text(encoding="utf-8")
        if name.endswith(".resources"):
            for target in _imports(path, name):
                if target.split(".")[0] == "sqlalchemy" or target.startswith("backend.db"):
                    offenders.append(f"{name}: imports {target}")
        elif name.startswith(("backend.", "mall.")) and not name.endswith(
            (".resources", ".guards", "backend.idempotency", "backend.transaction")
        ):
            tree = ast.parse(source)
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "flask":
                    bad = {a.name for a in node.names} & {"request", "g", "session"}
                    if bad and name not in REQUEST_LAYER:
                        offenders.append(f"{name}: imports flask {sorted(bad)}")
    assert offenders == []


# Modules of the HTTP layer besides resources and guards (they exist to handle requests).
REQUEST_LAYER = {
    "backend.app",
    "backend.http",
    "backend.errors",
    "backend.request_log",
    "backend.health",
    "backend.extensions",
    "backend.hardening",
}
