import json

import pytest

from actalker.data.manifest import build_manifest, load_manifest, split_clips, split_identities
from actalker.errors import InputError
from tests.data.helpers import numbered_clip


def test_splits_disjoint_deterministic_and_stable():
    ids = [f"p{i}" for i in range(300)]
    s = split_identities(ids)
    assert sorted(sum(s.values(), [])) == sorted(ids)
    assert not set(s["train"]) & set(s["val"]) and not set(s["train"]) & set(s["test"]) and not set(s["val"]) & set(s["test"])
    assert 0.7 < len(s["train"]) / 300 < 0.9 and s["val"] and s["test"]
    assert split_identities(list(reversed(ids))) == s
    more = split_identities(ids + [f"q{i}" for i in range(50)])  # adding people moves nobody
    for k in s:
        assert set(s[k]) <= set(more[k])


def test_small_sets_still_have_held_out_identities():
    s = split_identities(["a", "b", "c"])
    assert all(len(v) == 1 for v in s.values())


def test_build_and_load(tmp_path):
    for i in range(4):
        numbered_clip(tmp_path / "clips" / f"c{i}", n=5, identity=f"id{i // 2}")
    m = build_manifest(tmp_path)
    assert [c["id"] for c in m["clips"]] == ["c0", "c1", "c2", "c3"] and m["identities"] == ["id0", "id1"]
    m2 = load_manifest(tmp_path)
    assert m2 == json.loads(json.dumps(m))
    for split in ("train", "val", "test"):  # both clips of one person go to the same split
        got = {c["identity"] for c in split_clips(m2, split)}
        assert len(split_clips(m2, split)) == 2 * len(got)


def test_load_rejects_shared_identity(tmp_path):
    numbered_clip(tmp_path / "clips" / "c0", n=5, identity="x")
    m = build_manifest(tmp_path)
    m["splits"] = {"train": ["x"], "val": ["x"], "test": []}
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match="identity 'x' is in both splits"):
        load_manifest(tmp_path)
    with pytest.raises(InputError, match="manifest.json: missing"):
        load_manifest(tmp_path / "empty")
