"""DVC stage `index`: read the protocol's datasets from their native folders (params.yaml `data`) and write
the sample index every later stage reads, plus dataset counts as a DVC metric."""
import json
from pathlib import Path

import typer

from mfdan.config import DataConfig, load_params, section
from mfdan.protocols import get_protocol
from mfdan.stage import run
from mfdan.validate import check_frames, read_for_protocol, report


def main(params: Path = typer.Option(Path("params.yaml")), out: Path = typer.Option(...),
         metrics: Path = typer.Option(...)) -> None:
    cfg = section(load_params(params), "data", DataConfig)
    proto = get_protocol(cfg.protocol)
    samples = read_for_protocol(cfg.protocol, ".", roots=cfg.roots)
    check_frames(samples)
    rep = report(cfg.protocol, samples, root=", ".join(cfg.roots[d] for d in proto.datasets))
    rows = []
    for s, label in proto.select(samples):
        rows.append(s.to_json() | {"label": label, "label_index": proto.classes.index(label)})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"protocol": proto.name, "classes": list(proto.classes), "samples": rows}, indent=1))
    metrics.parent.mkdir(parents=True, exist_ok=True)
    summary = {k: rep[k] for k in ("protocol", "samples_read", "samples_kept")} | {
        "subjects": len(rep["subjects"]), "classes": rep["counts"]["total"],
        "reference_complete": rep["reference"]["complete"],
        "label_mismatches": len(rep["reference"]["label_mismatches"])}
    metrics.write_text(json.dumps(summary, indent=1) + "\n")
    typer.echo(f"index: {len(rows)} samples ({proto.name}) -> {out}")


if __name__ == "__main__":
    run(main)
