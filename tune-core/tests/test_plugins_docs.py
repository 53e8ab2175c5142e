"""docs/hooks.md documents every hook spec and is what tools/gen_hook_docs.py generates."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pluggy
import pytest

from tune import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "hooks.md"
GENERATOR = ROOT / "tools" / "gen_hook_docs.py"


def _spec_names() -> list[str]:
    # pluggy marks each spec with a "<project>_spec" attribute; ask pluggy, not the source text.
    pm = pluggy.PluginManager("tune")
    pm.add_hookspecs(hookspecs)
    return sorted(name for name in dir(pm.hook) if name.startswith("tune_"))


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("gen_hook_docs", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_hookspec_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    names = _spec_names()
    assert len(names) >= 30
    missing = [name for name in names if f"### `{name}`" not in text]
    assert not missing, f"hooks missing from docs/hooks.md: {missing}"


def test_generator_finds_the_same_hooks_as_pluggy(generator) -> None:
    assert sorted(generator.hook_names()) == _spec_names()


def test_docs_are_up_to_date(generator) -> None:
    assert DOCS.read_text(encoding="utf-8") == generator.render(), (
        "docs/hooks.md is out of date: run `python tools/gen_hook_docs.py`"
    )


def test_every_hookspec_has_a_docstring() -> None:
    for name in _spec_names():
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name


def test_render_marks_firstresult_and_params(generator) -> None:
    source = '''"""Doc."""
from x import hookspec

# ------------------------------------------------------------
# Group A
# ------------------------------------------------------------


@hookspec(firstresult=True)
def tune_a(x: int) -> int:
    """Do A with ``x``.

    :param x: the thing,
        continued.
    :return: a number.
    """


@hookspec
def tune_b() -> None:
    """Do B."""


def not_a_hook():
    """Ignored."""
'''
    text = generator.render(source)
    assert "## Group A" in text
    assert "def tune_a(x: int) -> int" in text
    assert "first result wins" in text.split("### `tune_b`")[0]
    assert "- `x`: the thing, continued." in text
    assert "**Returns:** a number." in text
    assert "Do A with `x`." in text
    assert "not_a_hook" not in text
    assert generator.hook_names(source) == ["tune_a", "tune_b"]
