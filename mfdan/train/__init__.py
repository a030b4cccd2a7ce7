"""Folds: leave-one-subject-out training of MFDAN (fold data, the training loop, losses, optimizers,
class-balanced sampling); the ``train@<fold>`` stage."""
