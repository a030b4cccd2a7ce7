from collections import Counter

import pytest

from mfdan.data.readers import smic
from mfdan.data.protocols import (CLASSES_3, GROUP_3, PROTOCOLS, cde_list, get_protocol, reference_counts,
                                  reference_rows)
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


TABLE_II = {"casme2": {"negative": 88, "positive": 32, "surprise": 25},
            "samm": {"negative": 92, "positive": 26, "surprise": 15},
            "smic": {"negative": 70, "positive": 51, "surprise": 43},
            "composite": {"negative": 250, "positive": 109, "surprise": 83}}


def test_dataset_protocols_are_the_table_ii_sets():
    """MFDAN Table II: CASME II 145, SAMM 133, SMIC-HS 164 samples, the CDE parts."""
    counts = reference_counts()
    for name, want in TABLE_II.items():
        assert counts[name] == want, name
    for name in ("casme2", "samm", "smic"):
        assert PROTOCOLS[name].expected() == {k: v for k, v in cde_list().items() if k[0] == name}


def test_dataset_protocol_takes_membership_and_label_from_the_list():
    proto = get_protocol("casme2")
    kept = proto.select([_sample("casme2", "sub17", "EP01_13", "others"),    # listed (as surprise)
                         _sample("casme2", "sub01", "EP04_02", "others"),    # not listed
                         _sample("samm", "006", "006_1_2", "anger")])        # another dataset
    assert [(s.sample_id, lab) for s, lab in kept] == [("EP01_13", "surprise")]


def test_whole_sheet_protocols_regroup_every_row():
    assert len(reference_rows("casme2")) == 246 and len(reference_rows("samm")) == 159
    casme = Counter(PROTOCOLS["casme2_all"].expected().values())
    assert sum(casme.values()) == 147 and PROTOCOLS["casme2_all"].classes == CLASSES_3
    # an unlisted clip of the sheet is kept, with the sheet's own (regrouped) label
    kept = PROTOCOLS["casme2_all"].select([_sample("casme2", "sub01", "EP99_01", "happiness")])
    assert [lab for _, lab in kept] == ["positive"]


def test_cli_protocols_json_prints_the_reference_counts():
    import json

    from typer.testing import CliRunner

    from mfdan.cli import app

    res = CliRunner().invoke(app, ["protocols", "--json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.output)
    assert {k: shown[k] for k in TABLE_II} == TABLE_II and set(shown) == set(PROTOCOLS)
    table = CliRunner().invoke(app, ["protocols"]).output
    assert "casme2" in table and "88" in table


def test_unknown_protocol_names_the_choices():
    with pytest.raises(ValueError, match="composite"):
        get_protocol("casme4")


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
