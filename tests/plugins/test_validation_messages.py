"""One-line validation messages: the did-you-mean guess, its 'valid keys' fallback when
nothing is close, and the '(and N more)' count, as exact strings."""
from __future__ import annotations

from typing import Optional

import pytest
from pydantic import BaseModel, ConfigDict

from actalker.errors import ConfigError
from actalker.plugins.validation import closest, validate_options


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    depth: int = 1
    width: int = 2


class Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    smooth: int = 1
    tokens: int = 2
    inner: Optional[Inner] = None
    named: dict[str, Inner] = {}


def message(raw, prefix=""):
    with pytest.raises(ConfigError) as err:
        validate_options(Opts, raw, "branches.x.options", prefix)
    text = str(err.value)
    assert "\n" not in text
    return text


def test_close_typo_gets_a_guess():
    assert message({"smoth": 3}) == "branches.x.options: unknown key 'smoth'; did you mean 'smooth'?"
    assert message({"inner": {"widht": 3}}, "model") == (
        "branches.x.options: unknown key 'model.inner.widht'; did you mean 'model.inner.width'?")


def test_nothing_close_lists_the_valid_keys():
    assert message({"qqqq": 1}) == "branches.x.options: unknown key 'qqqq'; valid keys: smooth, tokens, inner, named"
    # inside a nested model, and inside a dict of models: that model's keys
    assert message({"inner": {"qqqq": 1}}) == "branches.x.options: unknown key 'inner.qqqq'; valid keys: depth, width"
    assert message({"named": {"a": {"qqqq": 1}}}) == (
        "branches.x.options: unknown key 'named.a.qqqq'; valid keys: depth, width")


def test_further_problems_are_counted():
    # pydantic lists the fields' errors before the unknown keys; the first one is shown
    assert message({"smoth": 3, "qqqq": 1}) == (
        "branches.x.options: unknown key 'smoth'; did you mean 'smooth'? (and 1 more)")
    assert message({"qqqq": 1, "zzzz": 2, "yyyy": 3}) == (
        "branches.x.options: unknown key 'qqqq'; valid keys: smooth, tokens, inner, named (and 2 more)")
    assert message({"tokens": "x", "qqqq": 1}) == (
        "branches.x.options: 'tokens': Input should be a valid integer, unable to parse string as an integer "
        "(got 'x') (and 1 more)")
    assert "more" not in message({"tokens": "x"}) and "more" not in message({"qqqq": 1})


def test_closest_cutoff():
    assert closest("smoth", ["smooth", "tokens"]) == "smooth"
    assert closest("qqqq", ["smooth", "tokens"]) is None


def test_config_overrides_use_the_same_messages():
    from actalker.config import load_config

    with pytest.raises(ConfigError) as err:
        load_config(overrides=["sampling.qqqqqq=1"])
    text = str(err.value)
    assert "unknown key 'sampling.qqqqqq'; valid keys: " in text and "did you mean" not in text
    assert "steps" in text.split("valid keys: ")[1].split(", ")
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["sampling.steps=many", "seed=abc"])
    assert str(err.value).endswith("(and 1 more)")
