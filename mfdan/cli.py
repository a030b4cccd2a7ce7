"""The ``mfdan`` command line."""
from __future__ import annotations

import json
import os
import sys
import functools
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import click

import typer

from mfdan.core.errors import DatasetError, Interrupted
from mfdan.data.long_protocols import LONG_DATASETS as LONG
from mfdan.data.protocols import DATASET_PROTOCOL, DATASETS, PROTOCOLS

app = typer.Typer(
    name="mfdan",
    help="MFDAN micro-expression recognition: native dataset readers, demo data generator, and the "
         "pieces of the DVC pipeline (run the whole pipeline with `dvc repro`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# choice lists come from their one definition: the generator's layouts and the protocol table
Layout = Enum("Layout", {name: name for name in (*DATASETS, *LONG, "all")}, type=str)
ValidateTarget = Enum("ValidateTarget", {name: name for name in (*PROTOCOLS, *DATASET_PROTOCOL, *LONG)}, type=str)


class UsageError(ValueError):
    """Options that do not fit together."""


#: what a command may fail with on bad input (a dataset, a params file, a model folder, a path): said as one
#: line, ``error: ...``, exit status 2; anything else is a bug and keeps its traceback
EXPECTED: tuple[type[Exception], ...] = (DatasetError, ValueError, OSError)


def command(fn: Callable[..., Any] | None = None, *, also: tuple[type[Exception], ...] = ()) -> Any:
    """Register ``fn`` as a command whose expected errors (:data:`EXPECTED`, and ``also``) end it with one line
    on stderr and exit status 2, and whose Ctrl-C-after-saving (an ``Interrupted``) ends it with its message and
    status 130. ``@command`` or ``@command(also=(RuntimeError,))``."""
    if fn is None:
        return functools.partial(command, also=also)
    expected = EXPECTED + also

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except Interrupted as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(130) from None
        except expected as exc:
            typer.echo(f"error: {exc or type(exc).__name__}", err=True)
            raise typer.Exit(2) from None

    return app.command()(run)


@command
def synth(
    layout: Annotated[Layout, typer.Option(help="Native layout to write; 'all' writes one folder per synth.layouts entry "
                                                    "(casme2/, samm/, smic/ by default).")],
    out: Annotated[Path, typer.Option(help="Folder to create (must not exist unless --overwrite).")],
    params: Annotated[Optional[Path], typer.Option(help="Take the generator settings from this params.yaml's "
                                                        "'synth' section.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override the seed.")] = None,
    subjects: Annotated[Optional[int], typer.Option(help="Override subjects per dataset.")] = None,
    samples_per_subject: Annotated[Optional[int], typer.Option(help="Override clips per subject.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Generate a seeded demo dataset of micro-expression clips in a native layout, sheets included."""
    from dataclasses import replace

    from mfdan.core.params import Params
    from mfdan.synth.config import SynthConfig
    from mfdan.synth.generator import synthesize

    if layout.value in LONG:  # long recordings: the `long_synth` section (long/params.yaml)
        from mfdan.synth.long_plan import LongSynthConfig
        from mfdan.synth.long_videos import synthesize_long

        cfg = Params.load(params).section("long_synth", LongSynthConfig) if params else LongSynthConfig()
        cfg = replace(cfg, **{k: v for k, v in dict(seed=seed, subjects=subjects).items() if v is not None})
        plans = synthesize_long(out, cfg, layout=layout.value, overwrite=overwrite)
        typer.echo(f"wrote {len(plans)} long recordings ({layout.value}) to {out}")
        return
    cfg = Params.load(params).section("synth", SynthConfig) if params else SynthConfig()
    overrides = {k: v for k, v in dict(seed=seed, subjects=subjects,
                                       samples_per_subject=samples_per_subject).items() if v is not None}
    plans = synthesize(layout.value, out, replace(cfg, **overrides), progress=True, overwrite=overwrite)
    typer.echo(f"wrote {len(plans)} clips ({layout.value}) to {out}")


@command
def validate(
    dataset: Annotated[ValidateTarget, typer.Option(help="Dataset, or protocol (composite needs casme2/, samm/, "
                                                         "smic/ under ROOT; composite_all takes whichever of the six "
                                                         "dataset folders ROOT holds).")],
    root: Annotated[Path, typer.Option(help="Dataset folder in its native layout.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Read a dataset and print counts per subject and class against the protocol's expectations."""
    from mfdan.data.validate import format_report
    from mfdan.data.validate import validate as run_validate

    if dataset.value in LONG:
        from mfdan.data.long_validate import format_long_report, validate_long

        rep = validate_long(dataset.value, root)
        typer.echo(json.dumps(rep, indent=1) if as_json else format_long_report(rep))
        return
    rep = run_validate(dataset.value, root)
    typer.echo(json.dumps(rep, indent=1) if as_json else format_report(rep))


@command
def protocols(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object: protocol -> class -> "
                                                              "count.")] = False) -> None:
    """Print each protocol's reference sample count per class (what a complete copy of the dataset(s) holds;
    casme2 / samm / smic are MFDAN's Table II sets)."""
    from mfdan.data.protocols import PUBLISHED_TOTALS, reference_counts

    counts = reference_counts()
    if as_json:
        typer.echo(json.dumps(counts))
        return
    for name, per_class in counts.items():
        if None in per_class.values():
            typer.echo(f"{name:<13}    ?  " + "  ".join(per_class) + "  (no public per-sample list; "
                       + ", ".join(f"{d} {PUBLISHED_TOTALS[d]} published" for d in PROTOCOLS[name].datasets
                                   if d in PUBLISHED_TOTALS) + ")")
            continue
        typer.echo(f"{name:<13} {sum(per_class.values()):>4}  " + "  ".join(f"{c} {n}" for c, n in per_class.items()))


@command
def folds(cache: Annotated[Path, typer.Option(help="The packed cache (data/cache.h5).")] = Path("data/cache.h5"),
          evaluation: Annotated[str, typer.Option(help="loso: one fold per subject; hde: one per dataset "
                                                       "(data.evaluation).")] = "loso") -> None:
    """Print the fold list of a packed cache, ready to paste into params.yaml."""
    from mfdan.data.config import EVALUATIONS
    from mfdan.data.folds import cache_folds, folds_fix

    if evaluation not in EVALUATIONS:
        raise UsageError(f"--evaluation {evaluation!r}: expected one of {list(EVALUATIONS)}")
    typer.echo(folds_fix(cache_folds(cache, evaluation)), nl=False)


@command
def params(
    file: Annotated[Path, typer.Argument(help="params.yaml, or a profile (dotted overrides of --base: "
                                              "profiles/paper-casme2.yaml ...).")] = Path("params.yaml"),
    base: Annotated[Path, typer.Option(help="The params file a profile's overrides apply to.")] = Path("params.yaml"),
    cache: Annotated[Path, typer.Option(help="When this packed cache exists, `folds` must name its subjects (LOSO) "
                                             "or datasets (HDE).")] = Path("data/cache.h5"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Check a params file or a profile against the registry and print every section as the stages would see it
    (defaults filled in). Each section is mirrored by one dataclass; unknown keys and bad values are errors."""
    import yaml

    from mfdan.core.params import load_variant
    from mfdan.model.registry import ARCHITECTURES

    resolved = load_variant(file, base).resolved()
    if resolved["model"]["arch"] not in ARCHITECTURES:
        raise ValueError(f"{file}: model.arch: unknown architecture {resolved['model']['arch']!r}; known: "
                         f"{list(ARCHITECTURES)} (`mfdan models`)")
    if cache.is_file() and resolved.get("folds"):
        from mfdan.data.folds import cache_folds

        have = set(cache_folds(cache, resolved["data"]["evaluation"]))
        unknown = [f for f in resolved["folds"] if f not in have]
        if unknown:
            what = "dataset" if resolved["data"]["evaluation"] == "hde" else "subject"
            raise ValueError(f"{file}: folds {unknown} name no {what} of {cache} (`mfdan folds --cache {cache}` "
                             "lists them)")
    if as_json:
        typer.echo(json.dumps(resolved, indent=1))
    else:
        typer.echo(yaml.safe_dump(json.loads(json.dumps(resolved)), sort_keys=False), nl=False)


@command
def recipe(
    file: Annotated[Path, typer.Argument(help="A recipe: dotted overrides of params.yaml (profiles/baseline-<arch>.yaml).")],
    params_file: Annotated[Path, typer.Option("--params", help="The params file the recipe applies to.")] = Path("params.yaml"),
) -> None:
    """Print a recipe as `dvc exp run` arguments, after checking that it applies to the params file:
    `dvc exp run $(mfdan recipe profiles/baseline-ststnet.yaml)`."""
    from mfdan.core.params import Params, apply_overrides, dvc_set_args, load_overrides, load_yaml
    from mfdan.model.registry import model_config

    overrides = load_overrides(file)
    params = Params(apply_overrides(load_yaml(params_file), overrides), source=f"{params_file} + {file}")
    params.resolved()
    model_config(params, num_classes=3)
    typer.echo(" ".join(dvc_set_args(overrides)))  # no spaces inside a value: `dvc exp run $(mfdan recipe ...)`


@command
def models(as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of the table.")] = False,
           classes: Annotated[int, typer.Option(help="Number of classes the counts are for.")] = 3) -> None:
    """List the architectures `model.arch` can name: citation, what each reads, its parameter count at its
    paper's default input, and where ours deviates."""
    from mfdan.model.catalogue import catalogue

    rows = catalogue(num_classes=classes)
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        typer.echo(f"{r['name']:<15} {r['title']:<15} {r['parameters']:>12,} parameters at {r['input']}")
        typer.echo(f"{'':<15} {r['citation']}")
        typer.echo(f"{'':<15} reads: {r['reads']}")
        typer.echo(f"{'':<15} deviations: {r['deviations']}")


@command
def model(as_json: Annotated[bool, typer.Option("--json", help="Also print a JSON summary.")] = False) -> None:
    """Print MFDAN's parameter count and per-module breakdown at the paper configuration (`mfdan models`
    lists every architecture)."""
    import sys as _sys

    from mfdan.model.network import main as model_main

    _sys.argv = ["mfdan.model"] + (["--json"] if as_json else [])
    model_main()


@command
def summary(
    loso: Annotated[Path, typer.Option(help="The evaluate stage's metrics.")] = Path("metrics/loso.json"),
    dataset: Annotated[Path, typer.Option(help="The index stage's metrics (protocol name).")] = Path("metrics/dataset.json"),
) -> None:
    """Print the short result of a run: composite and per-dataset UF1 / UAR, where the figures and the final
    model are, and the next commands (`dvc metrics show` prints everything)."""
    from mfdan.evaluate.summary import summary_text

    typer.echo(summary_text(loso, dataset))


#: the named sweep arms, for --arm's help (profiles/arm-<name>.yaml; read here without importing YAML)
ARMS = sorted(p.stem.removeprefix("arm-")
              for p in (Path(__file__).resolve().parents[1] / "profiles").glob("arm-*.yaml"))
AlignAs = Enum("AlignAs", {name: name for name in DATASETS}, type=str)
SpotterChoice = Enum("SpotterChoice", {name: name for name in ("auto", "softnet", "lbp")}, type=str)


@command
def predict(
    inputs: Annotated[Optional[list[Path]], typer.Argument(
        help="Clip folders (frames in natural order; native dataset clip folders work as they are) or video "
             "files (anything OpenCV reads). Leave out to pass two frames with --onset FILE --apex FILE.",
        show_default=False)] = None,
    model_dir: Annotated[Path, typer.Option("--model", help="A `train_final` output folder (models/final).")] = Path("models/final"),
    onset: Annotated[Optional[str], typer.Option(help="Onset frame: a file (two-frame form), or a frame index of "
                                                      "every folder / video (default 0, the first).")] = None,
    apex: Annotated[Optional[str], typer.Option(help="Apex frame: a file (two-frame form), or a frame index; "
                                                     "default: spotted with the pipeline's flow_peak policy.")] = None,
    align_as: Annotated[AlignAs, typer.Option(help="Whose alignment policy (card's align.method / pre_crop): "
                                                   "casme2 = detect the face and crop it (any face recording); "
                                                   "samm = 420 px centre crop, resized; smic = resize (already "
                                                   "cropped faces).")] = AlignAs.casme2,
    as_json: Annotated[bool, typer.Option("--json", help='One JSON object per answer per line: {"input", "label", '
                                                         '"probabilities", "margin", "unsure", "onset", "apex", '
                                                         '"trained_on"}; a spotted interval adds "offset", times '
                                                         'and "spotter".')] = False,
    cam: Annotated[Optional[Path], typer.Option(help="Write a Grad-CAM overlay PNG per input into this folder, and "
                                                "beside it the magnified apex (<name>_magnified.png).")] = None,
    timings: Annotated[bool, typer.Option("--timings", help="Report seconds per part: import, load and dlib (once, "
                                               "with the first input), read, align, spot, flow, magnify, model, cam.")] = False,
    device: Annotated[str, typer.Option(help="auto (CUDA when present) | cpu | cuda")] = "auto",
    spot: Annotated[bool, typer.Option("--spot", help="Spot the micro-expressions of each video or frame folder "
                                                      "first, then recognise each (the default for a video longer "
                                                      "than 1 s given no --onset/--apex).")] = False,
    whole: Annotated[bool, typer.Option("--whole", help="Treat every video as one clip, however long.")] = False,
    timeline: Annotated[Optional[Path], typer.Option(help="With spotting: write a timeline PNG per recording (motion "
                                                          "score, spotted intervals, classes) into this folder.")] = None,
    fps: Annotated[Optional[float], typer.Option(help="Frame rate of a frame folder to spot in (default 30), or to "
                                                      "override a video's header.")] = None,
    spotter: Annotated[SpotterChoice, typer.Option(help="Which spotter finds the micro-expressions of a long recording: "
                                                        "softnet = the learned SOFTNet in --spotter-model (an error if "
                                                        "none is saved there); lbp = the training-free LBP feature "
                                                        "difference; auto = softnet when one is saved, else lbp.")] = SpotterChoice.auto,
    spotter_model: Annotated[Optional[Path], typer.Option(help="The learned spotter's folder, a `train_spotter` output "
                                                          "(default: long/models/spotter, what `dvc repro "
                                                          "long/dvc.yaml` writes).", show_default=False)] = None,
    min_margin: Annotated[float, typer.Option(help="An answer whose two most probable classes are closer than this "
                                                   "(its margin) is unsure: its text row is marked so and its JSON line "
                                                   "says \"unsure\": true; 0 flags none.")] = 0.1,
    drop_unsure: Annotated[bool, typer.Option("--drop-unsure", help="Leave unsure answers out instead of flagging "
                                                                    "them (each dropped one is named on stderr).")] = False,
) -> None:
    """Predict the micro-expression class of new recordings with a trained model (MFDAN or a baseline), through the pipeline's own
    preprocessing (alignment, TV-L1 + strain, MagNet at the evaluation factor). A video longer than 1 s is
    spotted first, one answer per micro-expression found, each naming its spotter (docs/long.md). Every answer
    carries its margin; a model trained on generated data is said once on stderr. Inputs that fail are named on
    stderr; the others still get answers, and the exit code is 1."""
    # PyTorch's OpenMP threads sleep instead of spinning while they wait: with other work on the cores, spinning
    # made each recognised answer ~12x slower (bench/predict_speed.py); read when torch loads, which is below
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from mfdan.predict.run import PredictionRun, Request  # imports nothing heavy: the preparer forks first

    req = Request(inputs=list(inputs or []), model_dir=model_dir, onset=onset, apex=apex, align_as=align_as.value,
                  cam=cam, timeline=timeline, device=device, spot=spot, whole=whole, fps=fps, spotter=spotter.value,
                  spotter_model=spotter_model, min_margin=min_margin, drop_unsure=drop_unsure)
    failed = 0
    with PredictionRun(req) as run:
        for note in run.notes:  # once: what the models were trained on, which spotter
            typer.echo(note, err=True)
        from mfdan.core.progress import Progress
        from mfdan.predict.render import Renderer

        render = Renderer(run.classes, as_json=as_json, timings=timings)
        for line in render.header():
            typer.echo(line)
        with Progress(len(run), desc="predict", unit="input", enabled=len(run) > 1) as bar:
            for outcome in run:
                if outcome.error is not None:
                    failed += 1
                    typer.echo(f"error: {outcome.error}", err=True)
                for answer in outcome.answers:
                    for line in render.lines(answer):
                        typer.echo(line)
                for note in outcome.notes:
                    typer.echo(note, err=True)
                bar.update(1)
    _QUICK_EXIT.add("predict")  # every answer is out: `main` may skip tearing PyTorch down
    if failed:
        typer.echo(f"{failed} of {len(run)} input{'s' if len(run) > 1 else ''} failed", err=True)
        raise typer.Exit(1)


@command(also=(RuntimeError,))  # a cluster or worker that could not start: one line, as before
def sweep(
    set_: Annotated[str, typer.Option("--set", help="The data: demo (params.yaml), realface (params.yaml with a "
                                      "real face the generator was never tuned on), hard (two real faces with "
                                      "blinks, head drift and roll, varied AUs, weaker motion): profiles/set-NAME.yaml; "
                                      "NAME@D: that set at difficulty D from 0 to 1 (hard@0.5); "
                                      "or the path of a file of dotted overrides of params.yaml.")] = "demo",
    arm: Annotated[Optional[list[str]], typer.Option(
        help="An arm, repeatable: NAME:key=value,... (dotted overrides, YAML values), NAME:@recipe.yaml[,key=value], "
             "NAME: for the params file as it is, or a named arm (profiles/arm-NAME.yaml: "
             f"{', '.join(ARMS)}).")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Add one arm per architecture (`mfdan models`) and "
                                          "protocol, each with its paper's recipe (profiles/baseline-<arch>.yaml).")] = False,
    protocols: Annotated[str, typer.Option(help="With --compare: loso, hde or loso,hde.")] = "loso,hde",
    archs: Annotated[Optional[str], typer.Option(help="With --compare: a comma-separated subset (MFDAN is always in).")] = None,
    budget: Annotated[str, typer.Option(help="With --compare: how long each method trains: recipe (its paper's), "
                                        "steps (train.steps optimizer steps for every method), inner (epochs "
                                        "chosen per fold on inner folds of the training subjects only); "
                                        "profiles/budget-NAME.yaml.")] = "recipe",
    seeds: Annotated[str, typer.Option(help="Training seeds (train.seed): 0-4, 0,2,5 ...")] = "0",
    folds: Annotated[Optional[str], typer.Option(help="Only these folds (comma-separated), for a quick run.")] = None,
    store: Annotated[Path, typer.Option(help="Where results live: tasks/ (by key), runs/<name>/ (tables, log), "
                                        "sets/ (the sets' DVC workspaces). On a cluster, a path every worker sees.")] = Path("sweeps"),
    name: Annotated[Optional[str], typer.Option(help="runs/<name>/ for this sweep's tables (default: the set's name).")] = None,
    threads: Annotated[int, typer.Option(help="PyTorch threads per task (train.threads; part of each task's key).")] = 1,
    workers: Annotated[Optional[int], typer.Option(help="Embedded cluster: worker processes (default: cores / "
                                                   "--threads; one per GPU on a GPU machine).")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Use a running Dask scheduler (tcp://HOST:PORT) and its workers.")] = None,
    cluster: Annotated[Optional[str], typer.Option(help="Start workers as batch jobs: slurm, pbs, sge or lsf (dask-jobqueue).")] = None,
    cluster_config: Annotated[Optional[Path], typer.Option(help="--cluster's settings (cores, memory, walltime, queue, "
                                                           "gpus, jobs, job_script_prologue ...): a YAML file of this machine's, not of the experiment.")] = None,
    job_script: Annotated[bool, typer.Option("--job-script", help="With --cluster: print the batch script a job would "
                                             "submit, and stop.")] = False,
    weights: Annotated[bool, typer.Option(help="Also keep each fold's model in the store.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results (sweep.json) as JSON instead of the table.")] = False,
    export: Annotated[Optional[Path], typer.Option(help="Train nothing: write the tasks and their caches to this folder, "
                                                   "a bundle for a machine without DVC or Dask (python -m "
                                                   "mfdan.sweep.bundle run; docs/sweeps.md).")] = None,
    env: Annotated[Optional[Path], typer.Option(help="A bundle run's envs.json: the tables from the results it "
                                                "trained (merged into --store), training nothing.")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Train nothing: check every task of --store against its "
                                         "recorded SHA-256 and format; one line per damaged task, exit 1 if any.")] = False,
    engine: Annotated[str, typer.Option(help="batched: each worker trains a group of one arm's folds and seeds side "
                                        "by side as one model (torch.func); per-fold: one fold at a time, the bytes "
                                        "train@<fold> writes; auto: batched on CUDA workers, per-fold on CPUs "
                                        "(docs/sweeps.md). The two engines' results are keyed apart.")] = "auto",
    group_size: Annotated[int, typer.Option(help="--engine batched: tasks per group; 0 = as many as give every "
                                            "worker a group, at most 64, within half a worker's memory (needed "
                                            "with --export and --env: the layout is in the keys).")] = 0,
) -> None:
    """Arms × training seeds × folds as independent tasks on Dask, each fold trained as `train@<fold>` trains it
    (byte for byte, at the same train.threads), reused from --store when nothing it depends on changed, then
    UF1 / UAR mean ± sd over seeds, per seed and paired against the first arm. Runs on an embedded local
    cluster unless --scheduler or --cluster says otherwise; Ctrl-C keeps every finished fold."""
    from mfdan.sweep import clusters
    from mfdan.sweep.arms import comparison_arms
    from mfdan.sweep.engine import SweepConfig, run_sweep
    from mfdan.sweep.table import markdown
    from mfdan.sweep.groups import ENGINES

    if verify:  # the store checked, nothing trained (docs/sweeps.md)
        from mfdan.sweep.store import verify_store
        raise typer.Exit(1 if verify_store(store, report=typer.echo).damaged else 0)
    if job_script:
        if not cluster:
            raise UsageError("--job-script needs --cluster")
        typer.echo(clusters.job_script(cluster, cluster_config))
        return
    if export is not None and env is not None:
        raise UsageError("--export and --env exclude each other")
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if group_size and engine == "per-fold":
        raise UsageError("--group-size is --engine batched's")
    if group_size < 0:
        raise UsageError("--group-size: 0 (automatic) or more")
    if scheduler and cluster:
        raise UsageError("--scheduler and --cluster: give one (a running scheduler, or a cluster to start)")
    if scheduler and export is None and env is None:  # checked before the sets are built (minutes)
        clusters.check_scheduler(scheduler)
    if cluster:
        clusters.cluster_options(cluster, cluster_config)
    specs = list(arm or [])
    if compare:
        try:
            specs += comparison_arms([p for p in protocols.split(",") if p],
                                     [a for a in archs.split(",") if a] if archs else None, budget)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if not specs:
        raise UsageError("give --arm NAME[:key=value,...] (repeatable) or --compare")
    cfg = SweepConfig(set=set_, arms=specs, seeds=seeds, folds=[f for f in folds.split(",") if f] if folds else None,
                      store=store, name=name, threads=threads, weights=weights, workers=workers,
                      scheduler=scheduler, cluster=cluster, cluster_config=cluster_config, export=export, env=env,
                      engine=engine, group_size=group_size)
    result = run_sweep(cfg)  # Ctrl-C: SweepInterrupted, an Interrupted (exit status 130, finished folds kept)
    if export is not None:
        typer.echo(json.dumps(result, indent=1) if as_json else
                   f"{result['new_tasks']} new task(s) in {export}/bundle.json; there: python -m mfdan.sweep.bundle "
                   f"run {export} --store STORE")
        return
    typer.echo(json.dumps(result, indent=1) if as_json else markdown(result))
    if result["failed"] or result["missing"]:
        typer.echo(f"{len(result['failed'])} task(s) failed: " + "; ".join(f"{k}: {v}" for k, v in result["failed"].items()),
                   err=True)
        raise typer.Exit(1)


#: commands that finished their work and wrote every output: the process may end without the interpreter's
#: teardown, which for PyTorch's modules takes ~0.4 s of a 2 s prediction (docs/predict.md)
_QUICK_EXIT: set[str] = set()


def main() -> None:
    """The ``mfdan`` entry point. After ``predict`` has written and flushed everything, the process ends at once
    (``os._exit`` with the command's exit status); other commands, and ``app`` called in-process (tests), end
    normally. SIGTERM ends a command as Ctrl-C does, its temporary outputs removed."""
    from mfdan.core.stage import stop_on_sigterm

    stop_on_sigterm()
    try:
        app()
    except SystemExit as exc:
        if _QUICK_EXIT:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                print(exc.code, file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise


if __name__ == "__main__":
    main()
