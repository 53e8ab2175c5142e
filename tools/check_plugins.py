"""Check every installed tune plugin: used by ``nox -s plugins`` with everything installed.

Fails (exit status 1, one line per problem) when
- an entry point of the ``tune.plugins`` group fails to import or its ``tune_register`` fails,
- a registered name's import string does not resolve (missing module, attribute or extra),
- a plugin module, or a class a plugin registers, implements a hook that tune/hookspecs.py
  does not declare (a typo, or a hook added without its spec and documentation),
- a hook spec is missing from docs/hooks.md.
"""

from __future__ import annotations

import sys
import warnings
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from tune import hookspecs
    from tune.plugins import ENTRY_POINT_GROUP, get_registry, import_target

    problems: list[str] = []
    spec_names = {
        name for name in dir(hookspecs) if getattr(getattr(hookspecs, name), "tune_spec", None)
    }

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry = get_registry()
    entry_points = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    for info in registry.plugins:
        if info.status != "loaded":
            problems.append(f"plugin {info.describe()}: {info.status}: {info.error}")
    loaded = {info.name for info in registry.plugins if info.status == "loaded"}
    for name in sorted(entry_points - loaded):
        problems.append(f"entry point {name!r} was not loaded")

    def check_hookimpls(owner: object, label: str) -> None:
        for attr in dir(owner):
            value = getattr(owner, attr, None)
            if getattr(value, "tune_impl", None) is not None and attr not in spec_names:
                problems.append(f"{label} implements {attr!r}, which is not a hook spec")

    for info in registry.plugins:
        if info.status == "loaded":
            check_hookimpls(sys.modules[info.module], f"plugin module {info.module}")

    for entry in registry.entries():
        try:
            target = import_target(entry.target)
        except Exception as exc:  # report every kind of failure, keep checking the rest
            problems.append(
                f"{entry.kind} {entry.name!r} of plugin {entry.plugin_name}: {entry.target}: "
                f"{type(exc).__name__}: {exc}"
            )
            continue
        if isinstance(target, type):
            check_hookimpls(target, f"{entry.kind} {entry.name!r} ({entry.target})")

    docs = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    for name in sorted(spec_names):
        if f"### `{name}`" not in docs:
            problems.append(f"hook {name!r} is not documented in docs/hooks.md")

    for problem in problems:
        print(f"check_plugins: {problem}", file=sys.stderr)
    if not problems:
        counts = ", ".join(f"{len(registry.names(k))} {k}s" for k in registry.KINDS)
        print(f"check_plugins: {len(loaded)} plugins loaded ({', '.join(sorted(loaded))}); {counts}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
