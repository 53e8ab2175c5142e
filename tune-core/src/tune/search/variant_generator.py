"""Turn a ``param_space`` into concrete configs, and name trials after what was sampled.

A ``param_space`` is nested dicts, lists and tuples holding constants, domains
(``tune.uniform(...)``, ``tune.sample_from(...)``) and grid searches
(``{"grid_search": [...]}``) anywhere. ``generate_variants`` yields one config per point of
the cartesian product of all grid searches (the first grid parameter, in sorted path order,
varies fastest, as in Ray Tune), with the random domains drawn for each point.
``sample_from`` functions see the values resolved so far and are retried until the values
they read exist; values a function can never read raise an error naming the parameter.

Configs are copied structurally: dicts, lists and tuples are new objects for every variant,
while constant leaves (arrays, datasets, ...) are shared rather than deep-copied.

The helpers ``evaluated_params``, ``format_vars`` and ``flatten_dict`` give the values that
were sampled (``{"lr": 0.01, "model/width": 64}``) and the short tag trial names are made
from (``"lr=0.0100,width=64"``).
"""

from __future__ import annotations

import copy
import logging
import numbers
import re
from collections.abc import Iterator, Mapping
from typing import Any

from tune.errors import TuneValueError, invalid_type, invalid_value
from tune.search.sample import (
    Categorical,
    Domain,
    RecursiveDependencyError,
    _as_rng,
    _is_grid_dict,
    _Rng,
    _Spec,
    grid_search,
)

__all__ = [
    "RecursiveDependencyError",
    "apply_preset",
    "assign_value",
    "count_variants",
    "evaluated_params",
    "flatten_dict",
    "format_vars",
    "generate_variants",
    "grid_search",
    "has_unresolved_values",
    "parse_spec_vars",
    "resolve",
    "unflatten_dict",
]

logger = logging.getLogger(__name__)

Path = tuple[Any, ...]


# ---------------------------------------------------------------------------------------------
# Walking and copying a space
# ---------------------------------------------------------------------------------------------


def _is_unresolved(value: Any) -> bool:
    return isinstance(value, Domain) or _is_grid_dict(value)


def _grid_values(path: Path, value: Any) -> list:
    """The values of a grid search at ``path`` (a ``{"grid_search": ...}`` or a grid domain)."""
    if isinstance(value, Categorical):
        return value.categories
    values = value["grid_search"]
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (list, tuple, range)):
        raise invalid_type(
            f"param_space[{_path_str(path)}]['grid_search']",
            values,
            "expected a non-empty list of values",
        )
    if not values:
        raise invalid_value(
            f"param_space[{_path_str(path)}]['grid_search']", values, "must not be empty"
        )
    return list(values)


def _is_grid(value: Any) -> bool:
    return _is_grid_dict(value) or (isinstance(value, Domain) and value.is_grid())


def _children(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, dict):
        yield from node.items()
    elif isinstance(node, (list, tuple)):
        yield from enumerate(node)


