"""DVC dependencies are correct by construction: every stage lists exactly the code its command runs, and the
package is layered by pipeline phase with no cycle between folders."""
import ast
import shutil
from pathlib import Path

import pytest
import yaml

from tests import dvc_deps

REPO = dvc_deps.REPO
PHASES = ("core", "data", "synth", "preprocess", "magnify", "model", "baselines", "train", "evaluate", "predict", "sweep", "spotting")
ENTRY_POINTS = {"__init__.py", "__main__.py", "cli.py"}


def test_every_stage_lists_what_it_runs_and_nothing_else():
    problems = dvc_deps.check()
    assert not problems, "dvc.yaml deps are out of date (`python -m tests.dvc_deps` prints them):\n" + "\n".join(problems)


def _copy_code(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("mfdan", "pipeline"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    return root


def test_a_new_import_without_its_dep_is_named(tmp_path):
    """The check would catch the next person who adds an import: here optical_strain (run by `flow` and
    `align`) starts importing the windowing code of the model."""
    root = _copy_code(tmp_path)
    strain = root / "mfdan/preprocess/optical_strain.py"
    strain.write_text(strain.read_text() + "\n\ndef _late():\n    from mfdan.model import windows  # noqa: F401\n")
    problems = dvc_deps.check(root)
    assert any(p.startswith("stage flow: missing dep mfdan/model/windows.py") and "optical_strain.py" in p
               for p in problems), problems
    assert any(p.startswith("stage align: missing dep mfdan/model/__init__.py") for p in problems), problems


def test_a_dep_the_stage_does_not_run_is_named(tmp_path):
    root = _copy_code(tmp_path)
    spec = yaml.safe_load((root / "dvc.yaml").read_text())
    spec["stages"]["flow"]["deps"].append("mfdan/model/network.py")
    spec["stages"]["pack"]["deps"].remove("mfdan/data/index_file.py")
    (root / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    problems = dvc_deps.check(root)
    assert "stage flow: dep mfdan/model/network.py is not run by the stage" in problems
    assert any(p.startswith("stage pack: missing dep mfdan/data/index_file.py (pipeline/pack.py -> ") for p in problems)


def test_stages_depend_on_their_phase_only():
    """Editing model or training code reruns no preprocessing; `magnify` reads aligned frames (a `flow` change
    never reruns MagNet); `train@` does not depend on the fold list (adding a fold trains that fold only)."""
    stages = dvc_deps.stages()
    for name in ("synth", "index", "align", "flow", "pack", "train_magnet", "magnify"):
        deps = dvc_deps.code_deps(stages[name])
        assert not [d for d in deps if d.startswith(("mfdan/model", "mfdan/train", "mfdan/evaluate"))], name
    magnify = stages["magnify"]
    assert "data/aligned.h5" in magnify["deps"]
    assert not {"data/flow.h5", "data/cache.h5"} & set(magnify["deps"])
    assert not [d for d in dvc_deps.code_deps(magnify) if d.startswith("mfdan/preprocess")]
    train = stages["train@<item>"]
    assert "folds" not in train["params"] and {"dropkey", "model", "train"} <= set(train["params"])
    assert "folds" in stages["evaluate"]["params"]


def _phase_imports() -> dict[str, set[str]]:
    """phase folder -> the other phase folders its modules import."""
    graph: dict[str, set[str]] = {p: set() for p in PHASES}
    for phase in PHASES:
        for f in (REPO / "mfdan" / phase).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
                for n in names:
                    parts = n.split(".")
                    if parts[0] == "mfdan" and len(parts) > 1 and parts[1] != phase:
                        assert parts[1] in PHASES, f"{f}: imports {n}, outside the phase folders"
                        graph[phase].add(parts[1])
    return graph


def test_no_two_phase_folders_import_each_other():
    graph = _phase_imports()
    assert not graph["core"], f"core must use no phase: {graph['core']}"
    # a cycle anywhere in the folder graph means two phases depend on each other
    state: dict[str, int] = {}

    def visit(p: str, path: list[str]) -> None:
        state[p] = 1
        for q in sorted(graph[p]):
            if state.get(q) == 1:
                pytest.fail(f"import cycle between phase folders: {' -> '.join(path + [q])}")
            if q not in state:
                visit(q, path + [q])
        state[p] = 2

    for p in PHASES:
        if p not in state:
            visit(p, [p])


def test_every_module_sits_in_a_phase_folder():
    top = {f.name for f in (REPO / "mfdan").glob("*.py")}
    assert top <= ENTRY_POINTS, f"modules outside a phase folder: {sorted(top - ENTRY_POINTS)}"
    folders = {d.name for d in (REPO / "mfdan").iterdir() if d.is_dir() and d.name != "__pycache__"}
    assert folders == set(PHASES)


def test_every_stage_script_is_thin():
    """pipeline/*.py parse arguments and call one library entry (`<phase>.<name>_stage.run`), nothing else."""
    for script in sorted((REPO / "pipeline").glob("*.py")):
        tree = ast.parse(script.read_text())
        funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert [f.name for f in funcs] == ["main"], script
        body = [n for n in funcs[0].body if not isinstance(n, ast.Expr) or not isinstance(n.value, ast.Constant)]
        assert len(body) == 1 and isinstance(body[0], ast.Return), f"{script}: main does more than call its stage"
        call = body[0].value
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "run"
        stage_module = call.func.value.id
        assert stage_module.endswith("_stage") and (REPO / "mfdan").glob(f"*/{stage_module}.py"), script


def test_docs_point_at_files_that_exist():
    """README and every docs/*.md page name modules by path; after a move every such path must still exist."""
    import re

    docs = sorted((REPO / "docs").glob("*.md"))
    assert docs, "no docs/*.md pages"
    for doc in (REPO / "README.md", *docs):
        paths = set(re.findall(r"`((?:mfdan|pipeline|tests|bench|profiles)/[\w/.-]+?)(?::[^`]*)?`", doc.read_text()))
        assert paths, doc
        missing = sorted(p for p in paths if not (REPO / p).exists())
        assert not missing, f"{doc.name} names paths that do not exist: {missing}"


def test_train_final_depends_on_every_setting_its_card_keeps():
    """The model card keeps the apex policy (mfdan.data.config.APEX_KEYS, the one list) and the preprocessing and
    model sections; `train_final` must list each as a param, so changing one rebuilds the model folder."""
    from mfdan.data.config import APEX_KEYS

    listed = set(dvc_deps.stages()["train_final"]["params"])
    assert {f"data.{k}" for k in APEX_KEYS} | {"dropkey", "model", "baselines", "train", "align", "flow",
                                                "magnify"} <= listed
