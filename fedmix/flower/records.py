"""What travels between the coordinator and the sites, as Flower records.

Coordinator -> site, every round: the run configuration (JSON), the round number and the global
model(s) (``stream1``, ``stream2`` for FedMix). Site -> coordinator: its name, n_i, its
training-set size, l_i (stream 1 and stream 2 mean training loss), the validation Dice of the
global model it received (only where the site has a selection file) and, if it trained, its
updated weights. Nothing else is put into a reply; no image, mask, box or label leaves a site.
"""

from __future__ import annotations

import json
import math

import torch
from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict

from fedmix.methods import BUILTIN, ClientStats
from fedmix.runconfig import RunConfig

__all__ = [
    "SiteReply",
    "decode_reply",
    "decode_request",
    "encode_reply",
    "encode_request",
    "load_streams",
]


def _stream_records(models) -> dict[str, ArrayRecord]:
    return {
        f"stream{s + 1}": ArrayRecord.from_torch_state_dict(m.state_dict())
        for s, m in enumerate(models)
    }


def load_streams(content: RecordDict, models) -> None:
    """Load ``stream1``, ``stream2``, ... of ``content`` into ``models`` (one per stream)."""
    for s, model in enumerate(models):
        key = f"stream{s + 1}"
        if key not in content:
            raise ValueError(f"message holds {sorted(content)} but not {key!r}")
        model.load_state_dict(content[key].to_torch_state_dict())


def encode_request(run: RunConfig, rnd: int, validate: bool, global_models) -> RecordDict:
    """Round ``rnd`` (0-based) for every site; ``validate``: score the received models first."""
    header = ConfigRecord(
        {"run": json.dumps(run.to_dict(), sort_keys=True), "round": rnd, "validate": validate}
    )
    return RecordDict({"request": header, **_stream_records(global_models)})


def decode_request(content: RecordDict, plugins=()) -> tuple[RunConfig, int, bool]:
    """(run, round, validate) of a request. A plug-in method (``algorithm: pkg.module:Class``)
    is imported only if it is one of this site's ``plugins``: the coordinator cannot make a site
    import code the site did not agree to run."""
    header = content["request"]
    d = json.loads(header["run"])
    if d["algorithm"] not in BUILTIN and d["algorithm"] not in plugins:
        raise ValueError(
            f"the run uses the plug-in method {d['algorithm']!r}, which this site does not allow; "
            f'add it to the SuperNode\'s node config: plugins="{d["algorithm"]}"'
        )
    return RunConfig.from_dict(d), int(header["round"]), bool(header["validate"])


def encode_reply(site: str, stats: ClientStats | None, val_dice: float, models) -> RecordDict:
    """A site's answer; ``stats`` None: it only validated; ``models`` sent only if it trained."""
    metrics: dict[str, float | int] = {}
    if not math.isnan(val_dice):
        metrics["val_dice"] = float(val_dice)
    if stats is not None:
        metrics.update(n_samples=stats.n_samples, n_train=stats.n_train)
        for key in ("loss", "loss2"):
            if not math.isnan(getattr(stats, key)):
                metrics[key] = float(getattr(stats, key))
    content = RecordDict({"site": ConfigRecord({"name": site}), "metrics": MetricRecord(metrics)})
    if stats is not None and stats.n_samples > 0:
        content.update(_stream_records(models))
    return content


class SiteReply:
    """A decoded reply: ``site``, ``stats`` (None for a validation-only reply), ``val_dice``
    (NaN where the site has no selection file) and ``states`` (one state dict per stream)."""

    def __init__(self, content: RecordDict, streams: int):
        self.site = str(content["site"]["name"])
        m = content["metrics"]
        self.val_dice = float(m.get("val_dice", math.nan))
        self.stats = None
        if "n_samples" in m:
            self.stats = ClientStats(
                int(m["n_samples"]),
                float(m.get("loss", math.nan)),
                int(m["n_train"]),
                float(m.get("loss2", math.nan)),
            )
        self.states: list[dict[str, torch.Tensor]] = []
        if self.stats is not None and self.stats.n_samples > 0:
            self.states = [content[f"stream{s + 1}"].to_torch_state_dict() for s in range(streams)]


def decode_reply(content: RecordDict, streams: int) -> SiteReply:
    return SiteReply(content, streams)
