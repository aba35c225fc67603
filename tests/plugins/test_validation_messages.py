"""One-line validation messages: the did-you-mean guess, its 'valid keys' fallback when
nothing is close, and the '(and N more)' count, as exact strings."""
from __future__ import annotations

from typing import Optional, Union

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from actalker.errors import ConfigError
from actalker.plugins.validation import closest, validate_options


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    depth: int = 1
    width: int = 2


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deep: Optional[Inner] = None
    label: str = ""


class Other(BaseModel):
    model_config = ConfigDict(extra="forbid")
    span: int = 0


class Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    smooth: int = 1
    tokens: int = 2
    inner: Optional[Inner] = None
    named: dict[str, Inner] = {}
    outer: Optional[Outer] = None
    layers: list[dict[str, Optional[Inner]]] = []
    maybe: Optional[dict[str, Inner]] = None
    either: Union[Inner, Other, None] = None


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
    assert message({"qqqq": 1}) == "branches.x.options: unknown key 'qqqq'; valid keys: smooth, tokens, inner, named, outer, layers, maybe, either"
    # inside a nested model, and inside a dict of models: that model's keys
    assert message({"inner": {"qqqq": 1}}) == "branches.x.options: unknown key 'inner.qqqq'; valid keys: depth, width"
    assert message({"named": {"a": {"qqqq": 1}}}) == (
        "branches.x.options: unknown key 'named.a.qqqq'; valid keys: depth, width")


def test_further_problems_are_counted():
    # pydantic lists the fields' errors before the unknown keys; the first one is shown
    assert message({"smoth": 3, "qqqq": 1}) == (
        "branches.x.options: unknown key 'smoth'; did you mean 'smooth'? (and 1 more)")
    assert message({"qqqq": 1, "zzzz": 2, "yyyy": 3}) == (
        "branches.x.options: unknown key 'qqqq'; valid keys: smooth, tokens, inner, named, outer, layers, maybe, either (and 2 more)")
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


def test_nested_optionals_and_containers_point_at_the_right_model():
    # an Optional is not a step of the location; a dict key / list index is
    assert message({"outer": {"deep": {"qqqq": 1}}}) == (
        "branches.x.options: unknown key 'outer.deep.qqqq'; valid keys: depth, width")
    assert message({"outer": {"qqqq": 1}}) == "branches.x.options: unknown key 'outer.qqqq'; valid keys: deep, label"
    assert message({"layers": [{"a": {"dpth": 1}}]}) == (
        "branches.x.options: unknown key 'layers.0.a.dpth'; did you mean 'layers.0.a.depth'?")
    assert message({"maybe": {"k": {"qqqq": 1}}}) == "branches.x.options: unknown key 'maybe.k.qqqq'; valid keys: depth, width"
    # a union of models: pydantic names the member it tried as a step of the location
    assert message({"either": {"qqqq": 1}}) == (
        "branches.x.options: unknown key 'either.Inner.qqqq'; valid keys: depth, width (and 1 more)")
    from actalker.plugins.validation import _fields_at

    assert _fields_at(Opts, ("either", "Other", "spam")) == ["span"]


def test_a_location_the_models_do_not_describe_gets_no_key_list():
    from actalker.plugins.validation import describe_error, _fields_at

    assert _fields_at(Opts, ("nowhere", "x")) == [] and _fields_at(Opts, ("either", "Missing", "x")) == []
    assert _fields_at(Opts, ("tokens", "x")) == _fields_at(Opts, ("tokens", "x", "y")) == []  # an int has no keys
    with pytest.raises(ValidationError) as err:
        Opts.model_validate({"outer": {"qqqq": 1}})
    assert describe_error(Inner, err.value) == "unknown key 'outer.qqqq'"  # Inner has no 'outer': no list to offer


def test_options_must_be_a_mapping():
    with pytest.raises(ConfigError, match=r"^where: expected a mapping of options, got list$"):
        validate_options(Opts, [1, 2], "where")
    assert validate_options(Opts, None, "where") == Opts()  # no options: the defaults


def test_no_prefix_by_default_and_root_errors_say_root():
    from pydantic import model_validator

    with pytest.raises(ConfigError, match=r"^here: unknown key 'smoth'; did you mean 'smooth'\?$"):
        validate_options(Opts, {"smoth": 1}, "here")

    class Pair(BaseModel):
        model_config = ConfigDict(extra="forbid")
        low: int = 0
        high: int = 1

        @model_validator(mode="after")
        def ordered(self):
            if self.low > self.high:
                raise ValueError("low must not exceed high")
            return self

    with pytest.raises(ConfigError) as err:
        validate_options(Pair, {"low": 3}, "pair")
    assert str(err.value) == "pair: '(root)': Value error, low must not exceed high (got {'low': 3})"


def test_long_inputs_are_cut_to_60_characters():
    def got(value):
        return message({"tokens": value}).split("(got ")[1][:-1]

    assert got("a" * 58) == repr("a" * 58)  # a repr of exactly 60 characters is kept whole
    assert got("a" * 59) == repr("a" * 59)[:57] + "..."  # 61 are cut to 57 + "..."
    assert len(got("b" * 500)) == 60


def test_closest_takes_a_guess_at_half_similarity():
    # "lrate" vs "lr": similarity 2 * 2 / 7 = 0.57, above the 0.5 cutoff (difflib's default 0.6 is stricter)
    assert closest("lrate", ["lr", "batch_size"]) == "lr"
    assert closest("lrate", ["batch_size"]) is None
