"""DVC stage `train@<fold>`: train MFDAN on every subject but <fold>, predict <fold> (leave one subject out)."""
from pathlib import Path

import typer

from mfdan.config import from_dict, load_params, section
from mfdan.model import MFDANConfig
from mfdan.stage import run
from mfdan.training import TrainConfig, check_folds, check_sizes, load_data, train_fold


def main(params: Path = typer.Option(Path("params.yaml")), fold: str = typer.Option(...),
         cache: Path = typer.Option(...), magnified: Path = typer.Option(...), out: Path = typer.Option(...)) -> None:
    p = load_params(params)
    data = load_data(cache, magnified)
    check_folds(list(p.get("folds") or []), data, str(params))
    model_cfg = from_dict(MFDANConfig, {**(p.get("model") or {}), "dropkey": p["dropkey"],
                                        "num_classes": len(data.classes)}, where=f"{params}: model")
    check_sizes(data, model_cfg, cache)
    meta = train_fold(fold, data, model_cfg, section(p, "train", TrainConfig), out)
    typer.echo(f"train@{fold}: {meta['test_samples']} test samples, {meta['epochs_run']} epochs, "
               f"{meta['seconds']} s on {meta['device']}")


if __name__ == "__main__":
    run(main)
