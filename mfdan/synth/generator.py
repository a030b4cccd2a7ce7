"""Procedural micro-expression clips written in the native CASME II / SAMM / SMIC-HS / CAS(ME)³ / MMEW / CASME
layouts: :func:`synthesize`, which plans each layout, renders each subject's clips and writes them.

Nobody outside the licensing labs can ship the real datasets, so the project's embedded default is a
generator whose output the *same* readers and pipeline consume. Each clip is built from a real face
photo (``faces``: scikit-image's ``astronaut`` for the demo; matplotlib's ``grace_hopper`` too, see
:data:`~mfdan.synth.config.FACE_PHOTOS`). The parts, in the order a clip is made:

* :mod:`~mfdan.synth.config`: the ``synth`` section (:class:`~mfdan.synth.config.SynthConfig`) and the seeded
  random draws;
* :mod:`~mfdan.synth.plan`: which subjects and coding-sheet rows each layout gets, and each clip's frame
  numbers, label and AUs;
* :mod:`~mfdan.synth.geometry`, :mod:`~mfdan.synth.face`: where each release's frame puts the face, and each
  subject's **identity** (random affine geometry, a smooth elastic warp of the face shape, skin tone and
  illumination);
* :mod:`~mfdan.synth.action_units`, :mod:`~mfdan.synth.render`: the **expression** per clip, a localized,
  AU-like displacement field anchored on the identity's own dlib landmarks (e.g. AU1+2 brow raise for
  surprise, AU12 lip-corner pull for happiness, AU4 brow lowerer plus AU9/10, AU14/15 or AU7 for the negative
  emotions), peaking at the apex with a sub-pixel to ~2 px amplitude and following a smooth onset → apex →
  offset profile, and the **nuisance**: small global head jitter per frame and Gaussian sensor noise;
* :mod:`~mfdan.synth.writers`: frames, coding sheets and the manifest in each release's layout.

The *hard* set (``mfdan sweep --set hard``, ``profiles/set-hard.yaml``) switches on the confounders of real
recordings, all off by default so the demo's clips are unchanged: a blink (AU45) anywhere in a clip
(``blink_rate``), head drift and roll growing from onset to offset (``drift``, ``roll``), several AU
combinations per class, each AU at its own intensity (``au_variants``), and weaker motion (a lower
``amplitude``).

Frames have the release's geometry (``geometry: release``): CASME II 640×480 colour with the face where the raw
release has it, SAMM 2040×1088 greyscale with the face near the centre (so the paper's 420×420 centre crop runs
as on the release), SMIC-HS as its distributed face crops, CAS(ME)³ 1280×720, MMEW 1920×1080, CASME 1280×720
(Section A) and 640×480 (Section B), all colour. Only a window around the face is re-sampled per frame; the rest
is the subject's static frame plus per-frame noise. ``geometry: compact`` writes small square frames instead
(the tests' fast path).

Everything is drawn from ``numpy.random.default_rng`` seeded by ``(seed, layout, subject, sample)``, so the same
config writes the same bytes (spreadsheets included: their zip timestamps are fixed). dlib must detect the face
in every frame written (in its face window); the generator checks that and fails loudly otherwise. The image
arithmetic is :mod:`mfdan.synth.exact`, so the same config writes the same bytes on any x86-64 CPU, whatever
SIMD features it has (tested with features disabled).
"""
from __future__ import annotations

from pathlib import Path

from mfdan.core.files import written_folder
from mfdan.core.parallel import imap_ordered, worker_count
from mfdan.preprocess import landmarks as lm
from mfdan.synth.config import SynthConfig
from mfdan.synth.face import make_identity
from mfdan.synth.plan import ClipPlan, plan_layout
from mfdan.synth.render import render_clip
from mfdan.synth.writers import frame_relpath, write_image, write_manifest, write_sheet


def synthesize(layout: str, out: str | Path, cfg: SynthConfig = SynthConfig(), *,
               progress: bool = False, overwrite: bool = False) -> list[ClipPlan]:
    """Write a dataset of ``layout`` (one of :data:`~mfdan.synth.config.LAYOUTS`, or ``all``: ``cfg.layouts``)
    to ``out``.

    Subjects are independent (each draws from its own seeds), so they are written by ``cfg.workers``
    processes with the same bytes for any number (a script that calls this with more than one worker needs
    Python's ``if __name__ == "__main__":`` guard, as any multiprocessing code). The tree is built in a temporary sibling folder and
    renamed into place when complete, so an interrupted run never leaves a tree that looks finished.
    ``out/synth_manifest.json`` records the config and every clip (readers ignore it).
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists (pass overwrite=True / --overwrite to replace it)")
    layouts = cfg.layouts if layout == "all" else (layout,)
    plans_by_layout = {lay: plan_layout(lay, cfg) for lay in layouts}
    with written_folder(out) as tmp:
        jobs = []
        for lay, plans in plans_by_layout.items():
            root = tmp / lay if layout == "all" else tmp
            subjects = sorted({p.subject for p in plans})
            for i, subject in enumerate(subjects):  # face photos given to the subjects in turn
                jobs.append((lay, subject, cfg.faces[i % len(cfg.faces)],
                             [p for p in plans if p.subject == subject], cfg, root))
        workers = min(len(jobs), worker_count(cfg.workers))
        for _ in imap_ordered(_write_subject, jobs, workers=workers, total=len(jobs), desc="synth",
                              unit="subject", enabled=progress, preload=lm.PRELOAD):
            pass
        for lay, plans in plans_by_layout.items():
            root = tmp / lay if layout == "all" else tmp
            root.mkdir(parents=True, exist_ok=True)
            write_sheet(lay, plans, root)
            write_manifest(lay, plans, cfg, root)
    return [p for plans in plans_by_layout.values() for p in plans]


def _write_subject(job: tuple[str, str, str, list[ClipPlan], SynthConfig, Path]) -> int:
    """One subject of one layout: its identity, then each of its clips' frames, written under ``root``; with
    ``check_faces``, dlib must find the face in each clip's onset and apex windows."""
    lay, subject, face, plans, cfg, root = job
    ident = make_identity(lay, subject, cfg, face)
    x0, y0, x1, y1 = ident.geometry.window()
    for p in plans:
        for n, img in zip(range(p.onset, p.offset + 1), render_clip(ident, p, cfg)):
            if cfg.check_faces and n in (p.onset, p.apex) and lm.detect_face(img[y0:y1, x0:x1]) is None:
                raise RuntimeError(f"synth: dlib finds no face in {lay}/{frame_relpath(p, n)}")
            write_image(root / frame_relpath(p, n), img, lay)
    return len(plans)
