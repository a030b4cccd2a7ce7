"""Importing this module loads dlib's face detector and 68-point landmark predictor (``landmarks.load_models``).

It exists for the process pools of :mod:`mfdan.core.parallel`: preloaded in the forkserver, it gives every
worker forked from it both models already in memory, instead of each worker reading the ~100 MB predictor file
itself (~0.9 s per worker per stage). Nothing else imports it, and loading the models changes no result."""
from mfdan.preprocess.landmarks import load_models

load_models()
