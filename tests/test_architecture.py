"""The package's shape: data flows one way (config → stages → stored tables → findings → pages
→ book), pages never write, no import cycle, and no module much over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "analysis"
MAX_LINES = 420  # "about 400" (developers' guide)

# Modules that build what a page shows: they read the study, never write.
PAGE_MODULES = [
    *sorted((PACKAGE / "pages").glob("*.py")),
    PACKAGE / "answer.py",
    PACKAGE / "boundary_page.py",
    PACKAGE / "boundary_data.py",
    PACKAGE / "boundary_charts.py",
    PACKAGE / "coverage_lists.py",
    PACKAGE / "study.py",
]
WRITERS = {
    "atomic_write_parquet",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_write_bytes",
    "write_parquet",
    "write_csv",
    "write_text",
    "write_bytes",
    "mkdir",
    "save_png",
    "chdir",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}


def _imports(path: Path, name: str, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    mods = _modules()
    return {
        name: {m for m in _imports(path, name, top_level_only) if m in mods and m != name}
        for name, path in mods.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_is_much_over_400_lines():
    long = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in _modules().items()}
    assert {n: k for n, k in long.items() if k > MAX_LINES} == {}


def test_no_import_cycle_at_module_level():
    # A package's __init__ importing its own submodules (re-exports) is not a cycle.
    graph = {
        n: {m for m in deps if not (m.startswith(n + ".") and _modules()[n].name == "__init__.py")}
        for n, deps in _graph(top_level_only=True).items()
    }
    graph = {
        n: {m for m in deps if not (n.startswith(m + ".") and _modules()[m].name == "__init__.py")}
        for n, deps in graph.items()
    }
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("path", PAGE_MODULES, ids=lambda p: p.name)
def test_pages_and_readers_never_write(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
            if name in WRITERS:
                calls.add(name)
            if name == "open" and any(
                isinstance(a, ast.Constant) and isinstance(a.value, str) and set(a.value) & set("wax")
                for a in [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "mode")]
            ):
                calls.add("open for writing")
    assert calls == set()


def test_lower_floors_never_import_the_top_floor():
    """Metrics, grading, sampling, perplexity, schemas and the store know nothing of studies or pages."""
    top = {"analysis.study", "analysis.stages", "analysis.pages", "analysis.book", "analysis.findings_stage"}
    lower = (
        "analysis.metrics",
        "analysis.grading",
        "analysis.sampling",
        "analysis.perplexity",
        "analysis.schemas",
        "analysis.store",
    )
    graph = _graph(top_level_only=False)
    bad = {
        n: sorted(d for d in deps if any(d == t or d.startswith(t + ".") for t in top))
        for n, deps in graph.items()
        if n.startswith(lower)
    }
    assert {n: d for n, d in bad.items() if d} == {}
