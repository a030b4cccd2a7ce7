"""Predicting on new recordings: the final all-subject model (``train_final``), its card, and ``mfdan predict``."""
