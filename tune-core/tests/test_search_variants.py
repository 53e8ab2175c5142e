"""Resolving param spaces into configs, and the helpers that name trials after them."""

from __future__ import annotations

import copy
from collections import namedtuple

import pytest

import tune
from tune.errors import TuneValueError
from tune.search.variant_generator import (
    apply_preset,
    count_variants,
    evaluated_params,
    flatten_dict,
    format_vars,
    generate_variants,
    has_unresolved_values,
    unflatten_dict,
)


def configs(space, **kw):
    kw.setdefault("random_state", 0)
    return [config for _, config in generate_variants(space, **kw)]


# -- grid search ----------------------------------------------------------------------------------


def test_grid_is_cartesian_product_first_sorted_path_fastest():
    space = {"y": tune.grid_search(["a", "b"]), "x": tune.grid_search([1, 2, 3])}
    got = [(c["x"], c["y"]) for c in configs(space)]
    assert got == [(1, "a"), (2, "a"), (3, "a"), (1, "b"), (2, "b"), (3, "b")]


def test_grid_dict_literal_and_grid_domain_work_like_grid_search():
    space = {"a": {"grid_search": [1, 2]}, "b": tune.choice([5, 6]).grid()}
    assert sorted((c["a"], c["b"]) for c in configs(space)) == [(1, 5), (1, 6), (2, 5), (2, 6)]


def test_bad_grid_literal_names_the_parameter():
    with pytest.raises(TuneValueError, match="model/width"):
        configs({"model": {"width": {"grid_search": []}}})
    with pytest.raises(TypeError, match="model/width"):
        configs({"model": {"width": {"grid_search": "abc"}}})


def test_grid_values_with_nested_grids_expand():
    space = {
        "opt": tune.grid_search(
            [{"name": "sgd", "lr": tune.grid_search([0.1, 0.01])}, {"name": "adam"}]
        )
    }
    got = [c["opt"] for c in configs(space)]
    assert got == [{"name": "sgd", "lr": 0.1}, {"name": "sgd", "lr": 0.01}, {"name": "adam"}]
    assert count_variants(space) == 3
    # The space itself is untouched.
    assert space["opt"]["grid_search"][0]["lr"] == tune.grid_search([0.1, 0.01])


# -- nesting, constants, structure ------------------------------------------------------------


def test_nested_dicts_lists_tuples_and_constants():
    big = object()
    Point = namedtuple("Point", "x y")
    space = {
        "model": {
            "layers": [tune.grid_search([16, 64]), tune.grid_search([16, 64])],
            "act": tune.choice(["relu", "tanh"]),
        },
        "opt": {"lr": tune.loguniform(1e-4, 1e-1), "betas": (0.9, tune.uniform(0.9, 0.999))},
        "point": Point(1, tune.randint(0, 3)),
        "const": {"a": [1, 2, (3, 4)], "empty": {}, "obj": big},
        "name": "exp",
    }
    before = copy.deepcopy(space, {id(big): big})
    out = configs(space)
    assert len(out) == 4
    assert sorted(tuple(c["model"]["layers"]) for c in out) == [
        (16, 16),
        (16, 64),
        (64, 16),
        (64, 64),
    ]
    for c in out:
        assert c["model"]["act"] in ("relu", "tanh")
        assert 1e-4 <= c["opt"]["lr"] <= 1e-1
        assert type(c["opt"]["betas"]) is tuple and c["opt"]["betas"][0] == 0.9
        assert 0.9 <= c["opt"]["betas"][1] <= 0.999
        assert type(c["point"]) is Point and c["point"].x == 1 and c["point"].y in (0, 1, 2)
        assert c["const"] == {"a": [1, 2, (3, 4)], "empty": {}, "obj": big}
        assert c["const"]["obj"] is big  # leaves are shared, not deep-copied
        assert c["name"] == "exp"
        assert not has_unresolved_values(c)
    # Containers are new per config: changing one config changes neither the space nor others.
    out[0]["const"]["a"].append(99)
    assert out[1]["const"]["a"] == [1, 2, (3, 4)]
    assert space == before


