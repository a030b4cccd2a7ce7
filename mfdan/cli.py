"""The ``mfdan`` command line."""
from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from mfdan.core.errors import DatasetError
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
LONG = ("casme_sq", "samm_lv")  # mfdan.data.long_records.LONG_DATASETS (not imported here: start-up time)
Layout = Enum("Layout", {name: name for name in (*DATASETS, *LONG, "all")}, type=str)
ValidateTarget = Enum("ValidateTarget", {name: name for name in (*PROTOCOLS, *DATASET_PROTOCOL, *LONG)}, type=str)


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc or type(exc).__name__}", err=True)
    raise typer.Exit(2)


def _usage(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
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
    from mfdan.synth.generator import SynthConfig, synthesize

    if layout.value in LONG:  # long recordings: the `long_synth` section (long/params.yaml)
        from mfdan.spotting.synth import LongSynthConfig, synthesize_long

        try:
            cfg = Params.load(params).section("long_synth", LongSynthConfig) if params else LongSynthConfig()
            cfg = replace(cfg, **{k: v for k, v in dict(seed=seed, subjects=subjects).items() if v is not None})
            plans = synthesize_long(out, cfg, layout=layout.value, overwrite=overwrite)
        except (ValueError, FileExistsError, FileNotFoundError, DatasetError) as exc:
            _fail(exc)
        typer.echo(f"wrote {len(plans)} long recordings ({layout.value}) to {out}")
        return
    try:
        cfg = Params.load(params).section("synth", SynthConfig) if params else SynthConfig()
        overrides = {k: v for k, v in dict(seed=seed, subjects=subjects,
                                           samples_per_subject=samples_per_subject).items() if v is not None}
        cfg = replace(cfg, **overrides)
        plans = synthesize(layout.value, out, cfg, progress=True, overwrite=overwrite)
    except (ValueError, FileExistsError, FileNotFoundError, DatasetError) as exc:
        _fail(exc)
    typer.echo(f"wrote {len(plans)} clips ({layout.value}) to {out}")


@app.command()
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
        from mfdan.data.long_records import format_long_report, validate_long

        try:
            rep = validate_long(dataset.value, root)
        except (DatasetError, ValueError) as exc:
            _fail(exc)
        typer.echo(json.dumps(rep, indent=1) if as_json else format_long_report(rep))
        return
    try:
        rep = run_validate(dataset.value, root)
    except (DatasetError, ValueError) as exc:
        _fail(exc)
    typer.echo(json.dumps(rep, indent=1) if as_json else format_report(rep))


@app.command()
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


@app.command()
def folds(cache: Annotated[Path, typer.Option(help="The packed cache (data/cache.h5).")] = Path("data/cache.h5"),
          evaluation: Annotated[str, typer.Option(help="loso: one fold per subject; hde: one per dataset "
                                                       "(data.evaluation).")] = "loso") -> None:
    """Print the fold list of a packed cache, ready to paste into params.yaml."""
    from mfdan.data.config import EVALUATIONS
    from mfdan.data.folds import cache_folds, folds_fix

    if evaluation not in EVALUATIONS:
        _usage(f"--evaluation {evaluation!r}: expected one of {list(EVALUATIONS)}")
    try:
        names = cache_folds(cache, evaluation)
    except DatasetError as exc:
        _fail(exc)
    typer.echo(folds_fix(names), nl=False)


@app.command()
def params(
    file: Annotated[Path, typer.Argument(help="A params file (params.yaml or a profile).")] = Path("params.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Check a params file against the registry and print every section as the stages see it (defaults
    filled in). Each section is mirrored by one dataclass; unknown keys and bad values are errors."""
    import yaml

    from mfdan.core.params import Params

    from mfdan.model.registry import ARCHITECTURES

    try:
        resolved = Params.load(file).resolved()
        if resolved["model"]["arch"] not in ARCHITECTURES:
            raise ValueError(f"{file}: model.arch: unknown architecture {resolved['model']['arch']!r}; known: "
                             f"{list(ARCHITECTURES)} (`mfdan models`)")
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(resolved, indent=1))
    else:
        typer.echo(yaml.safe_dump(json.loads(json.dumps(resolved)), sort_keys=False), nl=False)


@app.command()
def recipe(
    file: Annotated[Path, typer.Argument(help="A recipe: dotted overrides of params.yaml (profiles/baseline-<arch>.yaml).")],
    params_file: Annotated[Path, typer.Option("--params", help="The params file the recipe applies to.")] = Path("params.yaml"),
) -> None:
    """Print a recipe as `dvc exp run` arguments, after checking that it applies to the params file:
    `dvc exp run $(mfdan recipe profiles/baseline-ststnet.yaml)`."""
    from mfdan.core.params import Params, apply_overrides, dvc_set_args, load_overrides, load_yaml
    from mfdan.model.registry import model_config

    try:
        overrides = load_overrides(file)
        params = Params(apply_overrides(load_yaml(params_file), overrides), source=f"{params_file} + {file}")
        params.resolved()
        model_config(params, num_classes=3)
        args = dvc_set_args(overrides)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(" ".join(args))  # no spaces inside a value: `dvc exp run $(mfdan recipe ...)`


@app.command()
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


@app.command()
def model(as_json: Annotated[bool, typer.Option("--json", help="Also print a JSON summary.")] = False) -> None:
    """Print MFDAN's parameter count and per-module breakdown at the paper configuration (`mfdan models`
    lists every architecture)."""
    import sys as _sys

    from mfdan.model.network import main as model_main

    _sys.argv = ["mfdan.model"] + (["--json"] if as_json else [])
    model_main()


@app.command()
def summary(
    loso: Annotated[Path, typer.Option(help="The evaluate stage's metrics.")] = Path("metrics/loso.json"),
    dataset: Annotated[Path, typer.Option(help="The index stage's metrics (protocol name).")] = Path("metrics/dataset.json"),
) -> None:
    """Print the short result of a run: composite and per-dataset UF1 / UAR, where the figures and the final
    model are, and the next commands (`dvc metrics show` prints everything)."""
    from mfdan.evaluate.summary import summary_text

    try:
        typer.echo(summary_text(loso, dataset))
    except DatasetError as exc:
        _fail(exc)


AlignAs = Enum("AlignAs", {name: name for name in DATASETS}, type=str)


@app.command()
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
    as_json: Annotated[bool, typer.Option("--json", help='One JSON object per input per line: {"input", "label", '
                                                         '"probabilities", "onset", "apex"}.')] = False,
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
) -> None:
    """Predict the micro-expression class of new recordings with a trained model (MFDAN or a baseline), through the pipeline's own
    preprocessing (alignment, TV-L1 + strain, MagNet at the evaluation factor). A video longer than 1 s is
    spotted first, one answer per micro-expression found (docs/long.md). Inputs that fail are named on
    stderr; the others still get answers, and the exit code is 1."""
    from mfdan.predict import preparer as forked

    def read_input(p: Path, first: int, peak: int | None):
        from mfdan.predict.inputs import read_input  # OpenCV: imported by the preparing process, when forked

        return read_input(p, first, peak)

    def two_frames(a: str, b: str):
        from mfdan.predict.inputs import two_frames

        return two_frames(a, b)

    def index(name: str, value: str | None) -> int | None:
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            _usage(f"--{name} {value!r}: with clip folders or videos, --{name} is a frame index (an integer)")

    if spot and whole:
        _usage("--spot and --whole exclude each other")
    spot_cfg = None
    if inputs:
        first, peak = index("onset", onset) or 0, index("apex", apex)
        jobs = [(str(p), lambda p=p: read_input(p, first, peak)) for p in inputs]
        if not whole and onset is None and apex is None:
            from mfdan.spotting.config import SpotConfig
            from mfdan.spotting.video_frames import is_long

            spot_cfg = SpotConfig()
            jobs = [(src, ("spot", Path(src)) if spot or (Path(src).is_file() and is_long(Path(src), spot_cfg.short_video))
                     else read) for src, read in jobs]
        elif spot:
            _usage("--spot finds onsets and apexes itself: leave out --onset / --apex")
    elif onset is not None and apex is not None:
        jobs = [(onset, lambda: two_frames(onset, apex))]
    else:
        _usage("give clip folders or video files, or two frames as --onset FILE --apex FILE")
    # the clip inputs are read, aligned and turned into flow by a forked process that loads dlib's models while
    # PyTorch is imported here (mfdan/predict/preparer.py); long recordings are spotted here
    clips = [read for _, read in jobs if not isinstance(read, tuple)]
    preparer = forked.Preparer(clips, model_dir, align_as=align_as.value) if clips and forked.available() else None
    t_import = time.perf_counter()
    from mfdan.core.device import resolve_device  # torch: most of a prediction's start-up
    from mfdan.core.progress import Progress
    from mfdan.predict.model_card import load_final
    from mfdan.predict.predictor import classify, predict_clip
    started = {"import": time.perf_counter() - t_import}  # once per run: reported with the first input
    try:
        t_load = time.perf_counter()
        dev = resolve_device(device)
        fm = load_final(model_dir, dev)
        if cam is not None:
            from mfdan.evaluate.gradcam import supports_cam

            if not supports_cam(fm.model):
                raise ValueError(f"--cam: the {fm.card['params'].get('arch', 'mfdan')} model in {model_dir} has no "
                                 "spatial map for Grad-CAM; run without --cam")
        started["load"] = time.perf_counter() - t_load  # the model folder
        if preparer is not None and not preparer.start():  # it could not read the card's preprocessing
            preparer = None
        if preparer is None or len(clips) < len(jobs):
            from mfdan.preprocess.landmarks import load_models

            t_dlib = time.perf_counter()
            load_models()  # dlib's detector and landmark predictor, once, here
            started["dlib"] = time.perf_counter() - t_dlib
        else:
            started["dlib"] = preparer.load_s  # in the preparing process, beside PyTorch's import
    except (DatasetError, ValueError) as exc:
        if preparer is not None:
            preparer.close(kill=True)
        _fail(exc)
    prepared = preparer.results() if preparer is not None else None
    failed, taken = 0, set()
    if not as_json:
        head = f"{'input':<40} {'label':<10} " + " ".join(f"{'p(' + c + ')':>12}" for c in fm.classes)
        typer.echo(head + "  onset -> apex")
    with Progress(len(jobs), desc="predict", unit="input", enabled=len(jobs) > 1) as bar, _ending(preparer):
        for source, read in jobs:
            try:
                if isinstance(read, tuple):  # a long recording: spot, then recognise
                    _spotted(fm, read[1], spot_cfg, fps=fps, cam=cam, timeline=timeline, as_json=as_json,
                             device=dev, taken=taken)
                    bar.update(1)
                    continue
                if prepared is not None:
                    got = next(prepared)
                    if isinstance(got, DatasetError):
                        raise got
                    read_s, prep = got
                    p = classify(fm, prep, cam=cam is not None, device=dev)
                else:
                    t0 = time.perf_counter()
                    clip = read()
                    read_s = time.perf_counter() - t0
                    p = predict_clip(fm, clip, align_as=align_as.value, cam=cam is not None, device=dev)
                p.seconds = {**started, "read": read_s, **p.seconds}
                started = {}
                if cam is not None:
                    from mfdan.predict.predictor import cam_name, write_cam

                    write_cam(cam, cam_name(source, taken), p)
            except DatasetError as exc:
                failed += 1
                typer.echo(f"error: {exc}", err=True)
                bar.update(1)
                continue
            if as_json:
                typer.echo(json.dumps(p.record(timings)))
            else:
                line = f"{p.input:<40} {p.label:<10} " + " ".join(f"{p.probabilities[c]:>12.4f}" for c in fm.classes)
                typer.echo(f"{line}  {p.onset} -> {p.apex}" + (" (spotted)" if p.apex_source == "flow_peak" else ""))
                if timings:
                    typer.echo("    seconds: " + ", ".join(f"{k} {v:.3f}" for k, v in p.seconds.items()))
            bar.update(1)
    _QUICK_EXIT.add("predict")  # every answer is out: `main` may skip tearing PyTorch down
    if failed:
        typer.echo(f"{failed} of {len(jobs)} input{'s' if len(jobs) > 1 else ''} failed", err=True)
        raise typer.Exit(1)


@contextmanager
def _ending(preparer):
    """The preparing process ends with the loop: waited for when every input was prepared, ended otherwise."""
    try:
        yield
    except BaseException:
        if preparer is not None:
            preparer.close(kill=True)
        raise
    if preparer is not None:
        preparer.close()


def _spotted(fm, path: Path, cfg, *, fps, cam, timeline, as_json, device, taken) -> None:
    """One long recording's answers, one line (or JSON object) per spotted micro-expression."""
    from mfdan.predict.predictor import cam_name, write_cam
    from mfdan.spotting import timeline as tl
    from mfdan.spotting.predict_long import spot_recording

    res = spot_recording(fm, path, cfg, fps=fps, cam=cam is not None, device=device)
    for rec, (iv, p) in zip(res.records(), res.answers):
        if as_json:
            typer.echo(json.dumps(rec))
        else:
            line = f"{str(path) + f' [{iv.onset}-{iv.offset}]':<40} {p.label:<10} " + " ".join(
                f"{p.probabilities[c]:>12.4f}" for c in fm.classes)
            typer.echo(f"{line}  {iv.onset} -> {iv.apex} -> {iv.offset} ({rec['onset_s']:.2f}-{rec['offset_s']:.2f} s, spotted)")
        if cam is not None:
            write_cam(cam, cam_name(f"{path.stem}_{iv.onset}", taken), p)
    if not res.answers:
        typer.echo(f"{path}: no micro-expression spotted ({res.n} frames, {int(res.face.sum())} with a face"
                   + (f", {res.unrecognised} without a face at the onset" if res.unrecognised else "") + ")", err=True)
    if timeline is not None:
        img = tl.draw(res.curve, res.fps, [iv for iv, _ in res.answers] + res.macro, threshold=res.threshold,
                      face=res.face, title=str(path))
        tl.write(timeline / f"{path.stem or 'recording'}.png", img)


@app.command()
def sweep(
    set_: Annotated[str, typer.Option("--set", help="The data: demo (params.yaml), realface (params.yaml with a "
                                      "real face the generator was never tuned on), hard (two real faces with "
                                      "blinks, head drift and roll, varied AUs, weaker motion) or a params file's "
                                      "path.")] = "demo",
    arm: Annotated[Optional[list[str]], typer.Option(
        help="An arm, repeatable: NAME:key=value,... (dotted overrides, YAML values), NAME:@recipe.yaml[,key=value], "
             "NAME: for the params file as it is, or a named arm (flow_driven, self_only, dropkey_0, "
             "magnify_linear, magnify_none, flow_p99, self_only_p99).")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Add one arm per architecture (`mfdan models`) and "
                                          "protocol, each with its paper's recipe (profiles/baseline-<arch>.yaml).")] = False,
    protocols: Annotated[str, typer.Option(help="With --compare: loso, hde or loso,hde.")] = "loso,hde",
    archs: Annotated[Optional[str], typer.Option(help="With --compare: a comma-separated subset (MFDAN is always in).")] = None,
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
) -> None:
    """Arms × training seeds × folds as independent tasks on Dask, each fold trained as `train@<fold>` trains it
    (byte for byte, at the same train.threads), reused from --store when nothing it depends on changed, then
    UF1 / UAR mean ± sd over seeds, per seed and paired against the first arm. Runs on an embedded local
    cluster unless --scheduler or --cluster says otherwise; Ctrl-C keeps every finished fold."""
    from mfdan.sweep import clusters
    from mfdan.sweep.arms import comparison_arms
    from mfdan.sweep.engine import SweepConfig, SweepInterrupted, run_sweep
    from mfdan.sweep.table import markdown

    if job_script:
        if not cluster:
            _usage("--job-script needs --cluster")
        try:
            typer.echo(clusters.job_script(cluster, cluster_config))
        except (ValueError, OSError) as exc:
            _fail(exc)
        return
    if export is not None and env is not None:
        _usage("--export and --env exclude each other")
    specs = list(arm or [])
    try:
        if compare:
            specs += comparison_arms([p for p in protocols.split(",") if p],
                                     [a for a in archs.split(",") if a] if archs else None)
        if not specs:
            _usage("give --arm NAME[:key=value,...] (repeatable) or --compare")
        cfg = SweepConfig(set=set_, arms=specs, seeds=seeds, folds=[f for f in folds.split(",") if f] if folds else None,
                          store=store, name=name, threads=threads, weights=weights, workers=workers,
                          scheduler=scheduler, cluster=cluster, cluster_config=cluster_config, export=export,
                          env=env)
        result = run_sweep(cfg)
    except SweepInterrupted as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(130)
    except (ValueError, OSError, RuntimeError, DatasetError) as exc:
        _fail(exc)
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
    normally."""
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
