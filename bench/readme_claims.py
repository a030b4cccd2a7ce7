"""The figures README.md quotes, checked against the files they come from; and the comparison verdict tables.

    python bench/readme_claims.py             # check README.md: one line per figure that disagrees, exit status 1
    python bench/readme_claims.py --verdict   # print the verdict tables from bench/results/compare_<set>.md

Three checks, pure file parsing (``tests/test_readme_claims.py`` runs them):

* **Verdict tables** (header cell ``MFDAN (160 steps) vs`` / ``MFDAN (800 steps) vs``): every cell is MFDAN's
  paired UF1 difference from the row's method over the same seeds, in sd of that difference, as
  ``bench/compare.py`` wrote it into ``bench/results/compare_<set>.md`` (there: the method minus MFDAN, so the
  sign is flipped here); ``win`` / ``lose`` at 2.0 sd or more (as printed, one decimal), ``tie`` below. Every
  method the file pairs must have its row.
* **The summary block** (the ``LOSO result (mfdan)`` output of ``make demo``): its UF1 / UAR against
  ``metrics/loso.json`` and its magnification line against ``metrics/magnet.json`` and ``metrics/magnify.json``.
* **Every other quoted figure** (a decimal number, ``a ± b``, ``N min N s``) in a README paragraph or table
  must appear in a file the block cites: a link in the block itself, in the paragraph just before it (a table's
  caption) or in its section heading (``bench/results/``, ``docs/`` or ``metrics/``). A block with a figure and
  no such link is an error too. Inline code, link targets and headings are not read.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

SETS = {"demo": "demo", "real-face": "realface", "hard": "hard"}   #: README column word -> compare_<set>.md
PROTOCOLS = ("LOSO", "HDE")
REFS = {"MFDAN (160 steps) vs": "MFDAN", "MFDAN (800 steps) vs": "MFDAN-800-steps"}  #: header cell -> ref row
ROW_NAMES = {"MFDAN, 800 steps": "MFDAN-800-steps", "MFDAN, 160 steps": "MFDAN"}    #: README row -> file row
#: (reference, method) pairs the tables leave out: MFDAN at 160 steps against 800 is the first table's last row
SKIP = {("MFDAN-800-steps", "MFDAN")}
WIN_SD = 2.0   #: |paired mean / sd| at or above this is a win or a loss, below it a tie

FIGURE = re.compile(r"(?<![\w.])(\d+\.\d+)(?:\s*±\s*(\d+\.\d+))?|\b\d+ min \d+ s\b")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")
CELL = re.compile(r"^(win|tie|lose) \(([+-]\d+\.\d) sd\)$")


def norm(text: str) -> str:
    return text.replace("−", "-").replace("\u2009", " ")


def md_tables(text: str) -> list[list[list[str]]]:
    """Every markdown table of ``text`` as rows of stripped cells (the separator row dropped)."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        s = line.strip()
        if s.startswith("|") and s.endswith("|"):
            cells = [c.strip() for c in s[1:-1].split("|")]
            if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def paired_sd(set_name: str) -> dict[tuple[str, str, str], float]:
    """(reference row, method, protocol) -> the paired UF1 difference method − reference in its sd, as recorded."""
    text = norm((RESULTS / f"compare_{set_name}.md").read_text())
    out = {}
    for table in md_tables(text):
        head = table[0]
        for col, name in enumerate(head):
            m = re.fullmatch(r"(LOSO|HDE) UF1 - (MFDAN(?:-[\w-]+)?)", name)
            if not m:
                continue
            for row in table[1:]:
                s = re.search(r", ([+-]\d+\.\d) sd \(", row[col])
                if s:
                    out[(m.group(2), row[0], m.group(1))] = float(s.group(1))
    return out


def verdict(sd: float) -> str:
    return "win" if sd >= WIN_SD else "lose" if sd <= -WIN_SD else "tie"


