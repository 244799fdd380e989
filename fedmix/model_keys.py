"""Names of the models in a checkpoint, built and parsed here only.

A checkpoint's ``models`` maps a key to a state dict. The key is the model's group (the global
model a strategy averages clients into: ``global``, or ``client:<name>`` when every client keeps
its own, as in local learning) plus the stream for all but the first (``global#stream2`` is
FedMix's second model).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["GLOBAL", "client_group", "model_key", "parse_model_key", "serving_key"]

GLOBAL = "global"
_STREAM = "#stream"


def client_group(client: str) -> str:
    """The group of a client that trains alone (local learning)."""
    return f"client:{client}"


def model_key(group: str, stream: int) -> str:
    """Key of ``group``'s model of ``stream`` (0-based; stream 0 carries the bare group name)."""
    return group if stream == 0 else f"{group}{_STREAM}{stream + 1}"


def parse_model_key(key: str) -> tuple[str, int]:
    """Inverse of :func:`model_key`: ``(group, 0-based stream)``."""
    group, _, stream = key.partition(_STREAM)
    return group, int(stream or 1) - 1


def serving_key(models: Mapping, client: str) -> str:
    """The model that serves ``client`` at test time: its own, else the global stream 1."""
    for key in (client_group(client), GLOBAL):
        if key in models:
            return key
    raise KeyError(
        f"the checkpoint has no model for client {client!r} (neither {client_group(client)!r} "
        f"nor {GLOBAL!r}); it holds {sorted(models)}. Rebuild the run."
    )
