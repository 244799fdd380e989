"""Parameters of methods and networks: validation, and every default written once."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
from pathlib import Path

import pytest
import yaml

from fedmix import aggregation, losses, pseudo
from fedmix.config import RunConfig, load_schema, resolve_run, validate_config
from fedmix.methods import BUILTIN, FedMixParams, FedProxParams, FedRGDParams, FedSTParams
from fedmix.model import UNetParams
from fedmix.params import ConfigError, build_params, param_fields, params_to_dict

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
PARAMS_CLASSES = [cls.Params for cls in BUILTIN.values()] + [UNetParams]


def _schema_defaults(node, path=()):
    """(path, property name, default) of every property in the schema that has a default."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            if isinstance(sub, dict) and "default" in sub:
                yield (*path, name), name, sub["default"]
            yield from _schema_defaults(sub, (*path, name))
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            yield from _schema_defaults(extra, (*path, "*"))


def test_every_parameter_default_is_written_once():
    """Method and network parameters get their defaults from their dataclasses only: no schema
    property of the same name carries one, RunConfig repeats none of the schema's, and the
    functions that implement the formulas take these values as required arguments."""
    param_keys = {key for cls in PARAMS_CLASSES for key in param_fields(cls)}
    schema_defaults = list(_schema_defaults(load_schema()))
    assert schema_defaults, "the walk found no default at all: it is broken"
    twice = [(path, d) for path, name, d in schema_defaults if name in param_keys]
    assert not twice, f"defaults also in the schema: {twice}"
    schema_names = {name for _, name, _ in schema_defaults}
    repeated = [
        f.name
        for f in dataclasses.fields(RunConfig)
        if f.default is not dataclasses.MISSING and f.name in schema_names
    ]
    assert not repeated, f"RunConfig repeats defaults of the schema: {repeated}"
    for fn in (pseudo.select_pseudo_labels, losses.confident_bce, aggregation.fedmix_weights):
        defaults = {
            name: p.default
            for name, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        assert not set(defaults) & {f.name for c in PARAMS_CLASSES for f in dataclasses.fields(c)}


def test_schema_defaults_match_what_a_resolved_run_uses():
    """Each training default of the schema arrives in RunConfig unchanged (no second value)."""
    minimal = {k: DEFAULT[k] for k in ("experiment", "tasks", "methods", "tables")}
    config = validate_config(minimal)
    run = resolve_run(config, "synthetic-breast", "fedavg", "L-L-L", 0)
    schema = load_schema()["properties"]["training"]["properties"]
    for key in ("rounds", "local_epochs", "batch_size", "lr", "checkpoint_every", "precision"):
        assert getattr(run, key) == schema[key]["default"], key


def test_dataclass_defaults_are_those_of_the_paper_and_the_demo():
    p = FedMixParams(variant="tmi")
    assert (p.lambda_, p.beta, p.tau, p.box_tau) == (10.0, 1.5, 0.9, 0.5)
    assert (p.adaptive_weights, p.box_refinement, p.use_image_labels) == (True, True, False)
    assert (p.box_margin, p.box_margin_clamp) == ((1, 9), True)  # the TMI code's margin
    arxiv = FedMixParams(variant="arxiv")
    assert (arxiv.box_margin, arxiv.box_margin_clamp) == ((2, 2), False)  # the arXiv code's
    assert FedProxParams().mu == 0.0
    assert (FedSTParams().labelled_weight, FedRGDParams().labelled_weight) == (0.9, 0.5)
    assert (UNetParams().width, UNetParams().levels) == (8, 3)


def test_paper_symbols_keep_their_names():
    params = build_params(FedMixParams, {"variant": "arxiv", "lambda": 1}, "m")
    assert params.lambda_ == 1.0 and isinstance(params.lambda_, float)
    assert params_to_dict(params)["lambda"] == 1.0 and "lambda_" not in params_to_dict(params)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"variant": "tmi", "lamda": 1.0}, r"unknown key\(s\) \['lamda'\].*'lambda'"),
        ({"variant": "tmi", "beta": True}, r"\['beta'\] = True: expected a number"),
        ({"variant": "tmi", "beta": "2"}, r"\['beta'\] = '2': expected a number"),
        ({"variant": "tmi", "tau": math.nan}, r"\['tau'\] = nan: must be a finite number"),
        ({"variant": "tmi", "lambda": math.inf}, r"\['lambda'\] = inf: must be a finite"),
        ({"variant": "tmi", "tau": 1.5}, r"\['tau'\] = 1.5: must lie in \[0, 1\]"),
        ({"variant": "tmi", "beta": 0.0}, r"\['beta'\] = 0.0: must be greater than 0"),
        ({"variant": "tmi", "box_refinement": 1}, r"expected true or false"),
        ({"variant": "tmi2"}, r"use one of \['tmi', 'arxiv'\]"),
        ({}, r"needs 'variant'.*one of \['tmi', 'arxiv'\]"),
    ],
)
def test_bad_parameters_are_named_with_a_fix(values, match):
    with pytest.raises(ConfigError, match=match) as err:
        build_params(FedMixParams, values, "config['methods']['m']")
    assert str(err.value).startswith("config['methods']['m']")


