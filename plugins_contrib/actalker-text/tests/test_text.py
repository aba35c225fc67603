"""The text plugin: spans -> per-frame prompts, the built-in word embedding, a tiny
transformers model from a local folder (built from a config, nothing downloaded), stored
clips' prompts.json at the training rate, and the synthetic world's prompts."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from actalker.errors import ConfigError, InputError
from actalker.plugins import load_registry
from actalker.plugins.testing import check_per_frame_encoder

SPANS = {"spans": [{"start": 0.0, "end": 0.2, "text": "raised brows"}, {"start": 0.2, "end": 0.4, "text": "eyes closed"}]}


@pytest.fixture(scope="module")
def spec():
    return load_registry("regions,text").modality("text")  # through its entry point


def write(path, obj=SPANS):
    path.write_text(json.dumps(obj))
    return path


def test_declaration(spec):
    assert spec.default_region == "upper_face" and spec.cli_flag == "text"
    assert spec.feature_shape(spec.parse_options({})) == (8,)
    with pytest.raises(ConfigError, match="encoder 'model' needs model_path"):
        spec.parse_options({"encoder": "model"})


def test_load_spans_to_frames(spec, tmp_path):
    opts = spec.parse_options({})
    x = spec.load(write(tmp_path / "p.json"), None, 10.0, opts)
    assert x.shape == (4, 8)
    assert torch.equal(x[0], x[1]) and torch.equal(x[2], x[3]) and not torch.equal(x[1], x[2])
    assert (x[:, 2:] == 0).all() and (x[:, :2] > 0).all()  # two words each, padded with 0
    with pytest.raises(InputError, match="covers 4 frames but 6 are needed"):
        spec.load(tmp_path / "p.json", 6, 10.0, opts)
    assert (spec.load(tmp_path / "p.json", 6, 10.0, opts, on_short="pad")[4:] == x[3]).all()
    with pytest.raises(InputError, match="text file .*expected JSON"):
        spec.load(write(tmp_path / "bad.json", {"spans": [{"start": 0}]}), None, 10.0, opts)


def test_from_clip_uses_the_window_times(spec, tmp_path):
    write(tmp_path / "prompts.json")
    opts = spec.parse_options({})
    whole = spec.from_clip(SimpleNamespace(id="c", path=tmp_path, fps=25.0, num_frames=10, start=0.0), opts)
    window = spec.from_clip(SimpleNamespace(id="c", path=tmp_path, fps=12.5, num_frames=3, start=0.12), opts)
    assert torch.equal(window, whole[[3, 5, 7]])  # 0.12 s, 0.2 s, 0.28 s into the stored clip
    with pytest.raises(InputError, match="clip d: missing .*prompts.json"):
        spec.from_clip(SimpleNamespace(id="d", path=tmp_path / "no", fps=25.0, num_frames=3, start=0.0), opts)


def test_token_encoder_is_per_frame(spec):
    opts = spec.parse_options({"tokens": 2, "hidden": 16, "embed": 8})
    enc = spec.build_encoder(opts, 12)
    x = torch.randint(1, opts.vocab, (2, 4, opts.max_words)).float()
    assert enc(x).shape == (2, 4, 2, 12)
    check_per_frame_encoder(enc, x, 5.0)
    assert torch.isfinite(enc(torch.zeros(1, 3, opts.max_words))).all()  # the empty prompt ("off")


def test_tiny_transformers_model_from_a_local_folder(spec, tmp_path):
    transformers = pytest.importorskip("transformers")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "raised", "brows", "eyes", "closed"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    transformers.BertTokenizer(str(tmp_path / "vocab.txt")).save_pretrained(tmp_path / "tiny")
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=32)
    transformers.BertModel(cfg).save_pretrained(tmp_path / "tiny")
    opts = spec.parse_options({"encoder": "model", "model_path": str(tmp_path / "tiny"), "hidden": 8})
    assert spec.feature_shape(opts) == (16,)
    x = spec.load(write(tmp_path / "p.json"), 5, 10.0, opts, on_short="pad")
    assert x.shape == (5, 16) and not torch.equal(x[0], x[2]) and torch.equal(x[2], x[3])
    enc = spec.build_encoder(opts, 6)
    check_per_frame_encoder(enc, x[None].repeat(2, 1, 1), torch.ones(16))
    with pytest.raises(InputError, match="text model .*save_pretrained"):
        spec.feature_shape(spec.parse_options({"encoder": "model", "model_path": str(tmp_path / "none")}))


def test_synthetic_world_prompts_follow_its_truth(tmp_path):
    from actalker.data.synth.prompts import describe_frame, prompts_from_truth
    from actalker.data.synth.world import write_synthetic_clip

    assert describe_frame(0.1, 0.9) == "raised brows, eyes closed" and describe_frame(0.9, 0.5) == "eyes open"
    truth = {"eye_open": np.array([1, 1, 0.1, 0.1, 1.0]), "brow_raise": np.full(5, 0.5)}
    assert prompts_from_truth(truth, 10.0) == [{"start": 0.0, "end": 0.2, "text": "eyes open"},
                                               {"start": 0.2, "end": 0.4, "text": "eyes closed"},
                                               {"start": 0.4, "end": 0.5, "text": "eyes open"}]
    clip = write_synthetic_clip(tmp_path, seed=3, index=0, prompts=True, num_frames=12, size=32)
    spans = json.loads((clip.path / "prompts.json").read_text())["spans"]
    assert spans[0]["start"] == 0 and spans[-1]["end"] == pytest.approx(12 / 25)
    words = [describe_frame(e, b) for e, b in zip(clip.truth["eye_open"], clip.truth["brow_raise"])]
    from actalker_text.spans import prompts_at, read_spans

    assert prompts_at(read_spans(clip.path / "prompts.json"), np.arange(12) / 25) == words
