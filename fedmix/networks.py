"""The network of a run: ``training.model`` names it and sets its parameters.

``network:`` is ``unet`` (the built-in :class:`fedmix.model.UNet`) or an import path
``package.module:Class``. The class is called as ``Class(in_channels, **params)`` and must map
``(N, in_channels, H, W)`` images to ``(N, 1, H, W)`` logits; its keyword parameters are the
fields of its frozen ``Params`` dataclass (:mod:`fedmix.params`), which validates them. For a
multi-class task (K classes) it is called with ``out_channels=K`` as well and must return
``(N, K, H, W)`` logits, one sigmoid channel per class.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from fedmix.model import UNet
from fedmix.params import ConfigError, build_params, load_object, params_to_dict

__all__ = ["BUILTIN_NETWORKS", "ModelSpec", "build_network", "model_spec", "network_class"]

BUILTIN_NETWORKS: dict[str, type[nn.Module]] = {"unet": UNet}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A network (built-in name or import path) and its validated parameters."""

    network: str
    params: Any

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network, **params_to_dict(self.params)}


def network_class(name: str, where: str = "network") -> type[nn.Module]:
    if name in BUILTIN_NETWORKS:
        return BUILTIN_NETWORKS[name]
    if ":" not in name:
        raise ConfigError(
            f"{where}: unknown network {name!r}; use {sorted(BUILTIN_NETWORKS)} or an import "
            "path 'package.module:Class' (docs/extending.md)"
        )
    cls = load_object(name, "network", where)
    if not dataclasses.is_dataclass(getattr(cls, "Params", None)):
        raise ConfigError(
            f"{where}: network {name!r} needs a frozen dataclass attribute Params naming its "
            "keyword parameters (see fedmix.model.UNetParams)"
        )
    return cls


def model_spec(values: dict[str, Any], where: str) -> ModelSpec:
    """``{"network": name, **params}`` (network defaults to ``unet``) -> :class:`ModelSpec`."""
    values = dict(values)
    name = values.pop("network", "unet")
    cls = network_class(name, f"{where}['network']")
    return ModelSpec(name, build_params(cls.Params, values, where))


def build_network(spec: ModelSpec, in_channels: int, out_channels: int = 1) -> nn.Module:
    """A freshly initialised network of ``spec`` (on the CPU); ``out_channels`` > 1 (one per
    class of a multi-class task) is passed on as a keyword."""
    cls = network_class(spec.network)
    extra = {"out_channels": out_channels} if out_channels > 1 else {}
    return cls(in_channels, **dataclasses.asdict(spec.params), **extra)
