"""README's quoted figures agree with the files they come from; the docs' links resolve (issue 46, item 8).

Pure file parsing: ``bench/readme_claims.py`` does the checking (also runnable by hand), this file runs it on the
README, on the docs' copy of the verdict tables, and on altered copies of the README to show that each kind of
check fails when a figure is wrong.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
README_LIMIT = 16_000   #: bytes; the README stays a page


def _claims():
    spec = importlib.util.spec_from_file_location("readme_claims", REPO / "bench" / "readme_claims.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rc = _claims()


def test_readme_figures_agree_with_their_sources():
    errors = rc.check(README)
    assert not errors, "README disagrees with its sources:\n" + "\n".join(errors)


def test_docs_verdict_tables_are_the_readmes_and_agree_with_bench_results():
    """docs/baselines.md carries the same verdict tables as the README, checked the same way."""
    doc = (REPO / "docs" / "baselines.md").read_text()
    assert not rc.check_verdicts(doc), rc.check_verdicts(doc)

    def verdicts(text):
        return [t for t in rc.md_tables(rc.norm(text)) if t[0][0] in rc.REFS]

    assert verdicts(doc) == verdicts(README.read_text())


def test_verdict_tables_are_what_the_script_prints():
    printed = rc.md_tables(rc.norm(rc.verdict_tables()))
    assert printed == [t for t in rc.md_tables(rc.norm(README.read_text())) if t[0][0] in rc.REFS]


def test_readme_stays_a_page():
    assert len(README.read_bytes()) <= README_LIMIT


#: (what is altered, the README text, its replacement): each must make the check fail
ALTERATIONS = [
    ("a verdict cell's sd", "| STSTNet | tie (+1.4 sd) |", "| STSTNet | tie (+1.5 sd) |"),
    ("a verdict word", "| HTNet | lose (−4.2 sd) |", "| HTNet | tie (−4.2 sd) |"),
    ("a verdict row dropped", "| Bi-WOOF | tie (+0.4 sd) |", "| Bi-WOOFs | tie (+0.4 sd) |"),
    ("a verdict column dropped", "| MFDAN (800 steps) vs | real-face LOSO | real-face HDE | hard LOSO | hard HDE |",
     "| MFDAN (800 steps) vs | real-face LOSO | real-face HDE | hard LOSO | hard HDF |"),
    ("a UF1 mean ± sd", "0.055 ± 0.038", "0.055 ± 0.039"),
    ("a quoted UF1", "0.689 ± 0.054", "0.698 ± 0.054"),
    ("the summary block", "  SAMM        0.790  0.817       23", "  SAMM        0.791  0.817       23"),
    ("the magnification line", "MagNet 30.2 dB at a=1", "MagNet 31.2 dB at a=1"),
    ("a timing", "**5 min 49 s**", "**5 min 25 s**"),
    ("a benchmark ratio", "| 1.16× (goal 1.25) |", "| 1.13× (goal 1.25) |"),
    ("a spotting score", "**0.511 ± 0.117**", "**0.611 ± 0.117**"),
    ("a figure no cited file holds", "Flow-driven vs self-only (Table V, M1),", "Flow-driven vs self-only 0.123,"),
]


@pytest.mark.parametrize("what,old,new", ALTERATIONS, ids=[a[0] for a in ALTERATIONS])
def test_the_check_fails_on_an_altered_readme(tmp_path, what, old, new):
    text = README.read_text()
    assert old in text, f"the README no longer contains {old!r}: update ALTERATIONS"
    altered = tmp_path / "README.md"
    altered.write_text(text.replace(old, new, 1))
    assert rc.check(altered), f"{what}: the check did not notice"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`", "", heading.strip().lstrip("#").strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen, out = {}, set()
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    for line in text.splitlines():
        if line.startswith("#"):
            s = _slug(line)
            n = seen.get(s, 0)
            out.add(s if n == 0 else f"{s}-{n}")
            seen[s] = n + 1
    out |= set(re.findall(r'<a id="([^"]+)"', text))
    return out


PAGES = [README, *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "bench" / "results" / "history").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_relative_links_resolve(page):
    """Every relative link (and its #anchor, into a markdown page) points at something that exists."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(target)
    assert not bad, f"{page.relative_to(REPO)}: broken links {bad}"


def test_readme_indexes_every_docs_page():
    linked = set(re.findall(r"\(docs/([\w-]+\.md)", README.read_text().split("## Documentation")[-1]))
    assert linked == {p.name for p in (REPO / "docs").glob("*.md")}
