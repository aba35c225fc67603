"""Text -> per-frame numbers: built-in word ids, or a small text model's sentence embedding.

``tokens`` (built-in): lowercase words hashed into ``vocab`` ids (0 = padding), up to
``max_words`` per prompt; the encoder owns a trained embedding table.
``model``: a transformers model and tokenizer saved in a local folder (``model_path``),
frozen; the features are its mean-pooled last hidden state (computed once per prompt).
"""
from __future__ import annotations

import re
import zlib
from functools import lru_cache

import numpy as np

from actalker.errors import InputError

WORD = re.compile(r"[a-z0-9']+")


def word_ids(text: str, vocab: int, max_words: int) -> np.ndarray:
    ids = [1 + zlib.crc32(w.encode()) % (vocab - 1) for w in WORD.findall(text.lower())][:max_words]
    return np.array(ids + [0] * (max_words - len(ids)), np.float32)


@lru_cache(maxsize=4)
def _text_model(path: str):
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as err:
        raise InputError("text options.encoder='model' needs transformers (pip install 'actalker-text[model]')") from err
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    except (OSError, ValueError) as err:
        raise InputError(f"text model {path}: expected a folder saved by transformers' save_pretrained ({err})") from err
    return tok, model


def model_width(path: str) -> int:
    return int(_text_model(path)[1].config.hidden_size)


@lru_cache(maxsize=4096)
def _embed(path: str, text: str) -> tuple[float, ...]:
    import torch

    if not text:
        return tuple([0.0] * model_width(path))  # the empty prompt is the branch's "off" input
    tok, model = _text_model(path)
    with torch.no_grad():
        enc = tok(text, return_tensors="pt", truncation=True, max_length=64)
        hidden = model(**enc).last_hidden_state[0]
        mask = enc["attention_mask"][0].unsqueeze(-1).float()
        return tuple(((hidden * mask).sum(0) / mask.sum().clamp(min=1)).tolist())


def encode_prompts(prompts: list[str], opts) -> np.ndarray:
    """(F,) prompts -> (F, *feature_shape) float32 per the options."""
    if opts.encoder == "tokens":
        return np.stack([word_ids(p, opts.vocab, opts.max_words) for p in prompts]).astype(np.float32)
    return np.array([_embed(str(opts.model_path), p) for p in prompts], np.float32)