def cell(sd: float) -> str:
    return f"{verdict(sd)} ({sd:+.1f} sd)".replace("-", "−")


def verdict_tables() -> str:
    """The README's two verdict tables, from bench/results/compare_<set>.md."""
    recorded = {s: paired_sd(f) for s, f in SETS.items()}
    lines = []
    for header, ref in REFS.items():
        cols = [(s, p) for s in SETS for p in PROTOCOLS if any(k[0] == ref and k[2] == p for k in recorded[s])]
        methods = []
        for s, p in cols:
            for k in recorded[s]:
                if k[0] == ref and k[2] == p and k[1] not in methods and (ref, k[1]) not in SKIP:
                    methods.append(k[1])
        lines += ["| " + " | ".join([header] + [f"{s} {p}" for s, p in cols]) + " |",
                  "|" + " --- |" * (len(cols) + 1)]
        for m in methods:
            name = {v: k for k, v in ROW_NAMES.items()}.get(m, m)
            cells = [cell(-recorded[s][(ref, m, p)]) if (ref, m, p) in recorded[s] else "—" for s, p in cols]
            lines.append("| " + " | ".join([name] + cells) + " |")
        lines.append("")
    return "\n".join(lines)


def check_verdicts(readme: str) -> list[str]:
    errors = []
    recorded = {s: paired_sd(f) for s, f in SETS.items()}
    found = set()
    for table in md_tables(norm(readme)):
        ref = REFS.get(table[0][0])
        if ref is None:
            continue
        found.add(ref)
        cols = []
        for name in table[0][1:]:
            m = re.fullmatch(r"(\S+) (LOSO|HDE)", name)
            if not m or m.group(1) not in SETS:
                errors.append(f"verdict table '{table[0][0]}': unknown column '{name}'")
                cols.append(None)
            else:
                cols.append((m.group(1), m.group(2)))
        expected = [(s, p) for s in SETS for p in PROTOCOLS if any(k[0] == ref and k[2] == p for k in recorded[s])]
        for s, p in expected:
            if (s, p) not in cols:
                errors.append(f"verdict table '{table[0][0]}': no column '{s} {p}' (compare_{SETS[s]}.md has it)")
        rows = set()
        for row in table[1:]:
            method = ROW_NAMES.get(row[0], row[0])
            rows.add(method)
            for col, text in zip(cols, row[1:]):
                if col is None:
                    continue
                s, p = col
                key = (ref, method, p)
                where = f"verdict '{table[0][0]}' / {row[0]} / {s} {p}"
                if key not in recorded[s]:
                    if text != "—":
                        errors.append(f"{where}: README says '{text}', compare_{SETS[s]}.md pairs no such row")
                    continue
                want = cell(-recorded[s][key])
                if text != norm(want):
                    errors.append(f"{where}: README says '{text}', compare_{SETS[s]}.md gives '{want}'")
        for s, rec in recorded.items():
            for (r, method, p) in rec:
                if r == ref and method not in rows and (s, p) in cols and (ref, method) not in SKIP:
                    errors.append(f"verdict '{table[0][0]}': no row for {method} (compare_{SETS[s]}.md pairs it)")
    for ref in REFS.values():
        if ref not in found:
            errors.append(f"README has no verdict table against {ref}")
    return errors


