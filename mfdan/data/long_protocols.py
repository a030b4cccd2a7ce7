"""The long-video datasets and what their releases hold, beside :mod:`mfdan.data.protocols` (the clip datasets).

``casme_sq`` (CAS(ME)², Qu et al., IEEE TAC 2018: 98 long videos at 30 fps) and ``samm_lv`` (the SAMM long
videos, Yap et al., FG 2020: 147 at 200 fps), the names the spotting community uses. This module imports nothing
heavy: the command line takes its dataset list from here.
"""
from __future__ import annotations

from mfdan.data.protocols import GROUP_3

LONG_DATASETS = ("casme_sq", "samm_lv")
#: frames per second of the releases
RELEASE_FPS = {"casme_sq": 30.0, "samm_lv": 200.0}
#: the sheets' emotion → the three classes of MEGC's spot-then-recognise task (negative / positive /
#: surprise; others have no class and are left out of its analysis part). CAS(ME)² codes those names itself;
#: SAMM's emotions come from its micro-expression sheet and regroup as the composite's.
THREE_CLASS_LONG: dict[str, dict[str, str | None]] = {
    "casme_sq": {"negative": "negative", "positive": "positive", "surprise": "surprise", "others": None},
    "samm_lv": GROUP_3,
}
#: what the releases hold (intervals coded), to compare a copy against: CAS(ME)² 300 macro + 57 micro in 98
#: videos (Qu et al. 2018); SAMM long videos 343 macro + 159 micro in 147 (Yap et al. 2020)
PUBLISHED = {"casme_sq": {"videos": 98, "micro": 57, "macro": 300},
             "samm_lv": {"videos": 147, "micro": 159, "macro": 343}}
