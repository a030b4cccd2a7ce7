"""Aligned frames → flow + strain → cache: dlib landmarks, one-transform-per-clip alignment, apex spotting,
TV-L1 optical flow, optical strain (Eq. 3); the ``align``, ``flow`` and ``pack`` stages."""
