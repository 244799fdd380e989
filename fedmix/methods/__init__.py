"""Federated methods, one per file, and how an ``algorithm:`` name finds its class.

``algorithm:`` in the configuration is a built-in name (:data:`BUILTIN`) or an import path
``package.module:Class`` naming a :class:`~fedmix.methods.base.Strategy` subclass (a plug-in;
docs/extending.md).
"""

from __future__ import annotations

from fedmix.methods.base import ClientStats, LocalJob, NoParams, Strategy
from fedmix.methods.fedavg import FedAvg
from fedmix.methods.fedmix import FedMix, FedMixParams
from fedmix.methods.fedprox import FedProx, FedProxParams
from fedmix.methods.fedst import FedRGD, FedRGDParams, FedST, FedSTParams
from fedmix.methods.local import Local
from fedmix.params import ConfigError, load_object

__all__ = [
    "BUILTIN",
    "ClientStats",
    "FedAvg",
    "FedMix",
    "FedMixParams",
    "FedProx",
    "FedProxParams",
    "FedRGD",
    "FedRGDParams",
    "FedST",
    "FedSTParams",
    "Local",
    "LocalJob",
    "NoParams",
    "Strategy",
    "hyper_sections",
    "make_strategy",
    "strategy_class",
]

BUILTIN: dict[str, type[Strategy]] = {
    "local": Local,
    "fedavg": FedAvg,
    "fedprox": FedProx,
    "fedst": FedST,
    "fedrgd": FedRGD,
    "fedmix": FedMix,
}


def strategy_class(algorithm: str, where: str = "algorithm") -> type[Strategy]:
    """The class of a built-in name or of an import path ``package.module:Class``."""
    if algorithm in BUILTIN:
        return BUILTIN[algorithm]
    if ":" not in algorithm:
        raise ConfigError(
            f"{where}: unknown algorithm {algorithm!r}; use a built-in one {sorted(BUILTIN)} "
            "or an import path 'package.module:Class' (docs/extending.md)"
        )
    cls = load_object(algorithm, "algorithm", where)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ConfigError(f"{where}: {algorithm!r} is not a subclass of fedmix.methods.Strategy")
    return cls


def hyper_sections(algorithm: str) -> list[str]:
    """Names of the ``tasks.<task>.hyper`` blocks that apply to ``algorithm``, general first:
    its built-in ancestors' (FedRGD reads ``fedst`` then ``fedrgd``), then its own."""
    cls = strategy_class(algorithm)
    by_class = {c: name for name, c in BUILTIN.items()}
    names = [by_class[c] for c in reversed(cls.__mro__) if c in by_class]
    if algorithm not in names:
        names.append(algorithm)
    return names


def make_strategy(run) -> Strategy:
    """The strategy of a :class:`fedmix.config.RunConfig`, with its parameters."""
    return strategy_class(run.algorithm)(run)
