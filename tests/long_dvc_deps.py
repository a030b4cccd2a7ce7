"""long/dvc.yaml, written from its stages' import closures: ``python -m tests.long_dvc_deps`` rewrites it
(tests/test_spotting.py checks it lists what each stage runs, as tests/dvc_deps.py does for dvc.yaml).

The stages run with ``wdir: long`` (the file's folder), so code paths carry ``../``."""
import re

import yaml

from mfdan.spotting.spotter_folder import SPOT_KEYS
from tests.dvc_deps import REPO, closure, listed


def deps(script: str, extra=()) -> list[str]:
    return ["../" + d for d in listed(closure(script))] + list(extra)


def UNCACHED(path: str) -> dict:  # noqa: N802
    """An output DVC does not cache: the clip pipeline's `dvc checkout` never needs the long pipeline's outputs
    (a cached output that was never produced makes every `dvc checkout` of the project fail)."""
    return {path: {"cache": False}}


#: what the features depend on (the rest of `spot` is the spotter's: changing it reruns `spot` on)
FEATURE_KEYS = ("detect_every", "detect_width", "upsample", "realign", "face_size", "margin", "k_micro", "k_macro",
                "blocks", "top_fraction", "mask_eyes")
FLOW_KEYS = ("input_size", "flow", "flow_size")

STAGES = {
 "synth": {"cmd": "python ../pipeline/long_synth.py --params params.yaml --out data/raw",
           "deps": deps("pipeline/long_synth.py"), "params": ["long_synth"], "outs": [UNCACHED("data/raw")]},
 "features": {"foreach": "${long_data.roots}", "do": {
     "cmd": "python ../pipeline/long_features.py --params params.yaml --dataset ${key} --out data/features/${key}.h5",
     "deps": deps("pipeline/long_features.py", ["${item}"]),
     "params": ["long_data"] + [f"spot.{k}" for k in FEATURE_KEYS] + [f"softnet.{k}" for k in FLOW_KEYS],
     "outs": [UNCACHED("data/features/${key}.h5")]}},
 "spot": {"cmd": "python ../pipeline/long_spot.py --params params.yaml --features data/features --out data/spots.json --curves data/curves.h5 --loso data/softnet_loso.json",
          "deps": deps("pipeline/long_spot.py", ["data/features"]), "params": ["spot", "softnet"],
          "outs": [UNCACHED("data/spots.json"), UNCACHED("data/curves.h5"), UNCACHED("data/softnet_loso.json")]},
 "recognise": {"cmd": "python ../pipeline/long_recognise.py --model ../models/final --spots data/spots.json --features data/features --out data/recognised.json",
          "deps": deps("pipeline/long_recognise.py", ["data/spots.json", "data/features", "../models/final"]),
          "outs": [UNCACHED("data/recognised.json")]},
 # the learned spotter for `mfdan predict`: what its inputs and proposals read (SPOT_KEYS), not the training-free
 # spotter's threshold; its LOSO reference from the spot stage's own file, which a p_micro change leaves as it is
 "train_spotter": {"cmd": "python ../pipeline/long_train_spotter.py --params params.yaml --features data/features --loso data/softnet_loso.json --out models/spotter",
          "deps": deps("pipeline/long_train_spotter.py", ["data/features", "data/softnet_loso.json"]),
          "params": ["long_data.roots"] + [f"spot.{k}" for k in SPOT_KEYS] + ["softnet"],
          "outs": [UNCACHED("models/spotter")]},
 "evaluate_spotting": {"cmd": "python ../pipeline/long_evaluate.py --params params.yaml --recognised data/recognised.json --features data/features --curves data/curves.h5 --out metrics/spotting.json --plots plots/timelines",
          "deps": deps("pipeline/long_evaluate.py", ["data/recognised.json", "data/features", "data/curves.h5"]),
          "params": ["spot.p_micro", "softnet.p"],
          "metrics": [{"metrics/spotting.json": {"cache": False}}], "outs": [UNCACHED("plots/timelines")]},
}
HEADER = """# Long recordings: spot the micro- and macro-expressions in whole videos, then recognise each micro one
# (MEGC spot-then-recognise). Its own pipeline, so `make demo` stays the clip pipeline: `dvc repro
# long/dvc.yaml` (which also brings ../models/final up to date). Params: long/params.yaml. Code deps are
# each script's import closure (tests/test_spotting.py checks; `python -m tests.long_dvc_deps` rewrites).
"""


def write() -> None:
    text = yaml.safe_dump({"stages": STAGES}, sort_keys=False, width=120, default_flow_style=False, allow_unicode=True)
    text = re.sub(r"\n(  [a-z_]+:\n)", r"\n\n\1", text)
    (REPO / "long" / "dvc.yaml").write_text(HEADER + text)


if __name__ == "__main__":
    write()
