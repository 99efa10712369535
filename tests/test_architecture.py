"""The package's shape, read from its source with ast (nothing is imported, TensorFlow least of all).

Issue 9's rules: no import cycle in edgekit/ (every import statement is an edge: module-level, inside a
function, or under ``if TYPE_CHECKING``, since a cycle hidden there is still two modules that need each other);
no module uses another module's underscore names; no file over 400 lines, no function over 60 lines.
Today's violations are listed below, each with its reason: the tests fail on any NEW violation (and on
an allowed file or function that grows); an entry that no longer applies only warns, so that whoever
fixes a violation can delete its entry without the suite breaking in between.
"""

from __future__ import annotations

import ast
import functools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "edgekit"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60

# Cycles allowed today, each as the sorted tuple of the modules that import each other -> why.
ALLOWED_CYCLES: dict[tuple[str, ...], str] = {}

# "importer -> module.name" allowed today -> why.
ALLOWED_PRIVATE: dict[str, str] = {}

# Files over MAX_FILE_LINES allowed today: path -> (lines today: the most it may have, why).
ALLOWED_FILES: dict[str, tuple[int, str]] = {
    "edgekit/device_runner/runner.py": (539, "one self-contained file copied to boards and run by their Python, "
                                             "where edgekit is not installed: it cannot import helpers"),
}

# Functions over MAX_FUNCTION_LINES allowed today: "path::qualname" -> (lines today: the most, why).
ALLOWED_FUNCTIONS: dict[str, tuple[int, str]] = {
    "edgekit/bundle/mobile.py::kotlin": (88, "the generated Kotlin source, mostly one template string"),
    "edgekit/bundle/mobile.py::swift": (69, "the generated Swift source, mostly one template string"),
}


@dataclass
class Module:
    name: str  # edgekit.runtimes.base
    path: Path
    tree: ast.Module
    is_package: bool
    imports: set[str] = field(default_factory=set)  # edgekit modules this one imports, anywhere in it
    private_uses: set[str] = field(default_factory=set)  # "edgekit.x._y" used from another module


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _load_modules() -> dict[str, Module]:
    mods = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name, is_pkg = _module_name(path)
        mods[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)), is_pkg)
    return mods


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(mod: Module, node: ast.ImportFrom) -> str:
    """The module an ``from X import ...`` names, with relative levels resolved against ``mod``."""
    if not node.level:
        return node.module or ""
    base = mod.name.split(".")
    base = base if mod.is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _same_package(importer: str, private_module: str) -> bool:
    """A private module (``edgekit/formats/_common.py``) is for its own package's modules."""
    parent = private_module.rsplit(".", 1)[0]
    return importer == parent or importer.startswith(parent + ".")


def _analyse(mod: Module, mods: dict[str, Module]) -> None:
    bound: dict[str, str] = {}  # local names bound to edgekit modules, for attribute uses
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "edgekit":
                    continue
                if alias.name in mods:
                    mod.imports.add(alias.name)
                bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "edgekit"
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(mod, node)
            if source.split(".")[0] != "edgekit":
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if full in mods:  # a submodule
                    mod.imports.add(full)
                    bound[alias.asname or alias.name] = full
                    if _private(alias.name) and not _same_package(mod.name, full):
                        mod.private_uses.add(full)
                else:
                    if source in mods:
                        mod.imports.add(source)
                    if _private(alias.name) and source != mod.name:
                        mod.private_uses.add(full)
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            target = _dotted(node.value, bound, mods)
            if target and target != mod.name:
                mod.private_uses.add(f"{target}.{node.attr}")
    mod.imports.discard(mod.name)


def _dotted(node: ast.expr, bound: dict[str, str], mods: dict[str, Module]) -> str | None:
    """The edgekit module an expression like ``base`` or ``edgekit.runtimes.base`` denotes, if any."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        parent = _dotted(node.value, bound, mods)
        if parent and f"{parent}.{node.attr}" in mods:
            return f"{parent}.{node.attr}"
    return None


def _graph() -> dict[str, Module]:
    mods = _load_modules()
    for m in mods.values():
        _analyse(m, mods)
    return mods


@functools.cache
def _package() -> dict[str, Module]:
    """edgekit/ itself, read once per test run."""
    return _graph()


def _cycles(mods: dict[str, Module]) -> dict[tuple[str, ...], list[str]]:
    """Strongly connected components with more than one module (Tarjan): their sorted members -> one
    concrete cycle through them, for the message. A module joining an allowed cycle changes the key."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    sccs: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(mods[v].imports):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(mods):
        if v not in index:
            visit(v)
    return {tuple(comp): _one_cycle(mods, comp) for comp in sccs}


def _one_cycle(mods: dict[str, Module], comp: list[str]) -> list[str]:
    """A shortest import path from the component's first module back to itself, for the message."""
    start, members = comp[0], set(comp)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(mods[v].imports & members):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    return comp


