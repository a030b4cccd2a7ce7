"""Magnified frames: MagNet (network, checkpoint loader, one inference path), its training recipe on generated
pairs, randomized-factor magnification; the ``train_magnet`` and ``magnify`` stages."""
