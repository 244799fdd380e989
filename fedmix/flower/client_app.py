"""A site's ClientApp: the simulation's client step on this site's own files only.

The SuperNode that runs it is started with the site's node config (docs/deployment.md)::

    site="BUSIS" supervision="B" train-file="/data/BUSIS.B.h5" selection-file="/data/val/BUSIS.h5"

(``selection-file`` is optional; ``device`` defaults to ``cpu``, ``threads`` to 1; ``plugins``
lists the plug-in methods the site agrees to import, none by default; ``normals-file`` holds the
lesion-free images a run may add to this site, as in the simulation). The training
file is checked exactly as in the simulation (:func:`fedmix.clients.load_client`): a weak site's
file must hold no masks. Each message runs :class:`fedmix.train.LocalTrainer` with this site's
index in the run, so its crops, flips and batch order are those of the simulation. The site's
Adam moments stay on the site, in the SuperNode's memory for this run (``context.state``).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedmix.clients import load_client, load_eval
from fedmix.data.normals import with_normal_images
from fedmix.devices import deterministic_cpu, resolve_device
from fedmix.flower.records import decode_request, encode_reply, load_streams
from fedmix.local_training import LocalTrainer, new_model
from fedmix.methods import make_strategy
from fedmix.optim import FusedAdam
from fedmix.runconfig import RunConfig
from fedmix.selection import validate_model

__all__ = ["SiteConfig", "app"]

app = ClientApp()


@dataclasses.dataclass(frozen=True)
class SiteConfig:
    """What a SuperNode's ``--node-config`` says about its site."""

    site: str
    supervision: str
    train_file: str
    selection_file: str = ""
    device: str = "cpu"
    threads: int = 1
    plugins: str = ""  # comma-separated plug-in methods (pkg.module:Class) this site may run
    normals_file: str = ""  # lesion-free images the run adds to this site (run.normal_clients)

    @classmethod
    def from_node_config(cls, node_config) -> SiteConfig:
        known = {f.name.replace("_", "-"): f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(node_config) - set(known))
        if unknown:
            raise ValueError(f"unknown node config keys {unknown}; valid: {sorted(known)}")
        missing = [k for k in ("site", "supervision", "train-file") if k not in node_config]
        if missing:
            raise ValueError(
                f"node config lacks {missing}; start the SuperNode with --node-config "
                '\'site="NAME" supervision="L|B|I|U" train-file="/path/NAME.X.h5"\''
            )
        return cls(**{known[k]: v for k, v in node_config.items()})

    def index_in(self, run: RunConfig) -> int:
        """This site's position in the run's client order, after checking its supervision."""
        if self.site not in run.clients:
            raise ValueError(f"site {self.site!r} is not a client of this run {run.clients}")
        index = run.clients.index(self.site)
        if run.supervision[index] != self.supervision:
            raise ValueError(
                f"the run trains site {self.site!r} as {run.supervision[index]!r} but this site "
                f"holds {self.supervision!r} labels; the coordinator's setting "
                f"{run.setting!r} does not match this site"
            )
        return index


class _Site:
    """One message's view of the site: its config, device, run and the run's strategy."""

    def __init__(self, msg: Message, context: Context):
        self.cfg = SiteConfig.from_node_config(context.node_config)
        plugins = [p.strip() for p in self.cfg.plugins.split(",") if p.strip()]
        self.run, self.rnd, self.validate = decode_request(msg.content, plugins)
        self.index = self.cfg.index_in(self.run)
        self.device = resolve_device(self.cfg.device)
        torch.set_num_threads(int(self.cfg.threads))
        if self.device.type == "cpu":
            deterministic_cpu(compiled=self.run.compile)
        self.strategy = make_strategy(self.run)
        self.trainer = LocalTrainer(self.run, self.strategy, self.device)
        self.globals = [new_model(self.run, self.device) for _ in range(self.strategy.streams)]
        load_streams(msg.content, self.globals)

    def val_dice(self) -> float:
        """Validation Dice of the received stream-1 model (NaN without a selection file)."""
        if not (self.validate and self.cfg.selection_file):
            return math.nan
        data = load_eval(self.cfg.selection_file, self.cfg.site, self.device)
        return validate_model(self.globals[0], data, self.trainer.autocast())


def _load_optims(state: RecordDict, optims) -> None:
    for s, opt in enumerate(optims):
        if f"adam{s + 1}" in state:
            arrays = state[f"adam{s + 1}"].to_torch_state_dict()
            step = int(state[f"adam{s + 1}.step"]["step"])
            opt.load_state_dict({"step": step, **arrays})


def _save_optims(state: RecordDict, optims) -> None:
    for s, opt in enumerate(optims):
        sd = opt.state_dict()
        state[f"adam{s + 1}"] = ArrayRecord.from_torch_state_dict(
            {"exp_avg": sd["exp_avg"], "exp_avg_sq": sd["exp_avg_sq"]}
        )
        state[f"adam{s + 1}.step"] = MetricRecord({"step": int(sd["step"])})


@app.train()
def train(msg: Message, context: Context) -> Message:
    site = _Site(msg, context)
    val = site.val_dice()
    client = load_client(site.cfg.train_file, site.cfg.site, site.cfg.supervision, site.device)
    normals = site.cfg.normals_file or None
    (client,) = with_normal_images([client], site.run, normals, site.device)
    run = site.run
    models = [new_model(run, site.device) for _ in site.globals]
    optims = [FusedAdam(m.parameters(), lr=run.lr, weight_decay=run.weight_decay) for m in models]
    _load_optims(context.state, optims)
    stats = site.trainer.train(site.rnd, client, site.index, site.globals, models, optims)
    if stats.n_samples > 0:
        _save_optims(context.state, optims)
    return Message(encode_reply(site.cfg.site, stats, val, models), reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    site = _Site(msg, context)
    return Message(encode_reply(site.cfg.site, None, site.val_dice(), []), reply_to=msg)
