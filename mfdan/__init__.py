"""MFDAN-DVC: a reproducible implementation of MFDAN (Cai et al., IEEE TCSVT 2024) for micro-expression
recognition, from the native CASME II / SAMM / SMIC-HS folders to leave-one-subject-out metrics."""

__version__ = "0.1.0"
