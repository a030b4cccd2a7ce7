"""params.yaml sections map onto their dataclasses; mistakes name the section and key."""
from pathlib import Path

import pytest

from mfdan.config import DataConfig, load_params, section
from mfdan.synth import SynthConfig

REPO = Path(__file__).resolve().parents[1]


def test_repository_params_build_every_section():
    params = load_params(REPO / "params.yaml")
    data = section(params, "data", DataConfig)
    synth = section(params, "synth", SynthConfig)
    assert data.protocol == "composite" and set(data.roots) == {"casme2", "samm", "smic"}
    assert isinstance(synth.amplitude, tuple) and synth.amplitude[0] < synth.amplitude[1]
    assert not any(Path(p).is_absolute() for p in data.roots.values())


@pytest.mark.parametrize("values,msg", [({"protcol": "samm"}, "unknown key"), ({"protocol": "casme3"}, "casme3"),
                                        ({"apex": "peak"}, "data.apex"), ({"protocol": 3}, "expected str")])
def test_bad_section_names_the_key(values, msg):
    with pytest.raises(ValueError, match=msg) as err:
        section({"data": values}, "data", DataConfig)
    assert "params.yaml: data" in str(err.value)


def test_paper_gpu_profile_builds_every_section():
    from mfdan.alignment import AlignConfig
    from mfdan.config import from_dict
    from mfdan.magnet_training import MagnetConfig
    from mfdan.magnification import MagnifyConfig
    from mfdan.model import MFDANConfig
    from mfdan.optical_flow import FlowConfig
    from mfdan.training import TrainConfig

    for path in (REPO / "params.yaml", REPO / "profiles" / "paper-gpu.yaml"):
        p = load_params(path)
        for name, cls in (("data", DataConfig), ("synth", SynthConfig), ("align", AlignConfig), ("flow", FlowConfig),
                          ("magnet", MagnetConfig), ("magnify", MagnifyConfig), ("train", TrainConfig)):
            section(p, name, cls, source=str(path))
        model = from_dict(MFDANConfig, {**p["model"], "dropkey": p["dropkey"]}, where="model")
        assert model.img_size == p["flow"]["output_size"] == p["align"]["output_size"]
    paper = from_dict(MFDANConfig, {**load_params(REPO / "profiles" / "paper-gpu.yaml")["model"], "dropkey": 0.1},
                      where="model")
    assert paper == MFDANConfig(dropkey=0.1)  # the profile is the paper configuration


def test_no_param_is_named_size_or_nfiles():
    """DVC 3's run-cache key drops every key called `size` or `nfiles` (file metadata) at any depth, params
    included: a change to such a param would be served a stale output from the run-cache. Keep them out."""
    def keys(node, path=""):
        if isinstance(node, dict):
            for k, v in node.items():
                yield f"{path}.{k}".lstrip("."), k
                yield from keys(v, f"{path}.{k}")

    for path in (REPO / "params.yaml", REPO / "profiles" / "paper-gpu.yaml"):
        bad = [full for full, k in keys(load_params(path)) if k in ("size", "nfiles")]
        assert not bad, f"{path}: rename {bad}"