def test_choice_of_dicts_with_domains_inside_is_resolved():
    space = {"opt": tune.choice([{"name": "sgd", "lr": tune.uniform(0, 1)}])}
    for c in configs(space, random_state=1) + configs(space, random_state=2):
        assert c["opt"]["name"] == "sgd" and 0 <= c["opt"]["lr"] <= 1
    assert isinstance(space["opt"].categories[0]["lr"], type(tune.uniform(0, 1)))


def test_space_without_domains_gives_one_config():
    assert configs({"a": 1, "b": [1, 2]}) == [{"a": 1, "b": [1, 2]}]
    assert configs({}) == [{}]


# -- sample_from ------------------------------------------------------------------------------------


def test_sample_from_sees_other_values_in_any_order():
    space = {
        "c": tune.sample_from(lambda spec: spec.config.b + 1),
        "b": tune.sample_from(lambda spec: spec["config"]["a"] * 10),
        "a": tune.randint(1, 5),
        "d": tune.sample_from(lambda config: config["a"]),  # config-style access works too
        "e": tune.sample_from(lambda: 3),
    }
    for c in configs(space, random_state=3):
        assert c["b"] == c["a"] * 10 and c["c"] == c["b"] + 1 and c["d"] == c["a"] and c["e"] == 3


def test_sample_from_reads_nested_and_grid_values():
    space = {
        "model": {"width": tune.grid_search([2, 4])},
        "double": tune.sample_from(lambda spec: spec.config.model.width * 2),
        "layers": [tune.grid_search([1, 3]), 5],
        "first": tune.sample_from(lambda spec: spec.config.layers[0] + spec.config.layers[1]),
    }
    out = configs(space)
    assert len(out) == 4
    for c in out:
        assert c["double"] == c["model"]["width"] * 2
        assert c["first"] == c["layers"][0] + 5


def test_circular_sample_from_raises_naming_both():
    space = {
        "a": tune.sample_from(lambda spec: spec.config.b),
        "b": tune.sample_from(lambda spec: spec.config.a),
        "c": 1,
    }
    with pytest.raises(TuneValueError) as info:
        configs(space)
    message = str(info.value)
    assert "param_space[a, b]" in message and "cycle" in message


def test_sample_from_errors_name_the_parameter():
    with pytest.raises(TuneValueError, match=r"param_space\[x/y\].*ZeroDivisionError"):
        configs({"x": {"y": tune.sample_from(lambda spec: 1 / 0)}})
    with pytest.raises(TuneValueError, match=r"param_space\[z\].*missing"):
        configs({"z": tune.sample_from(lambda spec: spec.config.missing)})


# -- random state and constant grid --------------------------------------------------------------


def test_random_state_reproducible():
    space = {
        "a": tune.uniform(0, 1),
        "g": tune.grid_search([1, 2, 3]),
        "c": tune.choice(["x", "y", "z"]),
    }
    assert configs(space, random_state=11) == configs(space, random_state=11)
    assert configs(space, random_state=11) != configs(space, random_state=12)


def test_numpy_generator_reproducible():
    np = pytest.importorskip("numpy")
    space = {"a": tune.uniform(0, 1), "g": tune.grid_search([1, 2])}
    one = configs(space, random_state=np.random.default_rng(4))
    assert one == configs(space, random_state=np.random.default_rng(4))


def test_constant_grid_search_keeps_random_values_across_the_grid():
    space = {
        "a": tune.uniform(0, 1),
        "g": tune.grid_search([1, 2, 3]),
        "f": tune.sample_from(lambda spec: spec.config.g * 10),
    }
    constant = configs(space, constant_grid_search=True)
    assert len({c["a"] for c in constant}) == 1
    assert [c["f"] for c in constant] == [10, 20, 30]
    varying = configs(space)
    assert len({c["a"] for c in varying}) == 3


