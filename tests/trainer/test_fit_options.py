"""FitOptions checks every setting itself: a Python caller meets the same refusals as ``h5train fit``."""

from __future__ import annotations

import pytest
from csv2h5.trainer.errors import DataOptionError
from csv2h5.trainer.options import FitOptions


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("class_weight", "inverse", "--class-weight takes 'balanced', got 'inverse'"),
        ("class_weight", "", "--class-weight takes 'balanced', got ''"),
        ("strategy", "parallel", "--strategy 'parallel' is not one of default, mirrored, multi-worker"),
        ("strategy", "Mirrored", "--strategy 'Mirrored' is not one of default, mirrored, multi-worker"),
    ],
)
def test_unknown_class_weight_and_strategy_are_refused_from_python(field, value, message):
    with pytest.raises(DataOptionError) as caught:
        FitOptions(data="train.h5", **{field: value})
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "field,value",
    [
        ("class_weight", None),
        ("class_weight", "balanced"),
        ("strategy", "default"),
        ("strategy", "mirrored"),
        ("strategy", "multi-worker"),
    ],
)
def test_the_documented_values_are_accepted(field, value):
    assert getattr(FitOptions(data="train.h5", **{field: value}), field) == value


def test_a_saved_run_with_a_bad_strategy_is_refused_when_read_back():
    with pytest.raises(DataOptionError, match="--strategy 'parallel'"):
        FitOptions.from_json({"data": "train.h5", "missing": "mean", "strategy": "parallel"})


def test_loader_threads_are_loaders_and_a_run_saved_as_workers_reads_back():
    """``loaders`` are batch-loading threads; runs written when they were called ``workers`` resume with them."""
    assert FitOptions.from_json({"data": "train.h5", "missing": "mean", "workers": 3}).loaders == 3
    assert FitOptions.from_json({"data": "train.h5", "missing": "mean", "loaders": 2}).loaders == 2
    with pytest.raises(DataOptionError, match="--loaders must be at least 1, got 0"):
        FitOptions(data="train.h5", loaders=0)
