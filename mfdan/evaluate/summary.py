"""The short ending of a run (``mfdan summary``, the last step of ``make demo``): composite and per-dataset
UF1 / UAR of the LOSO folds, how they were selected, where the figures and the final model are, and what to
run next, and whether the magnified frames passed their bar. It only reads what the stages wrote
(``metrics/loso.json``, ``metrics/dataset.json``, ``metrics/magnet.json``, ``metrics/magnify.json``); ``dvc
metrics show`` stays the full table."""
from __future__ import annotations

from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.core.files import read_json

DATASET_NAMES = {"casme2": "CASME II", "samm": "SAMM", "smic": "SMIC-HS"}
NEXT = (
    ("dvc metrics show", "every metric, every fold"),
    ("dvc plots show", "figures and training curves -> dvc_plots/index.html"),
    ("dvc exp run -S dropkey=0.4", "an experiment (only the folds and what follows rerun)"),
    ("dvc exp run -S model.arch=ststnet", "a baseline through the same folds (`mfdan models`)"),
    ("mfdan predict --onset A.jpg --apex B.jpg", "the final model on two frames of yours"),
)
WIDTH = 100


def _read(path: Path) -> dict:
    return read_json(path, what="this metrics file", missing="missing; run `dvc repro` first")


def magnification_lines(magnet: Path, magnify: Path) -> list[str]:
    """What the MagNet bar (``train_magnet``) and the check on the clips (``magnify_check``) found: one line when
    both pass, a line naming what was missed otherwise; nothing when neither stage has written its metrics."""
    parts, missed = [], []
    if magnet.is_file():
        m = _read(magnet)
        scores = m.get("held_out_psnr_db") or {}
        if "reconstruction" in scores and "magnification" in scores:
            parts.append(f"MagNet {scores['reconstruction']['magnet']:.1f} dB at a=1, "
                         f"{scores['magnification']['gain_db']:+.1f} dB at a=2-8")
            missed += m.get("failures") or []
    if magnify.is_file():
        c = _read(magnify)
        if "motion_r" in c:
            parts.append(f"clips r {c['motion_r']['median']:+.2f}")
            missed += c.get("failures") or []
    if not parts:
        return []
    figures = magnify.with_suffix("")
    verdict = "bar passed" if not missed else "BAR MISSED"
    lines = [f"Magnification ({figures}/): {verdict}; {'; '.join(parts)}"]
    lines += [f"  missed: {f}" for f in missed]
    return lines


def summary_text(loso: Path = Path("metrics/loso.json"), dataset: Path = Path("metrics/dataset.json"), *,
                 grids: Path = Path("metrics/gradcam"), final: Path = Path("models/final")) -> str:
    """A dozen lines, none wider than :data:`WIDTH` characters. The magnification line reads ``magnet.json`` and
    ``magnify.json`` beside ``loso``."""
    m = _read(loso)
    for key in ("uf1", "uar", "samples", "folds", "per_dataset"):
        if key not in m:
            raise DatasetError(loso, f"has no {key!r}; it was not written by the evaluate stage")
    protocol = _read(dataset).get("protocol", "?") if dataset.is_file() else "?"
    classes = m.get("class_counts", {})
    rows = [("composite" if len(m["per_dataset"]) > 1 else "all", m["uf1"], m["uar"], m["samples"])]
    rows += [(DATASET_NAMES.get(k, k), v["uf1"], v["uar"], v["samples"]) for k, v in m["per_dataset"].items()]
    hde = m.get("evaluation") == "hde"
    held = "dataset" if hde else "subject"
    arch = ", ".join(m.get("arch") or ["mfdan"])
    lines = [f"{'HDE' if hde else 'LOSO'} result ({arch}): {m['folds']} folds (one per held-out {held}), "
             f"{m['samples']} samples, protocol {protocol}, {len(classes)} classes"]
    if not m.get("complete", True):
        lines.append(f"  INCOMPLETE: folds missing {', '.join(m.get('folds_missing') or ['?'])}")
    lines.append(f"  {'':<10} {'UF1':>6} {'UAR':>6} {'samples':>8}")
    lines += [f"  {name:<10} {uf1:>6.3f} {uar:>6.3f} {n:>8}" for name, uf1, uar, n in rows]
    chance = 1 / len(classes) if classes else None
    selection = (m.get("epoch_selection") or ["?"])[0].split(";")[0]  # e.g. "last epoch of a fixed 20-epoch schedule"
    lines.append(f"  model kept: {selection} (never chosen on the test subject)")
    if chance:
        lines.append(f"  chance: UF1 ~ {chance:.2f} ({len(classes)} classes)")
    figures = sorted(p.name for p in grids.glob("*.png")) if grids.is_dir() else []
    lines.append(f"Figures: Fig. 5 confusions in metrics/confusion/, Fig. 6 Grad-CAM in {grids}/"
                 + (f" ({len(figures)} PNGs)" if figures else " (not written)"))
    lines += magnification_lines(loso.parent / "magnet.json", loso.parent / "magnify.json")
    lines.append(f"Final model: {final}/" + (" (for `mfdan predict`)" if (final / "card.json").is_file() else " not written"))
    lines.append("Next:")
    width = max(len(c) for c, _ in NEXT)
    lines += [f"  {c:<{width}}  {what}" for c, what in NEXT]
    return "\n".join(line if len(line) <= WIDTH else line[:WIDTH - 1] + "…" for line in lines)
