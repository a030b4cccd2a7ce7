"""Metrics: UF1 / UAR over concatenated fold predictions, and the ``evaluate`` stage (report, confusion matrix,
curves)."""
