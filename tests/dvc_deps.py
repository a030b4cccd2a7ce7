"""What each DVC stage runs, found by walking imports (ast, transitively), against what `dvc.yaml` lists.

A stage's command runs ``python pipeline/NAME.py``; that script and every in-repo module it imports,
directly or through another module, at module level or inside a function, is code the stage's output depends
on, and so are the package ``__init__.py`` files Python executes on the way. Resource files read through
``importlib.resources.files("pkg")`` count too: ``.joinpath("a constant")`` names one file, any other use the
package folder. ``python -m tests.dvc_deps`` prints, for every stage, the code deps dvc.yaml should list.
"""
from __future__ import annotations

import ast
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


def _imports(path: Path, root: Path) -> tuple[list[str], list[str]]:
    """Modules ``path`` imports (absolute names, submodules of ``from pkg import sub`` included) and the
    resource paths it reads."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules, resources = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = _package_of(path, root).split(".")
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, *([base] if base else [])])
            modules.append(base)
            modules += [f"{base}.{a.name}" for a in node.names if a.name != "*"]
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


def main() -> None:
    for name, st in stages().items():
        c = closure(script_of(st))
        print(f"{name}:")
        for f in sorted(c.files | c.resources):
            print(f"  - {f}")
    problems = check()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
