"""Indices into the 68 facial landmarks of the iBUG 300-W scheme (dlib's 68-point predictor), shared by the
alignment (eye centres) and HTNet (its four regions) without either importing the other."""
from __future__ import annotations

LEFT_EYE = slice(36, 42)          #: the subject's right eye, image left
RIGHT_EYE = slice(42, 48)
MOUTH_LEFT, MOUTH_RIGHT = 48, 54  #: mouth corners (image left, image right)
