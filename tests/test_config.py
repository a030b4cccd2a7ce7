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
