"""Without GPy, PB2 fails when constructed with the pip command that fixes it."""

from __future__ import annotations

import sys

import pytest


def test_pb2_without_gpy_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "GPy", None)  # what Python does for a missing package
    import tune_schedulers

    monkeypatch.delitem(sys.modules, "tune_schedulers.pb2_utils", raising=False)
    monkeypatch.delattr(tune_schedulers, "pb2_utils", raising=False)  # imported before
    from tune_schedulers import PB2

    with pytest.raises(ImportError, match=r"pip install 'tune-schedulers\[pb2\]'"):
        PB2(metric="reward", mode="max", hyperparam_bounds={"lr": [0, 1]})