def _edited(edit):
    config = copy.deepcopy(DEFAULT)
    edit(config)
    return config


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda c: c["methods"]["fedprox"].update(mu=True), r"\['fedprox'\].*\['mu'\] = True"),
        (lambda c: c["methods"]["fedprox"].update(tau=0.5), r"unknown key\(s\) \['tau'\]"),
        (lambda c: c["methods"].update(x={"algorithm": "fedmx"}), r"unknown algorithm 'fedmx'"),
        (
            lambda c: c["methods"].update(x={"algorithm": "no_such_pkg.mod:Cls"}),
            r"cannot import 'no_such_pkg.mod'.*PYTHONPATH",
        ),
        (lambda c: c["methods"].update(x={"algorithm": "fedmix"}), r"\['x'\].*needs 'variant'"),
        (
            lambda c: c["tasks"]["synthetic-skin"]["hyper"]["fedmix"].update(beta=float("nan")),
            r"\['synthetic-skin'\]\['hyper'\]\['fedmix'\]\['beta'\] = nan",
        ),
        (lambda c: c["training"]["model"].update(width=7), r"\['model'\].*width 7 must be even"),
        (lambda c: c["training"]["model"].update(network="unet2"), r"unknown network 'unet2'"),
    ],
)
def test_config_errors_show_when_the_workflow_loads(edit, match):
    with pytest.raises(ConfigError, match=match):
        validate_config(_edited(edit))


def test_per_task_hyper_parameters_and_method_keys_take_precedence_in_order():
    def edit(c):
        c["tasks"]["synthetic-breast"]["hyper"]["fedst"] = {"warmup_fraction": 0.25}
        c["tasks"]["synthetic-breast"]["hyper"]["fedprox"] = {"mu": 0.5}
        c["methods"]["fedrgd"]["confidence"] = 0.8

    config = validate_config(_edited(edit))
    rgd = resolve_run(config, "synthetic-breast", "fedrgd", "U-U-L", 0).params
    assert (rgd.warmup_fraction, rgd.labelled_weight, rgd.confidence) == (0.25, 0.5, 0.8)
    assert resolve_run(config, "synthetic-breast", "fedprox", "U-U-L", 0).params.mu == 0.01
    skin = resolve_run(config, "synthetic-skin", "fedmix-tmi", "B-B-L-B", 0).params
    breast = resolve_run(config, "synthetic-breast", "fedmix-tmi", "I-B-L", 0).params
    assert (skin.beta, breast.beta) == (3.0, 1.5)


def test_run_config_round_trips_through_its_dict():
    config = validate_config(DEFAULT)
    run = resolve_run(config, "synthetic-breast", "fedmix-lambda0", "I-B-L", 0)
    d = run.to_dict()
    assert d["params"]["lambda"] == 0.0 and d["model"] == {
        "network": "unet",
        "width": 8,
        "levels": 3,
    }
    assert RunConfig.from_dict(d) == run
