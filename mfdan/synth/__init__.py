"""The demo data: a seeded generator writing clips in the datasets' native layouts (``synth`` stage). It sits
beside the pipeline, upstream of ``data``: it uses the reference sheets (data) and dlib landmarks (preprocess)."""
