"""No import cycle anywhere in ``mfdan/``: the graph of every import statement Python runs (module level and
inside functions; not ``if TYPE_CHECKING:``; ``import_submodules(__name__)`` imports its whole package), with
the package ``__init__`` files an import executes, has no strongly connected component of two or more modules.
A module's own parent packages do not count (they are initialised before it), nor do module names written as
strings and imported at run time (the params registry's ``"module:Class"`` entries, a process pool's preloads):
those are looked up after every module involved has been imported."""
from __future__ import annotations

import sys
from pathlib import Path

from tests.dvc_deps import REPO, _imports, _module_chain


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted((root / "mfdan").rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        me = module_name(path, root)
        ancestors = {".".join(me.split(".")[:i]) for i in range(1, len(me.split(".")))}
        if path.name == "__init__.py":
            ancestors.add(me)
        deps = set()
        for module in _imports(path, root, by_name=False)[0]:
            for f in _module_chain(module, root):
                name = module_name(f, root)
                if name != me and name not in ancestors:
                    deps.add(name)
        graph[me] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_in_mfdan():
    found = cycles(import_graph())
    assert not found, "import cycles (each line: modules that import each other): " + "; ".join(
        " <-> ".join(c) for c in found)


def test_the_cycle_check_finds_a_cycle(tmp_path):
    """The check itself: two modules importing each other (one lazily, inside a function) are found; an
    import under TYPE_CHECKING is not one."""
    pkg = tmp_path / "mfdan" / "toy"
    pkg.mkdir(parents=True)
    (tmp_path / "mfdan" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from mfdan.toy.b import g\n")
    (pkg / "b.py").write_text("def g():\n    from mfdan.toy import a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mfdan.toy import d\n")
    (pkg / "d.py").write_text("import mfdan.toy.c\n")
    assert cycles(import_graph(tmp_path)) == [["mfdan.toy.a", "mfdan.toy.b"]]