def check_summary(readme: str) -> list[str]:
    """The `make demo` summary block against metrics/loso.json, magnet.json and magnify.json."""
    errors = []
    block = re.search(r"```text\n(LOSO result \(mfdan\).*?)```", readme, re.S)
    if not block:
        return ["README has no `LOSO result (mfdan)` summary block"]
    text = block.group(1)
    loso = json.loads((REPO / "metrics" / "loso.json").read_text())
    names = {"composite": None, "CASME II": "casme2", "SAMM": "samm", "SMIC-HS": "smic"}
    for label, key in names.items():
        m = re.search(rf"^\s*{re.escape(label)}\s+(\d\.\d+)\s+(\d\.\d+)\s+(\d+)\s*$", text, re.M)
        if not m:
            errors.append(f"summary block: no '{label}' row")
            continue
        src = loso if key is None else loso["per_dataset"][key]
        want = (f"{src['uf1']:.3f}", f"{src['uar']:.3f}", str(src["samples"]))
        if m.groups() != want:
            errors.append(f"summary block '{label}': README {m.groups()}, metrics/loso.json {want}")
    magnet = json.loads((REPO / "metrics" / "magnet.json").read_text())
    magnify = json.loads((REPO / "metrics" / "magnify.json").read_text())
    m = re.search(r"MagNet ([\d.]+) dB at a=1, \+([\d.]+) dB at a=2-8; clips r \+([\d.]+)", text)
    want = (f"{magnet['held_out_psnr_db']['reconstruction']['magnet']:.1f}",
            f"{magnet['held_out_psnr_db']['magnification']['gain_db']:.1f}",
            f"{magnify['motion_r']['median']:.2f}")
    if not m or m.groups() != want:
        errors.append(f"summary block magnification line: README {m.groups() if m else None}, metrics {want}")
    return errors


def blocks(readme: str):
    """(heading, previous block, block) for each paragraph or table outside fenced code, headings excluded."""
    heading, prev, out = "", "", []
    text = re.sub(r"<!--.*?-->", "", readme, flags=re.S)
    for raw in re.split(r"\n\s*\n", re.sub(r"```.*?```", "\n\n", text, flags=re.S)):
        b = raw.strip()
        if not b:
            continue
        lines = b.splitlines()
        while lines and lines[0].startswith("#"):
            heading, prev = lines.pop(0), ""
        if not lines:
            continue
        b = "\n".join(lines)
        out.append((heading, prev, b))
        prev = b
    return out


def sources(*texts: str) -> list[Path]:
    found = []
    for t in texts:
        for target in LINK.findall(t):
            p = (REPO / target).resolve()
            if p.is_file() and p.suffix in (".md", ".txt", ".json", ".csv") and p not in found:
                found.append(p)
    return found


def figures(block: str) -> list[str]:
    text = norm(re.sub(r"`[^`]*`", " ", re.sub(r"\]\([^)]*\)", "]", block)))
    return [m.group(0) for m in FIGURE.finditer(text)]


def present(fig: str, text: str) -> bool:
    if "±" in fig:
        a, b = (x.strip() for x in fig.split("±"))
        return re.search(rf"(?<![\d.]){re.escape(a)}\s*±\s*{re.escape(b)}(?!\d)", text) is not None
    return re.search(rf"(?<![\d.]){re.escape(fig)}(?!\d)", text) is not None


def check_figures(readme: str) -> list[str]:
    errors = []
    for heading, prev, block in blocks(readme):
        figs = figures(block)
        if not figs:
            continue
        cited = sources(block) or sources(prev)
        cited += [p for p in sources(heading) if p not in cited]
        first = block.splitlines()[0][:70]
        if not cited:
            errors.append(f"figures {figs} with no cited source: '{first}'")
            continue
        text = "\n".join(norm(p.read_text()) for p in cited)
        names = ", ".join(str(p.relative_to(REPO)) for p in cited)
        for f in figs:
            if not present(f, text):
                errors.append(f"'{f}' (in '{first}') is not in {names}")
    return errors


def check(readme_path: Path = REPO / "README.md") -> list[str]:
    readme = readme_path.read_text()
    return check_verdicts(readme) + check_summary(readme) + check_figures(readme)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verdict", action="store_true", help="print the verdict tables and exit")
    ap.add_argument("--readme", type=Path, default=REPO / "README.md")
    args = ap.parse_args()
    if args.verdict:
        print(verdict_tables())
        return 0
    errors = check(args.readme)
    for e in errors:
        print(e)
    print(f"{len(errors)} disagreement(s)" if errors else "README's figures agree with their sources")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