# -- points_to_evaluate presets, counting ----------------------------------------------------------


def test_apply_preset_nested_flat_and_unknown_keys():
    space = {"a": tune.uniform(0, 1), "m": {"w": tune.choice([1, 2]), "d": tune.randint(0, 3)}}
    spec = apply_preset(space, {"a": 0.5, "m": {"w": 2}})
    assert spec["a"] == 0.5 and spec["m"]["w"] == 2 and spec["m"]["d"] == space["m"]["d"]
    assert apply_preset(space, {"m/w": 1})["m"]["w"] == 1
    with pytest.raises(TuneValueError, match="'m/nope'"):
        apply_preset(space, {"m": {"nope": 1}})


def test_count_variants():
    space = {
        "x": tune.grid_search([1, 2, 3]),
        "y": tune.grid_search(["a", "b", "c"]),
        "z": tune.uniform(0, 1),
    }
    assert count_variants(space, 1) == 9
    assert count_variants(space, 5) == 45
    assert count_variants(space, -1) is None
    # A point fixing x leaves the 3 values of y open, and uses up one sample.
    assert count_variants(space, 2, [{"x": 1}]) == 3 + 9
    assert count_variants({"a": tune.choice([0, 1, 2])}, 13) == 13


# -- evaluated_params / format_vars / flatten -------------------------------------------------------


def test_evaluated_params_only_sampled_values():
    space = {
        "lr": tune.loguniform(1e-4, 1e-1),
        "model": {"width": tune.grid_search([64, 128]), "depth": 3},
        "layers": [tune.randint(1, 4), 8],
        "epochs": 10,
    }
    config = configs(space)[0]
    params = evaluated_params(space, config)
    assert list(params) == ["lr", "model/width", "layers/0"]
    assert params["model/width"] == 64 and params["lr"] == config["lr"]
    assert evaluated_params({"a": 1}, {"a": 1}) == {}


def test_format_vars_like_ray():
    assert format_vars({"lr": 0.01, "model/width": 64}) == "lr=0.0100,width=64"
    assert format_vars({"momentum": 0.9, "lr": 0.01}) == "lr=0.0100,momentum=0.9000"
    assert format_vars({("model", "act"): "tanh/relu x"}) == "act=tanh_relu_x"
    assert format_vars({"flag": True, "n": -3, "layers": [16, 64]}) == (
        "flag=True,layers=16_64,n=-3"
    )
    assert format_vars({}) == ""


def test_format_vars_numpy_floats():
    np = pytest.importorskip("numpy")
    assert format_vars({"x": np.float32(0.5), "i": np.int64(3)}) == "i=3,x=0.5000"


def test_flatten_and_unflatten_dict():
    nested = {"a": {"b": 1, "c": {"d": 2}}, "e": 3, "f": {}, "g": [1, {"h": 2}]}
    flat = flatten_dict(nested)
    assert flat == {"a/b": 1, "a/c/d": 2, "e": 3, "g": [1, {"h": 2}]}
    assert list(flat) == ["a/b", "a/c/d", "e", "g"]
    assert flatten_dict(nested, delimiter=".")["a.c.d"] == 2
    assert flatten_dict({"g": [1, {"h": 2}]}, flatten_list=True) == {"g/0": 1, "g/1/h": 2}
    with pytest.raises(TuneValueError, match="'a/b'"):
        flatten_dict({"a/b": 1}, prevent_delimiter=True)
    assert unflatten_dict({"a/b": 1, "a/c/d": 2, "e": 3}) == {"a": {"b": 1, "c": {"d": 2}}, "e": 3}


def test_generate_variants_rejects_non_dict():
    with pytest.raises(TypeError, match="param_space"):
        list(generate_variants([1, 2]))
