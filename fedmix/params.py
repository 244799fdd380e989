"""Parameters of methods and networks: frozen dataclasses, the single source of their defaults.

A method (:class:`fedmix.methods.base.Strategy`) or a network names its parameters in a frozen
dataclass ``Params``. Each field is declared with :func:`param`, which carries the meaning (one
line, shown in errors and docs), the allowed range and, where the paper's symbol is a Python
keyword, the key users write (``lambda_`` is written ``lambda`` in YAML, ``config.json`` and
checkpoints). :func:`build_params` turns a plain dict from the configuration into an instance
and refuses anything doubtful: an unknown key, a wrong type (a bool where a number belongs),
NaN or infinity, a value out of range. This module needs neither torch nor jsonschema.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import typing
from typing import Any

__all__ = [
    "ConfigError",
    "build_params",
    "check_values",
    "load_object",
    "param",
    "param_fields",
    "params_to_dict",
]


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key or value and the fix."""


def param(
    default: Any = dataclasses.MISSING,
    doc: str = "",
    *,
    key: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    choices: tuple | None = None,
) -> Any:
    """A dataclass field with its meaning and bounds (``minimum <= x <= maximum``, ``x > above``).

    ``key`` is the name users write when it differs from the field's (``lambda`` for
    ``lambda_``). No ``default``: the key is required.
    """
    meta = {"doc": doc, "key": key, "minimum": minimum, "maximum": maximum, "above": above}
    meta["choices"] = choices
    return dataclasses.field(default=default, metadata=meta)


def param_fields(cls: type) -> dict[str, dataclasses.Field]:
    """User-facing key -> dataclass field of a ``Params`` class."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a dataclass; a Params class must be one")
    return {f.metadata.get("key") or f.name: f for f in dataclasses.fields(cls)}


def params_to_dict(params: Any) -> dict[str, Any]:
    """An instance as ``{user-facing key: value}`` (``lambda``, not ``lambda_``)."""
    return {key: getattr(params, f.name) for key, f in param_fields(type(params)).items()}


def build_params(cls: type, values: dict[str, Any], where: str) -> Any:
    """Validate ``values`` (user-facing keys) against ``cls`` and return an instance.

    ``where`` names the place in the configuration, e.g. ``config['methods']['fedprox']``;
    every :class:`ConfigError` starts with it and says how to fix the value.
    """
    kwargs = check_values(cls, values, where)
    for key, f in param_fields(cls).items():
        if f.name not in kwargs and f.default is dataclasses.MISSING:
            raise ConfigError(
                f"{where}: {cls.__qualname__} needs {key!r} ({f.metadata.get('doc', '')})"
                + _choices_hint(f.metadata)
            )
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:  # a Params class's own __post_init__ checks
        raise ConfigError(f"{where}: {err}") from None


def check_values(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    """Check some of ``cls``'s keys (a partial block such as a task's ``hyper.fedmix``):
    unknown keys, types, ranges. Returns them by field name, numbers as ``float`` where the
    field is one."""
    fields = param_fields(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown} for {cls.__qualname__}; allowed keys are "
            f"{sorted(fields)}. Fix the spelling or remove the key."
        )
    hints = typing.get_type_hints(cls)
    return {
        f.name: _check_value(values[key], hints.get(f.name), f.metadata, where, key)
        for key, f in fields.items()
        if key in values
    }


def _choices_hint(meta) -> str:
    return f"; one of {list(meta['choices'])}" if meta.get("choices") else ""


def _check_value(value, hint, meta, where: str, key: str):
    at = f"{where}[{key!r}] = {value!r}"
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{at}: expected a number; write it without quotes, e.g. 0.5")
        if not math.isfinite(value):
            raise ConfigError(f"{at}: must be a finite number, not NaN or infinity")
        value = float(value)
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{at}: expected a whole number, e.g. 3")
    elif hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{at}: expected true or false")
    elif hint is str and not isinstance(value, str):
        raise ConfigError(f"{at}: expected text")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{at}: not allowed; use one of {list(meta['choices'])}")
    lo, hi, above = meta.get("minimum"), meta.get("maximum"), meta.get("above")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ConfigError(f"{at}: must lie in [{lo}, {hi}] ({meta.get('doc', '')})")
    if above is not None and value <= above:
        raise ConfigError(f"{at}: must be greater than {above} ({meta.get('doc', '')})")
    return value


def load_object(path: str, what: str, where: str) -> Any:
    """Import ``package.module:Name`` (a plug-in method or network) or say why it failed."""
    module_name, sep, name = path.partition(":")
    if not sep or not module_name or not name:
        raise ConfigError(
            f"{where}: {path!r} is neither a built-in {what} nor an import path "
            "'package.module:Name'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(
            f"{where}: cannot import {module_name!r} for {what} {path!r} ({err}); put its "
            "folder on PYTHONPATH or install the package"
        ) from None
    if not hasattr(module, name):
        raise ConfigError(f"{where}: module {module_name!r} has no {name!r} (for {what} {path!r})")
    return getattr(module, name)
