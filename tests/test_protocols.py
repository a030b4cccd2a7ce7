from collections import Counter

import pytest

from mfdan.data.readers import smic
from mfdan.data.protocols import CLASSES_3, GROUP_3, PROTOCOLS, cde_list, get_protocol, reference_rows
from mfdan.data.records import Sample, resolve_apex


def test_cde_list_is_the_published_composite():
    cde = cde_list()
    assert len(cde) == 442
    assert len({(d, s) for d, s, _ in cde}) == 68
    assert Counter(cde.values()) == {"negative": 250, "positive": 109, "surprise": 83}
    assert Counter(d for d, _, _ in cde) == {"casme2": 145, "samm": 133, "smic": 164}
    assert all(s.startswith("s0") or s.startswith("s1") or s.startswith("s2")
               for d, s, _ in cde if d == "smic")


@pytest.mark.parametrize("label,group", [("repression", "negative"), ("anger", "negative"), ("contempt", "negative"),
                                         ("disgust", "negative"), ("fear", "negative"), ("sadness", "negative"),
                                         ("happiness", "positive"), ("surprise", "surprise"), ("others", None),
                                         ("other", None)])
def test_three_class_regrouping(label, group):
    assert GROUP_3[label] == group


def _sample(dataset, subject, sample_id, emotion, apex=2):
    return Sample(dataset, subject, sample_id, frames=(), frame_numbers=(), onset=0, apex=apex, offset=6,
                  emotion=emotion)


def test_composite_takes_membership_and_label_from_the_list():
    proto = get_protocol("composite")
    # the list, not the sheet's own label, decides: a clip a sheet calls 'others' is kept if listed
    assert cde_list()[("casme2", "sub17", "EP01_13")] == "surprise"
    kept = proto.select([_sample("casme2", "sub17", "EP01_13", "others"),
                         _sample("casme2", "sub01", "EP04_02", "others"),
                         _sample("samm", "006", "006_1_2", "anger"),
                         _sample("smic", "s01", "s01_ne_01", "negative")])
    assert [(s.sample_id, lab) for s, lab in kept] == [("EP01_13", "surprise"), ("006_1_2", "negative"),
                                                       ("s01_ne_01", "negative")]


def test_dataset_protocol_expectations_come_from_reference_sheets():
    assert Counter(PROTOCOLS["samm"].expected().values()) == {"negative": 92, "positive": 26, "surprise": 15}
    assert Counter(PROTOCOLS["smic"].expected().values()) == {"negative": 70, "positive": 51, "surprise": 43}
    assert len(reference_rows("casme2")) == 246 and len(reference_rows("samm")) == 159
    assert PROTOCOLS["casme2"].classes == CLASSES_3


def test_unknown_protocol_names_the_choices():
    with pytest.raises(ValueError, match="composite"):
        get_protocol("casme3")


def test_smic_name_conversion_round_trips():
    assert smic.canonical_subject("s1") == "s01" and smic.native_subject("s01") == "s1"
    assert smic.canonical_sample("s12_sur_03") == "s12_sur_03"
    assert smic.native_sample(smic.canonical_sample("s3_po_10")) == "s3_po_10"


def test_apex_policy():
    assert resolve_apex(_sample("casme2", "sub01", "x", "happiness", apex=5), "annotated") == (5, "annotated")
    assert resolve_apex(_sample("smic", "s01", "x", "negative", apex=None), "annotated") == (3, "middle")
    assert resolve_apex(_sample("casme2", "sub01", "x", "happiness", apex=5), "middle") == (3, "middle")
    assert resolve_apex(_sample("smic", "s01", "x", "negative", apex=None), "annotated", "flow_peak") == \
        (None, "flow_peak")
    assert resolve_apex(_sample("casme2", "sub01", "x", "happiness", apex=5), "flow_peak") == (None, "flow_peak")
    with pytest.raises(ValueError):
        resolve_apex(_sample("casme2", "sub01", "x", "happiness"), "peak")
