"""Configuration: schema validation with defaults, and the resolved settings of one run.

Flow: YAML (read by Snakemake) -> :func:`validate_config` (JSON schema draft 2020-12, fills
defaults, rejects unknown keys, checks cross-references, and validates every method's and
network's parameters against their dataclasses, so errors show before any job runs) ->
:func:`resolve_run` (one task/method/setting/seed) -> :class:`RunConfig` (frozen) -> explicit
function arguments. This module never reads YAML itself.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from importlib import resources
from typing import TYPE_CHECKING

from fedmix.methods import strategy_class
from fedmix.params import ConfigError, check_values
from fedmix.runconfig import (
    SUPERVISION_LETTERS,
    RunConfig,
    describe_data,
    method_params,
    parse_setting,
    resolve_run,
    run_model,
)

if TYPE_CHECKING:
    import jsonschema

__all__ = [
    "SUPERVISION_LETTERS",
    "ConfigError",
    "RunConfig",
    "describe_data",
    "load_schema",
    "parse_setting",
    "resolve_run",
    "validate_config",
]


def load_schema() -> dict:
    text = resources.files("fedmix").joinpath("schemas/config.schema.json").read_text()
    return json.loads(text)


@functools.cache
def _validator_class():
    """Draft 2020-12 validator that fills ``default`` values while validating.

    jsonschema is imported here, not at module level: training, evaluation and the bench use
    :class:`RunConfig` only, and run where jsonschema may be absent (the GPU check machine).
    """
    import jsonschema

    validator_class = jsonschema.Draft202012Validator
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    # Stricter types than JSON's: 2.0 is not an integer (rounds: 2.0), and NaN or infinity
    # (YAML .nan, .inf) is not a number, since every range check passes NaN.
    types = validator_class.TYPE_CHECKER.redefine_many(
        {"integer": lambda _, v: _is_int(v), "number": lambda _, v: _is_finite(v)}
    )
    return jsonschema.validators.extend(
        validator_class, {"properties": set_defaults}, type_checker=types
    )


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def validate_config(config: dict) -> dict:
    """Return a validated deep copy of ``config`` with every default filled in.

    Raises :class:`ConfigError` on the first problem, naming the key path and what is allowed.
    """
    config = copy.deepcopy(config)
    errors = sorted(
        _validator_class()(load_schema()).iter_errors(config), key=lambda e: list(e.path)
    )
    if errors:
        raise ConfigError(_describe(errors[0]))
    _check_references(config)
    _check_methods_and_networks(config)
    return config


def _describe(error: jsonschema.ValidationError) -> str:
    where = "config" + "".join(f"[{p!r}]" for p in error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return (
            f"{where}: unknown key(s) {unknown}; allowed keys here are {allowed}. "
            "Fix the spelling or remove the key."
        )
    if "propertyNames" in error.relative_schema_path:
        rule = error.schema.get("description", f"match {error.schema.get('pattern')}")
        return f"{where}: the name {error.instance!r} is not allowed: {rule}. Rename it."
    value = error.instance
    if error.validator == "type" and isinstance(value, float) and not math.isfinite(value):
        return (
            f"{where}: {value} is not a finite number (YAML .nan and .inf are read as NaN and "
            "infinity, which every range check would let through); give a number."
        )
    wants_int = error.validator == "type" and "integer" in error.validator_value
    if wants_int and isinstance(value, float):
        return f"{where}: {value} is not a whole number; write it without a decimal point."
    hint = "See the comments in config/config.yaml for valid values."
    if error.validator == "pattern" and "description" in error.schema:
        hint = f"Allowed: {error.schema['description']}."
    if error.validator == "type" and isinstance(value, str):
        hint = (
            "In a YAML file, write the value without quotes. With --config on the command "
            "line, values inside lists or maps arrive as text: put such overrides in a YAML "
            "file and pass it with --configfile."
        )
    return f"{where}: {error.message}. {hint}"


def _check_references(config: dict) -> None:
    tasks, methods = config["tasks"], config["methods"]
    for name, task in tasks.items():
        split = task["split"]
        if split["val_fraction"] + split["test_fraction"] >= 1:
            raise ConfigError(
                f"config['tasks'][{name!r}]['split']: val_fraction + test_fraction = "
                f"{split['val_fraction'] + split['test_fraction']} leaves no training data; "
                "make their sum smaller than 1"
            )
        if split["mode"] == "original" and task["source"] != "breast":
            raise ConfigError(
                f"config['tasks'][{name!r}]['split']: mode 'original' follows the authors' "
                f"breast fold lists, but the task's source is {task['source']!r}; use mode "
                "grouped (or paper for the skin task)"
            )
        synth = task.get("synthetic")
        if task["source"] == "synthetic":
            if synth is None:
                raise ConfigError(
                    f"config['tasks'][{name!r}]: source is synthetic but no "
                    "'synthetic' block is given"
                )
            if set(synth["clients"]) != set(task["clients"]):
                raise ConfigError(
                    f"config['tasks'][{name!r}]['synthetic']['clients'] names "
                    f"{sorted(synth['clients'])} but the task's clients are {task['clients']}"
                )
            _check_modality_keys(name, synth)
        crop = task.get("training", {}).get("crop_size", config["training"]["crop_size"])
        if crop > task["image_size"]:
            raise ConfigError(
                f"config['tasks'][{name!r}]: crop_size {crop} exceeds "
                f"image_size {task['image_size']}; lower crop_size"
            )
    for tname, table in config["tables"].items():
        if table["task"] not in tasks:
            raise ConfigError(
                f"config['tables'][{tname!r}]['task'] = {table['task']!r} is not a "
                f"task; known tasks: {sorted(tasks)}"
            )
        n_clients = len(tasks[table["task"]]["clients"])
        for i, row in enumerate(table["rows"]):
            if row["method"] not in methods:
                raise ConfigError(
                    f"config['tables'][{tname!r}]: method {row['method']!r} is not "
                    f"defined under methods; known: {sorted(methods)}"
                )
            try:
                parse_setting(row["setting"], n_clients)
            except ConfigError as err:
                raise ConfigError(f"config['tables'][{tname!r}]['rows'][{i}]: {err}") from None


# Synthetic client keys that only one modality uses.
_MODALITY_KEYS = {"posterior": "ultrasound", "hair": "dermoscopy"}


def _check_modality_keys(task: str, synth: dict) -> None:
    for client, params in synth["clients"].items():
        for key, modality in _MODALITY_KEYS.items():
            if key in params and synth["modality"] != modality:
                raise ConfigError(
                    f"config['tasks'][{task!r}]['synthetic']['clients'][{client!r}]: {key!r} "
                    f"applies to {modality} only, but the modality is {synth['modality']!r}; "
                    f"remove {key!r}"
                )


def _check_methods_and_networks(config: dict) -> None:
    """Resolve every algorithm and network and validate their parameters (plug-ins included)."""
    for name, method in config["methods"].items():
        strategy_class(method["algorithm"], f"config['methods'][{name!r}]['algorithm']")
    for task, spec in config["tasks"].items():
        for section, values in spec.get("hyper", {}).items():
            where = f"config['tasks'][{task!r}]['hyper'][{section!r}]"
            check_values(strategy_class(section, where).Params, values, where)
        run_model(config, task)
        for method in config["methods"]:
            method_params(config, task, method)