def _walk_unresolved(node: Any, prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """``(path, domain_or_grid)`` for every unresolved value, in the space's own order."""
    for key, value in _children(node):
        path = (*prefix, key)
        if _is_unresolved(value):
            yield path, value
        elif isinstance(value, (dict, list, tuple)):
            yield from _walk_unresolved(value, path)


def _contains_unresolved(node: Any) -> bool:
    return next(_walk_unresolved(node), None) is not None


def has_unresolved_values(spec: Any) -> bool:
    """Whether ``spec`` still holds domains or grid searches anywhere."""
    return _is_unresolved(spec) or _contains_unresolved(spec)


def parse_spec_vars(
    spec: dict,
) -> tuple[list[tuple[Path, Any]], list[tuple[Path, Any]], list[tuple[Path, Any]]]:
    """Split ``spec`` into ``(constants, domain_vars, grid_vars)``: lists of ``(path, value)``.

    Grid variables come sorted by path (the order in which the grid is walked).
    """
    resolved: list[tuple[Path, Any]] = []
    domains: list[tuple[Path, Any]] = []
    grids: list[tuple[Path, Any]] = []

    def visit(node: Any, prefix: Path) -> None:
        for key, value in _children(node):
            path = (*prefix, key)
            if _is_grid(value):
                grids.append((path, value))
            elif isinstance(value, Domain):
                domains.append((path, value))
            elif isinstance(value, (dict, list, tuple)) and value:
                visit(value, path)
            else:
                resolved.append((path, value))

    visit(spec, ())
    grids.sort(key=lambda item: _path_key(item[0]))
    return resolved, domains, grids


def _copy_structure(node: Any) -> Any:
    """New dicts and lists all the way down (tuples only where they hold unresolved values).

    Leaves are shared: a large constant in the space is not copied for every trial.
    """
    if isinstance(node, dict):
        new = copy.copy(node)
        for key, value in node.items():
            if isinstance(value, (dict, list, tuple)):
                new[key] = _copy_structure(value)
        return new
    if isinstance(node, list):
        new_list = copy.copy(node)
        for index, value in enumerate(node):
            if isinstance(value, (dict, list, tuple)):
                new_list[index] = _copy_structure(value)
        return new_list
    if isinstance(node, tuple) and _contains_unresolved(node):
        return _rebuild_tuple(node, [_copy_structure(v) for v in node])
    return node


def _rebuild_tuple(original: tuple, items: list) -> tuple:
    if hasattr(original, "_fields"):  # namedtuple
        return type(original)(*items)
    if type(original) is tuple:
        return tuple(items)
    return type(original)(items)


def assign_value(spec: Any, path: Path, value: Any) -> Any:
    """Set ``spec[path[0]][path[1]]... = value``; returns ``spec`` (a new tuple if it was one).

    Tuples on the way are rebuilt, since they cannot be changed in place.
    """
    if not path:
        return value
    head, rest = path[0], path[1:]
    child = assign_value(spec[head], rest, value) if rest else value
    if isinstance(spec, tuple):
        return _rebuild_tuple(spec, [*spec[:head], child, *spec[head + 1 :]])
    spec[head] = child
    return spec


def _get_value(spec: Any, path: Path) -> Any:
    for key in path:
        spec = spec[key]
    return spec


def _path_key(path: Path) -> tuple:
    # Sort list indices numerically and keys as text, never comparing an int with a str.
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def _path_str(path: Path, delimiter: str = "/") -> str:
    return delimiter.join(str(p) for p in path)


# ---------------------------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------------------------


def _resolve_domains(
    spec: dict, domain_vars: list[tuple[Path, Domain]], rng: _Rng, allow_fail: bool = False
) -> dict[Path, Any]:
    """Draw every domain in ``domain_vars`` into ``spec`` (in place); returns what was drawn.

    ``sample_from`` functions that read an unresolved value are retried after the others;
    when a whole pass makes no progress the rest cannot be resolved (a cycle, or a value that
    only a later grid point provides). ``allow_fail`` then returns what was resolved.
    """
    resolved: dict[Path, Any] = {}
    pending = list(domain_vars)
    while pending:
        still: list[tuple[Path, Domain]] = []
        reasons: dict[Path, str] = {}
        for path, domain in pending:
            try:
                # Functions get a view of the live spec; other domains ignore the config.
                value = domain._sample_one(rng, _Spec(spec) if domain.is_function() else None)
            except RecursiveDependencyError as exc:
                still.append((path, domain))
                reasons[path] = str(exc)
                continue
            except TuneValueError:
                raise
            except Exception as exc:
                raise TuneValueError(
                    f"Failed to evaluate param_space[{_path_str(path)}]={domain!r}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if isinstance(value, (dict, list, tuple)):
                # A drawn container (a choice of dicts) may be resolved further; never let
                # that touch the category stored in the space.
                value = _copy_structure(value)
            assign_value(spec, path, value)
            resolved[path] = value
        if len(still) == len(pending):
            if allow_fail:
                return resolved
            details = "; ".join(f"{_path_str(p)} {reasons[p]}" for p, _ in still)
            raise TuneValueError(
                f"Cannot resolve param_space[{', '.join(_path_str(p) for p, _ in still)}]: "
                f"each sample_from must only read values that can be resolved first, and "
                f"values may not depend on each other in a cycle ({details})."
            )
        pending = still
    return resolved


def _grid_points(spec: dict, grid_vars: list[tuple[Path, Any]]) -> Iterator[dict]:
    """One structural copy of ``spec`` per grid point; the first variable varies fastest."""
    if not grid_vars:
        yield spec
        return
    values = [_grid_values(path, value) for path, value in grid_vars]
    indices = [0] * len(grid_vars)
    while True:
        point = _copy_structure(spec)
        for (path, _), options, index in zip(grid_vars, values, indices):
            chosen = options[index]
            if isinstance(chosen, (dict, list, tuple)):
                chosen = _copy_structure(chosen)
            assign_value(point, path, chosen)
        yield point
        position = 0
        while position < len(indices):
            indices[position] += 1
            if indices[position] < len(values[position]):
                break
            indices[position] = 0
            position += 1
        else:
            return


def _may_nest(resolved: dict[Path, Any], point: dict, grid_vars: list[tuple[Path, Any]]) -> bool:
    """Whether drawn or grid values are containers or domains that may hold more to resolve."""
    values = list(resolved.values())
    values.extend(_get_value(point, path) for path, _ in grid_vars)
    return any(isinstance(v, (dict, list, tuple, Domain)) for v in values)


def _variants(
    spec: dict, constant_grid_search: bool, rng: _Rng
) -> Iterator[tuple[dict[Path, Any], dict]]:
    _, domain_vars, grid_vars = parse_spec_vars(spec)
    if not domain_vars and not grid_vars:
        yield {}, spec
        return
    pre_resolved: dict[Path, Any] = {}
    to_resolve = domain_vars
    if constant_grid_search and grid_vars and domain_vars:
        # Draw the random values once and keep them across the grid; functions that read a
        # grid value are drawn per grid point below.
        pre_resolved = _resolve_domains(spec, domain_vars, rng, allow_fail=True)
        to_resolve = [(p, d) for p, d in domain_vars if p not in pre_resolved]
    for point in _grid_points(spec, grid_vars):
        resolved = dict(pre_resolved)
        resolved.update(_resolve_domains(point, to_resolve, rng))
        if not _may_nest(resolved, point, grid_vars):
            out = dict(resolved)
            for path, _ in grid_vars:
                out[path] = _get_value(point, path)
            yield out, point
            continue
        # Drawn and grid values may hold further domains and grids (a grid over dicts with
        # their own grid inside): resolve those too, each combination a variant of its own.
        for inner_resolved, final in _variants(point, constant_grid_search, rng):
            out = dict(resolved)
            for path, _ in grid_vars:
                out[path] = _get_value(final, path)
            for path, value in inner_resolved.items():
                out[path] = value
            yield out, final


def generate_variants(
    param_space: dict,
    constant_grid_search: bool = False,
    random_state: Any = None,
) -> Iterator[tuple[dict[Path, Any], dict]]:
    """Yield ``(resolved_vars, config)`` for every grid point of ``param_space``, lazily.

    :param param_space: the search space (not modified).
    :param constant_grid_search: draw the random values once and keep them for every grid
        point (instead of drawing new ones per point).
    :param random_state: ``None``, an int seed, a ``random.Random`` or a NumPy generator.
    :return: an iterator of ``(resolved_vars, config)``, where ``resolved_vars`` maps each
        sampled or grid-searched path (a tuple of keys) to its value.
    """
    if not isinstance(param_space, dict):
        raise invalid_type("param_space", param_space, "expected a dict of parameters")
    rng = _as_rng(random_state)
    yield from _variants(_copy_structure(param_space), constant_grid_search, rng)


def resolve(param_space: dict, random_state: Any = None) -> dict:
    """One config drawn from ``param_space`` (the first grid point if it has grid searches)."""
    return next(iter(generate_variants(param_space, random_state=random_state)))[1]


# ---------------------------------------------------------------------------------------------
# points_to_evaluate and counting
# ---------------------------------------------------------------------------------------------


def _preset_paths(space: Any, point: Any, prefix: Path) -> Iterator[tuple[Path, Any]]:
    for key, value in point.items():
        path = (*prefix, key)
        if isinstance(space, dict) and key not in space and isinstance(key, str) and "/" in key:
            # Flattened keys ("model/width") as some searchers write them.
            parts = tuple(key.split("/"))
            try:
                _get_value(space, parts)
            except (KeyError, IndexError, TypeError):
                pass
            else:
                yield from _preset_value(_get_value(space, parts), value, (*prefix, *parts))
                continue
        if not isinstance(space, dict) or key not in space:
            known = ", ".join(repr(k) for k in space) if isinstance(space, dict) else "none"
            raise invalid_value(
                "points_to_evaluate",
                point,
                f"key {_path_str(path)!r} is not a parameter of param_space (keys at this "
                f"level: {known}); add it to param_space",
            )
        yield from _preset_value(space[key], value, path)


def _preset_value(space_value: Any, value: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict) and isinstance(space_value, dict) and not _is_grid_dict(space_value):
        yield from _preset_paths(space_value, value, path)
        return
    if _is_grid_dict(space_value):
        space_value = Categorical(space_value["grid_search"])
    if isinstance(space_value, Domain):
        if not space_value.is_valid(value):
            logger.warning(
                "Pre-set value %r is not within the valid values of parameter %s: %s",
                value,
                _path_str(path),
                space_value.domain_str,
            )
    yield path, value


def apply_preset(param_space: dict, point: Mapping) -> dict:
    """``param_space`` with the values of ``point`` (a partial config) put in place.

    Parameters ``point`` leaves out keep their domains and are drawn as usual. Keys may be
    nested like the space or flattened (``"model/width"``).

    :raises TuneValueError: if ``point`` names a parameter the space does not have.
    """
    if not isinstance(point, Mapping):
        raise invalid_type("points_to_evaluate", point, "expected a list of dicts")
    spec = _copy_structure(param_space)
    for path, value in list(_preset_paths(param_space, point, ())):
        assign_value(spec, path, value)
    return spec


def _count_grid(node: Any) -> int:
    """How many variants the grid searches in ``node`` (nested ones included) produce."""
    if _is_grid(node):
        values = _grid_values((), node) if _is_grid_dict(node) else node.categories
        return sum(_count_grid(v) for v in values)
    total = 1
    if isinstance(node, (dict, list, tuple)):
        for _, value in _children(node):
            total *= _count_grid(value)
    return total


def count_variants(
    param_space: dict, num_samples: int = 1, points_to_evaluate: list[dict] | None = None
) -> int | None:
    """The number of configs ``BasicVariantGenerator`` produces, or ``None`` when unbounded.

    Each point to evaluate uses up one of ``num_samples`` and is expanded over the grid
    searches it leaves open; the remaining samples each repeat the whole grid.
    """
    if num_samples == -1:
        return None
    points = points_to_evaluate or []
    total = sum(_count_grid(apply_preset(param_space, p)) for p in points)
    remaining = num_samples - len(points)
    if remaining > 0:
        total += remaining * _count_grid(param_space)
    return total


# ---------------------------------------------------------------------------------------------
# Flattening and trial tags
# ---------------------------------------------------------------------------------------------


def flatten_dict(
    d: Mapping,
    delimiter: str = "/",
    prevent_delimiter: bool = False,
    flatten_list: bool = False,
) -> dict:
    """``{"a": {"b": 1}, "c": 2}`` -> ``{"a/b": 1, "c": 2}``, keeping the order of keys.

    As in Ray Tune, empty nested dicts disappear and nested keys become strings.

    :param delimiter: what joins the keys.
    :param prevent_delimiter: raise if a key already contains ``delimiter``.
    :param flatten_list: also flatten lists (``"a/0"``, ``"a/1"``).
    """
    out: dict = {}

    def visit(node: Any, prefix: str | None) -> None:
        items = enumerate(node) if isinstance(node, list) else node.items()
        for key, value in items:
            if prevent_delimiter and delimiter in str(key):
                raise invalid_value("key", key, f"must not contain the delimiter {delimiter!r}")
            name = key if prefix is None else f"{prefix}{delimiter}{key}"
            if isinstance(value, Mapping) or (flatten_list and isinstance(value, list)):
                visit(value, str(name))
            else:
                out[name] = value

    visit(d, None)
    return out


def unflatten_dict(d: Mapping, delimiter: str = "/") -> dict:
    """The inverse of ``flatten_dict``: ``{"a/b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict = {}
    for key, value in d.items():
        parts = key.split(delimiter) if isinstance(key, str) else [key]
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise invalid_value(
                    "d", dict(d), f"key {key!r} nests under {part!r}, which holds a value"
                )
            node = child
        node[parts[-1]] = value
    return out


def evaluated_params(
    param_space: Mapping, resolved_config: Mapping, delimiter: str = "/"
) -> dict[str, Any]:
    """The values of ``resolved_config`` that were sampled or grid-searched, by flat path.

    ``evaluated_params({"lr": tune.loguniform(1e-4, 1e-1), "model": {"width":
    tune.grid_search([64, 128])}, "epochs": 10}, config)`` gives
    ``{"lr": 0.01, "model/width": 64}``: constants are left out. Keys are the path's parts
    (list indices included) joined with ``delimiter``, in the space's order.
    """
    out: dict[str, Any] = {}
    for path, _ in _walk_unresolved(param_space):
        try:
            value = _get_value(resolved_config, path)
        except (KeyError, IndexError, TypeError):
            continue
        out[_path_str(path, delimiter)] = value
    return out


_INVALID_TAG_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")


def _clean_value(value: Any) -> str:
    """Floats with 4 decimals; anything else with characters unsafe in file names as ``_``."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        return f"{float(value):.4f}"
    return _INVALID_TAG_CHARS.sub("_", str(value)).strip("_")


def format_vars(params: Mapping, delimiter: str = "/") -> str:
    """The tag trial names are made from: ``"lr=0.0100,width=64"``.

    As in Ray Tune, each entry is the *last* part of the parameter's path and its value, in
    sorted path order; floats get 4 decimals and characters other than letters, digits,
    ``_`` and ``-`` become ``_`` so the tag is a valid directory name everywhere.

    :param params: ``evaluated_params`` output (``{"lr": 0.01, "model/width": 64}``) or Ray's
        ``{("model", "width"): 64}`` form with tuple paths.
    """
    entries = []
    for key, value in params.items():
        if isinstance(key, tuple):
            parts: Path = key
        elif isinstance(key, str):
            parts = tuple(key.split(delimiter))
        else:
            parts = (key,)
        entries.append((_path_key(parts), parts, value))
    entries.sort(key=lambda entry: entry[0])
    return ",".join(
        f"{_clean_value(parts[-1])}={_clean_value(value)}" for _, parts, value in entries
    )
