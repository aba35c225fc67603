"""Identity rules of the known data-set layouts (HDTF, CelebV-HQ, VFHQ, one folder per person)."""
from __future__ import annotations

from pathlib import Path

import pytest

from actalker.data.layouts import identity_of
from actalker.data.manifest import split_identities
from actalker.errors import InputError


@pytest.mark.parametrize("layout, rel, identity", [
    ("folder", "alice/interview.mp4", "alice"),
    ("folder", "alice/2019/interview.mp4", "alice"),
    ("folder", "bob.mp4", "bob"),
    ("hdtf", "WDA_BarackObama_000.mp4", "WDA_BarackObama"),
    ("hdtf", "RD_Radio34_003_2.mp4", "RD_Radio34"),
    ("hdtf", "sub/WRA_MarcoRubio1_001.mp4", "WRA_MarcoRubio1"),
    ("celebvhq", "-8gsuiXW_Y4_3.mp4", "-8gsuiXW_Y4"),
    ("celebvhq", "M2Ohb0FAaJU_12.mp4", "M2Ohb0FAaJU"),
    ("vfhq", "Clip+G0DGRma_p48+P0+C0+F11208-11337.mp4", "G0DGRma_p48+P0"),
    ("vfhq", "Clip+-1bRqwhhU3k+P2+C1+F1-125.mp4", "-1bRqwhhU3k+P2"),
])
def test_identity_rules(layout, rel, identity):
    assert identity_of(Path(rel), layout) == identity


@pytest.mark.parametrize("layout, rel", [("hdtf", "interview.mp4"), ("celebvhq", "interview.mp4"),
                                         ("vfhq", "M2Ohb0FAaJU_12.mp4")])
def test_a_name_off_its_layout_is_one_line(layout, rel):
    with pytest.raises(InputError, match=f"{rel}: not a") as err:
        identity_of(Path(rel), layout)
    assert "\n" not in str(err.value)


def test_clips_of_one_person_share_a_split():
    names = [f"Clip+vid{k // 3}+P{k % 2}+C{k}+F1-100.mp4" for k in range(60)]
    ids = [identity_of(Path(n), "vfhq") for n in names]
    splits = split_identities(ids)
    where = {i: s for s, members in splits.items() for i in members}
    assert set(where) == set(ids) and all(splits.values())
