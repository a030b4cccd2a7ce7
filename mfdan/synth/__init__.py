"""The demo data: seeded generators writing clips and long recordings in the datasets' native layouts (the
``synth`` stages of dvc.yaml and long/dvc.yaml). It sits beside the pipeline, upstream of ``data``: it uses the
reference sheets (data) and dlib landmarks (preprocess).

Clips (:func:`mfdan.synth.generator.synthesize`), one module per step:

* :mod:`.config` — the ``synth`` section (:class:`~.config.SynthConfig`) and the seeded random draws;
* :mod:`.plan` — which subjects and sheet rows each layout gets; each clip's frames, label and AUs;
* :mod:`.geometry` — where each release's frame puts the face, and the face window re-rendered per frame;
* :mod:`.face` — a real face photo made into one subject's identity (placement, shape, tone, lighting);
* :mod:`.action_units` — the AU motion templates and the expression's field in space and weight in time;
* :mod:`.render` — a clip's frames: expression, jitter, the hard set's confounders, sensor noise;
* :mod:`.writers` — frames, coding sheets and the manifest in each release's layout;
* :mod:`.generator` — the run: plan, render each subject (in worker processes), write;
* :mod:`.exact` — image arithmetic that gives the same bits on every x86-64 CPU.

Long recordings (:func:`mfdan.synth.long_videos.synthesize_long`): :mod:`.long_plan` (the ``long_synth``
section and each recording's events), :mod:`.long_videos` (render and write them), built on the clip
generator's face, action units, noise and writers.

Stage entry modules: :mod:`.synth_stage` (dvc.yaml ``synth``), :mod:`.long_synth_stage` (long/dvc.yaml ``synth``).
"""