def _functions(tree: ast.Module) -> Iterator[tuple[str, int]]:
    """(qualified name, lines from ``def`` to its last line) of every function, nested ones included."""
    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                yield name, (child.end_lineno or child.lineno) - child.lineno + 1
                yield from walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)
    yield from walk(tree, "")


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _warn_stale(kind: str, stale: list[str]) -> None:
    if stale:
        warnings.warn(f"{kind} allowlist entries that no longer apply (delete them): {stale}", stacklevel=2)


# ------------------------------------------------------------------------------------------------


def test_the_walk_sees_the_package() -> None:
    mods = _package()
    assert {"edgekit.cli", "edgekit.validate", "edgekit.runtimes", "edgekit.web.browser"} <= set(mods)
    assert "edgekit.web.server" in mods["edgekit.web.browser"].imports  # module-level edge
    # function-level imports are edges too: the browser runner imports edgekit.web.browser inside methods
    assert "edgekit.web.browser" in mods["edgekit.runtimes.browser"].imports


def test_no_import_cycle() -> None:
    cycles = _cycles(_package())
    new = [f"{' -> '.join(c)} (modules in the cycle: {', '.join(members)})"
           for members, c in cycles.items() if members not in ALLOWED_CYCLES]
    assert not new, "import cycles in edgekit/ (module- or function-level imports):\n" + "\n".join(new)
    _warn_stale("cycle", [str(k) for k in ALLOWED_CYCLES if k not in cycles])


def test_no_module_uses_another_modules_private_names() -> None:
    uses = sorted(f"{m.name} -> {u}" for m in _package().values() for u in m.private_uses)
    new = [u for u in uses if u not in ALLOWED_PRIVATE]
    assert not new, "underscore names used across modules (make them public or move them):\n" + "\n".join(new)
    _warn_stale("private-name", [k for k in ALLOWED_PRIVATE if k not in uses])


def test_no_file_over_400_lines() -> None:
    sizes = {_rel(p): len(p.read_text(encoding="utf-8").splitlines()) for p in sorted(PACKAGE.rglob("*.py"))}
    over = {p: n for p, n in sizes.items() if n > MAX_FILE_LINES}
    bad = [f"{p}: {n} lines" + (f" (allowed up to {ALLOWED_FILES[p][0]})" if p in ALLOWED_FILES else "")
           for p, n in over.items() if p not in ALLOWED_FILES or n > ALLOWED_FILES[p][0]]
    assert not bad, f"files in edgekit/ over {MAX_FILE_LINES} lines:\n" + "\n".join(bad)
    _warn_stale("file-size", [p for p in ALLOWED_FILES if p not in over])


def test_no_function_over_60_lines() -> None:
    lengths = {f"{_rel(m.path)}::{q}": n for m in _package().values() for q, n in _functions(m.tree)}
    over = {k: n for k, n in lengths.items() if n > MAX_FUNCTION_LINES}
    bad = [f"{k}: {n} lines" + (f" (allowed up to {ALLOWED_FUNCTIONS[k][0]})" if k in ALLOWED_FUNCTIONS else "")
           for k, n in over.items() if k not in ALLOWED_FUNCTIONS or n > ALLOWED_FUNCTIONS[k][0]]
    assert not bad, f"functions in edgekit/ over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(bad)
    _warn_stale("function-size", [k for k in ALLOWED_FUNCTIONS if k not in over])


def test_the_checks_catch_what_they_claim(tmp_path: Path, monkeypatch) -> None:
    """The walker on a tiny fake package: a cycle through a function-level import, private uses."""
    pkg = tmp_path / "edgekit"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "_impl.py").write_text("X = 1\n")
    (pkg / "sub" / "ok.py").write_text("from edgekit.sub import _impl\nfrom . import _impl as again\n")
    (pkg / "a.py").write_text("from edgekit.b import helper\n\ndef _secret():\n    pass\n")
    (pkg / "b.py").write_text("def helper():\n    from edgekit import a\n    return a._secret()\n")
    (pkg / "c.py").write_text("import edgekit.a\nfrom .a import _secret\nfrom edgekit.sub import _impl\n"
                              "y = edgekit.a._secret\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "PACKAGE", pkg)
    mods = _graph()
    assert _cycles(mods) == {("edgekit.a", "edgekit.b"): ["edgekit.a", "edgekit.b", "edgekit.a"]}
    assert mods["edgekit.b"].private_uses == {"edgekit.a._secret"}
    assert mods["edgekit.c"].private_uses == {"edgekit.a._secret", "edgekit.sub._impl"}
    assert mods["edgekit.sub.ok"].private_uses == set()  # a private module used inside its own package
    assert mods["edgekit.a"].private_uses == set()


def test_function_lengths_are_measured_with_qualified_names() -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(60))
    src = (f"class Runner:\n    def run(self):\n{body}\n\n        def inner():\n            pass\n\n"
           "def short():\n    pass\n")
    assert dict(_functions(ast.parse(src))) == {"Runner.run": 64, "Runner.run.inner": 2, "short": 2}
