from __future__ import annotations

import pytest

import tune


@pytest.fixture
def run_config(tmp_path):
    def make(**kw):
        kw.setdefault("verbose", 0)
        return tune.RunConfig(storage_path=str(tmp_path), **kw)

    return make
