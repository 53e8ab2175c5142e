"""PBT's explore step and the bookkeeping around it: mutations, tags, the policy log.

``explore`` perturbs a config as Population Based Training does (Jaderberg et al., 2017,
and Ray Tune's implementation): list-valued mutations resample or shift to a neighbouring
value, search-space domains and callables resample or multiply by a perturbation factor,
nested dicts recurse. The policy log (``pbt_policy_<trial_id>.txt``) is what
``PopulationBasedTrainingReplay`` reads.
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
from collections.abc import Callable, Mapping
from typing import Any

from tune.errors import invalid_type, invalid_value
from tune.search.sample import Domain
from tune.search.variant_generator import format_vars

__all__ = ["check_mutations", "explore", "fill_config", "make_experiment_tag", "PolicyLog"]

GLOBAL_POLICY_FILE = "pbt_global.txt"


def policy_file_name(trial_id: str) -> str:
    return f"pbt_policy_{trial_id}.txt"


def check_mutations(mutations: Any, argument: str = "hyperparam_mutations") -> dict:
    """Validate ``hyperparam_mutations`` up front: each value a list/tuple, a search-space
    domain, a callable, or a dict of those."""
    if not isinstance(mutations, Mapping):
        raise invalid_type(argument, mutations, "expected a dict of parameter -> mutation")
    for key, value in mutations.items():
        name = f"{argument}[{key!r}]"
        if isinstance(value, Mapping):
            check_mutations(value, name)
        elif isinstance(value, (list, tuple)):
            if not value:
                raise invalid_value(name, value, "must be a non-empty list of values")
        elif not isinstance(value, Domain) and not callable(value):
            raise invalid_value(
                name,
                value,
                "must be a list of values, a search-space domain (tune.uniform(...)), a "
                "function returning a value, or a dict of those",
            )
    return dict(mutations)


def _draw(distribution: Any) -> Any:
    if isinstance(distribution, Domain):
        return distribution.sample(None, random_state=random.Random(random.random()))
    return distribution()


def fill_config(config: dict, attr: str, distribution: Any) -> None:
    """Give ``config[attr]`` a starting value drawn from ``distribution`` (when the search
    space does not set it)."""
    if isinstance(distribution, Mapping):
        nested = config.setdefault(attr, {})
        for key, inner in distribution.items():
            if key not in nested:
                fill_config(nested, key, inner)
    elif isinstance(distribution, (list, tuple)):
        config[attr] = random.choice(distribution)
    else:
        config[attr] = _draw(distribution)


def explore(
    config: dict,
    mutations: Mapping,
    resample_probability: float,
    perturbation_factors: tuple[float, float],
    custom_explore_fn: Callable[[dict], dict] | None = None,
) -> tuple[dict, dict]:
    """Return ``(new_config, operations)``: a perturbed copy of ``config`` and, per key, what
    was done (``"resample"``, ``"shift left"``, ``"* 1.2"``, ...)."""
    operations: dict[str, Any] = {}
    new_config = copy.deepcopy(config)
    for key, distribution in mutations.items():
        if isinstance(distribution, Mapping):
            nested, nested_ops = explore(
                config.get(key, {}), distribution, resample_probability, perturbation_factors
            )
            new_config[key] = nested
            operations[key] = nested_ops
        elif isinstance(distribution, (list, tuple)):
            values = list(distribution)
            if random.random() < resample_probability or config.get(key) not in values:
                new_config[key] = random.choice(values)
                operations[key] = "resample"
            else:
                shift = random.choice([-1, 1])
                old = values.index(config[key])
                new = min(max(old + shift, 0), len(values) - 1)
                new_config[key] = values[new]
                side = "left" if shift == -1 else "right"
                operations[key] = f"shift {side}{' (noop)' if old == new else ''}"
        else:
            if random.random() < resample_probability or key not in config:
                new_config[key] = _draw(distribution)
                operations[key] = "resample"
            else:
                factor = random.choice(perturbation_factors)
                new_config[key] = config[key] * factor
                operations[key] = f"* {factor}"
            if isinstance(config.get(key), int) and not isinstance(config.get(key), bool):
                # An integer hyperparameter (a batch size) stays an integer.
                new_config[key] = int(new_config[key])
    if custom_explore_fn is not None:
        explored = custom_explore_fn(new_config)
        if not isinstance(explored, dict):
            raise invalid_type(
                "custom_explore_fn", explored, "must return the new config (a dict)"
            )
        new_config = explored
    return new_config, operations


def _flat_values(config: Mapping, mutations: Mapping, prefix: str = "") -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, distribution in mutations.items():
        if isinstance(distribution, Mapping) and isinstance(config.get(key), Mapping):
            values.update(_flat_values(config[key], distribution, f"{prefix}{key}/"))
        elif key in config:
            values[f"{prefix}{key}"] = config[key]
    return values


def make_experiment_tag(orig_tag: str, config: Mapping, mutations: Mapping) -> str:
    """``"3_lr=0.1@perturbed[lr=0.12]"``: the original tag and the mutated values."""
    return f"{orig_tag}@perturbed[{format_vars(_flat_values(config, mutations))}]"


def describe_changes(old: Mapping, new: Mapping, operations: Mapping, indent: str = "") -> str:
    """One line per mutated hyperparameter: ``lr : 0.1 --- (* 1.2) --> 0.12``."""
    lines = []
    for key, op in operations.items():
        if isinstance(op, Mapping):
            lines.append(f"{indent}{key} :")
            lines.append(describe_changes(old.get(key, {}), new.get(key, {}), op, indent + "    "))
        else:
            lines.append(f"{indent}{key} : {old.get(key)} --- ({op}) --> {new.get(key)}")
    return "\n".join(lines)


class PolicyLog:
    """Appends each exploit to the experiment's policy files, as Ray Tune writes them.

    A row is ``[target tag, source tag, target iteration, source iteration, source config,
    new config]``. ``pbt_policy_<target>.txt`` starts as a copy of the source's file, so it
    holds the whole lineage of the target's schedule (what the replay follows).
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def log(
        self,
        experiment_dir: str,
        target_id: str,
        target_tag: str,
        source_id: str,
        source_tag: str,
        target_step: int,
        source_step: int,
        source_config: dict,
        new_config: dict,
    ) -> None:
        if not self.enabled or not experiment_dir:
            return
        from tune.experiment_state import json_default

        row = json.dumps(
            [target_tag, source_tag, target_step, source_step, source_config, new_config],
            default=json_default,
        )
        with open(os.path.join(experiment_dir, GLOBAL_POLICY_FILE), "a") as f:
            f.write(row + "\n")
        target = os.path.join(experiment_dir, policy_file_name(target_id))
        source = os.path.join(experiment_dir, policy_file_name(source_id))
        if os.path.exists(source):
            shutil.copyfile(source, target)
        elif os.path.exists(target):
            os.remove(target)  # the target's own history is replaced by the source's
        with open(target, "a") as f:
            f.write(row + "\n")
