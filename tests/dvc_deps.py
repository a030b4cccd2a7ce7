"""What each DVC stage runs, found by walking imports (ast, transitively), against what `dvc.yaml` lists.

A stage's command runs ``python pipeline/NAME.py``; that script and every in-repo module it imports,
directly or through another module, at module level or inside a function, is code the stage's output depends
on, and so are the package ``__init__.py`` files Python executes on the way. Resource files read through
``importlib.resources.files("pkg")`` count too: ``.joinpath("a constant")`` names one file, any other use the
package folder. ``python -m tests.dvc_deps`` prints, for every stage, the code deps dvc.yaml should list, and
``python -m tests.dvc_deps --write`` writes them into dvc.yaml (a folder is listed whole when the stage runs
every module in it).
"""
from __future__ import annotations

import ast
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("mfdan",)            # in-repo import roots
CODE_ROOTS = ("mfdan/", "pipeline/")


@dataclass
class Closure:
    files: set[str] = field(default_factory=set)        # repo-relative .py files the stage executes
    resources: set[str] = field(default_factory=set)    # repo-relative files / folders it reads as resources
    edges: dict[str, str] = field(default_factory=dict)  # file -> the file that first imported it


def _module_file(module: str, root: Path) -> Path | None:
    base = root / Path(*module.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _module_chain(module: str, root: Path) -> list[Path]:
    """Files Python executes to import ``module``: each parent package's ``__init__.py``, then the module."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return []
    out = []
    for i in range(1, len(parts) + 1):
        f = _module_file(".".join(parts[:i]), root)
        if f is None:
            break
        out.append(f)
    return out


def _package_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    else:
        parts.pop()  # the module's own package
    return ".".join(parts)


def _executed(tree: ast.AST):
    """Every node of ``tree`` but the bodies of ``if TYPE_CHECKING:`` (imports for annotations, never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if (isinstance(child, ast.If) and isinstance(child.test, ast.Name)
                    and child.test.id == "TYPE_CHECKING"):
                todo += child.orelse
                continue
            todo.append(child)


def _submodules(package: str, root: Path) -> list[str]:
    """``import_submodules(__name__)`` in a package's ``__init__``: every module of that package folder."""
    folder = root / Path(*package.split("."))
    return [f"{package}.{f.stem}" for f in sorted(folder.glob("*.py")) if f.name != "__init__.py"]


def _imports(path: Path, root: Path, *, by_name: bool = True) -> tuple[list[str], list[str]]:
    """Modules ``path`` imports (absolute names, submodules of ``from pkg import sub`` included; with
    ``by_name``, also module names written as strings, imported at run time) and the resource paths it reads.
    Imports under ``if TYPE_CHECKING:`` do not count; ``import_submodules(__name__)``
    (:func:`mfdan.core.architectures.import_submodules`) imports every module of the package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules, resources = [], []
    for node in _executed(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "import_submodules"
                and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "__name__"):
            modules += _submodules(_package_of(path, root), root)
        elif isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = _package_of(path, root).split(".")
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, *([base] if base else [])])
            modules.append(base)
            modules += [f"{base}.{a.name}" for a in node.names if a.name != "*"]
        elif (by_name and isinstance(node, ast.Constant) and isinstance(node.value, str)
              and re.fullmatch(r"mfdan(\.\w+)+", node.value)):  # imported by name at run time (a forkserver preload)
            modules.append(node.value)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "files"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            resources.append(node.args[0].value.replace(".", "/"))
    # resources.files("pkg").joinpath("name"): one file
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath"
                and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Attribute)
                and node.func.value.func.attr == "files" and node.func.value.args
                and isinstance(node.func.value.args[0], ast.Constant)):
            folder = node.func.value.args[0].value.replace(".", "/")
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                resources.remove(folder)
                resources.append(f"{folder}/{node.args[0].value}")
    return modules, resources


def closure(script: str, root: Path = REPO) -> Closure:
    """Every in-repo file the command ``python SCRIPT`` runs or reads as a resource."""
    out = Closure()
    todo = [root / script]
    out.files.add(script)
    while todo:
        path = todo.pop()
        modules, resources = _imports(path, root)
        for res in resources:
            out.resources.add(res)
            init = root / res / "__init__.py"
            if init.is_file():  # resources.files(pkg) imports pkg
                modules.append(res.replace("/", "."))
        for module in modules:
            for f in _module_chain(module, root):
                rel = f.relative_to(root).as_posix()
                if rel not in out.files:
                    out.files.add(rel)
                    out.edges[rel] = path.relative_to(root).as_posix()
                    todo.append(f)
    return out


def import_path(c: Closure, rel: str) -> str:
    """``pipeline/x.py -> mfdan/a.py -> mfdan/b.py``: how the stage reaches ``rel``."""
    chain = [rel]
    while chain[-1] in c.edges:
        chain.append(c.edges[chain[-1]])
    return " -> ".join(reversed(chain))


def stages(root: Path = REPO) -> dict[str, dict]:
    """dvc.yaml's stages with ``foreach`` expanded to one entry per item (``train@ITEM``) — only the command's
    script and the deps matter here, and they do not depend on the item beyond ``${item}``."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    out = {}
    for name, st in spec.items():
        if "foreach" in st:
            out[f"{name}@<item>"] = st["do"]
        else:
            out[name] = st
    return out


def script_of(stage: dict) -> str:
    words = shlex.split(stage["cmd"])
    if words[0] != "python" or not words[1].startswith("pipeline/"):
        raise ValueError(f"stage command does not run a pipeline/ script: {stage['cmd']}")
    return words[1]


def code_deps(stage: dict) -> list[str]:
    return [d for d in stage.get("deps") or [] if isinstance(d, str) and d.startswith(CODE_ROOTS)]


def required(stage: dict, root: Path = REPO) -> set[str]:
    c = closure(script_of(stage), root)
    return c.files | c.resources


def covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def check(root: Path = REPO) -> list[str]:
    """One line per problem: a dep missing from a stage (with the import path that needs it) or a code dep
    the stage does not run."""
    problems = []
    for name, st in stages(root).items():
        c = closure(script_of(st), root)
        need = c.files | c.resources
        deps = code_deps(st)
        for f in sorted(need):
            if not covered(f, deps):
                how = import_path(c, f) if f in c.files else "read as a resource"
                problems.append(f"stage {name}: missing dep {f} ({how})")
        for d in deps:
            p = root / d
            if not p.exists():
                problems.append(f"stage {name}: dep {d} does not exist")
            elif p.is_dir():
                extra = [q.relative_to(root).as_posix() for q in p.rglob("*.py") if "__pycache__" not in q.parts]
                extra = [q for q in extra if q not in need]
                if extra and d not in c.resources:
                    problems.append(f"stage {name}: dep {d} is wider than what the stage runs ({extra})")
            elif d not in need:
                problems.append(f"stage {name}: dep {d} is not run by the stage")
    return problems


HEADER = ("# The pipeline. Each stage's code deps are the files its command runs: the pipeline/ script and every\n"
          "# in-repo module it imports, transitively (tests/test_dvc_deps.py checks this both ways;\n"
          "# `python -m tests.dvc_deps --write` rewrites them).\n")


def listed(c: Closure, root: Path = REPO) -> list[str]:
    """The deps to write for a closure: the script first, then files, a folder when the stage runs all of it."""
    need = c.files | c.resources
    out = set(need)
    for d in sorted({str(Path(f).parent) for f in c.files if f.startswith("mfdan/")}, key=len):
        if d == "mfdan" or any(x != d and d.startswith(x + "/") for x in out if (root / x).is_dir()):
            continue
        files = [q for q in (root / d).rglob("*") if q.is_file() and "__pycache__" not in q.parts]
        rel = [q.relative_to(root).as_posix() for q in files]
        if all(r in need or any(r.startswith(res + "/") for res in c.resources) for r in rel):
            out = {x for x in out if not (x == d or x.startswith(d + "/"))} | {d}
    return sorted(out, key=lambda p: (not p.startswith("pipeline/"), p))


def write(root: Path = REPO) -> None:
    """Rewrite every stage's code deps in dvc.yaml from the import closures; other deps keep their place."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text())
    for name, st in spec["stages"].items():
        body = st["do"] if "foreach" in st else st
        other = [d for d in body.get("deps") or [] if not (isinstance(d, str) and d.startswith(CODE_ROOTS))]
        body["deps"] = listed(closure(script_of(body), root), root) + other
    text = yaml.safe_dump(spec, sort_keys=False, width=120, default_flow_style=False, allow_unicode=True)
    text = re.sub(r"\n(  [a-z_]+:\n)", r"\n\n\1", text).replace("\nplots:", "\n\nplots:")
    (root / "dvc.yaml").write_text(HEADER + text)


def main() -> None:
    if "--write" in sys.argv:
        write()
    for name, st in stages().items():
        c = closure(script_of(st))
        print(f"{name}:")
        for f in listed(c):
            print(f"  - {f}")
    problems = check()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
