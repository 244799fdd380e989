"""The federated round loop, one for every method.

Each round: broadcast the global model(s) of each client's group, let the strategy
(:mod:`fedmix.methods`) say what the client trains on (``local_job``) and with which loss
(``local_loss``), train one local epoch per stream, weigh the updates (``weights``), aggregate
them (``aggregate``) and score the new global model on the validation split. Every random draw
of client i in round r comes from a generator seeded with (seed, r, i), so a resumed run repeats
an uninterrupted one exactly on CPU, and so does a deployment whose sites each run their own
step (:class:`LocalTrainer`, :mod:`fedmix.flower`).
"""

from __future__ import annotations

import contextlib
import logging
import math
from pathlib import Path

import numpy as np
import torch

from fedmix.aggregation import check_weights
from fedmix.checkpoint import load_checkpoint, save_checkpoint
from fedmix.clients import ClientData, EvalData, load_client, load_eval
from fedmix.config import RunConfig
from fedmix.data.normals import append_normals
from fedmix.devices import (
    configure_cuda,
    deterministic_cpu,
    resolve_device,
)
from fedmix.gpu_slots import select_device
from fedmix.io import file_digests
from fedmix.local_training import (
    LocalTrainer,
    NonFiniteLossError,
    client_round_seed,
    copy_weights,
    new_model,
    round_seed,
)
from fedmix.methods import ClientStats, LocalJob, Strategy, make_strategy
from fedmix.metrics import batch_dice_scores
from fedmix.model import predict_binary, predict_channels
from fedmix.multiclass import mean_class_dice
from fedmix.optim import FusedAdam
from fedmix.outputs import (
    history_rows,
    models_payload,
    restore_models,
    resume_payload,
    runtime_record,
    write_run_outputs,
)
from fedmix.progress import RoundProgress, header_fields, log_header, log_summary
from fedmix.runguard import guarded_run

__all__ = [
    "LocalTrainer",
    "NonFiniteLossError",
    "RoundLoop",
    "aggregate_updates",
    "client_round_seed",
    "copy_weights",
    "history_rows",
    "initial_models",
    "new_model",
    "round_seed",
    "selection_scope",
    "train_run",
    "validate_model",
    "with_normal_images",
]

log = logging.getLogger("fedmix.train")


def train_run(
    run: RunConfig,
    train_files: list[str],
    selection_files: list[str],
    out_dir: str | Path,
    device: str = "auto",
    threads: int = 1,
    gpu_slots: int = 0,
    normals_file: str | None = None,
) -> list[dict]:
    """Train one run and write final.pt, best.pt, history.csv and config.json to ``out_dir``.

    ``train_files`` and ``selection_files`` are in client order; ``normals_file`` holds lesion-free
    images that ``run.normal_clients`` add to their training data. A ``resume.pt`` left in
    ``out_dir`` by an interrupted run is continued (after checking it belongs to this run).
    Returns the history rows.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    # one process per run folder, stopped with its Snakemake, no half-written file left
    with guarded_run(out_dir), _device_context(device, gpu_slots) as dev:
        if dev.type == "cpu":
            deterministic_cpu(compiled=run.compile)
        loop = RoundLoop(run, train_files, selection_files, out_dir, dev, normals_file)
        return loop.train()


@contextlib.contextmanager
def _device_context(device: str, gpu_slots: int):
    """The run's torch device; with ``gpu_slots`` > 0 on a workstation, a GPU slot held for the
    whole run (see :mod:`fedmix.gpu_slots`; no slot inside a SLURM job)."""
    with select_device(device, gpu_slots) as spec:
        yield resolve_device(spec)


def with_normal_images(clients: list[ClientData], run: RunConfig, normals_file, device):
    """``clients`` with the normals file's images added to each of ``run.normal_clients``."""
    if not run.normal_clients:
        return clients
    if normals_file is None:
        raise ValueError(
            f"clients {list(run.normal_clients)} train on normal images but no normals file "
            "was given; run through the workflow (rule normals) or pass normals_file"
        )
    normals = load_client(normals_file, "normals", "U", device).images
    log.info("%d normal images join %s", normals.shape[0], list(run.normal_clients))
    return [append_normals(c, normals) if c.name in run.normal_clients else c for c in clients]


class RoundLoop:
    """One run's state. Public (the benchmarks use it): :meth:`round`, :meth:`local_train`,
    :meth:`autocast`, ``run``, ``strategy``, ``clients``, ``selection``, ``globals`` ({group:
    [stream models]}), ``local`` and ``optims`` ({client: [one per stream]})."""

    def __init__(self, run, train_files, selection_files, out_dir, device, normals_file=None):
        self.run, self.out_dir, self.device = run, Path(out_dir), device
        configure_cuda(device)
        self.strategy: Strategy = make_strategy(run)
        if len(train_files) != len(run.clients) or len(selection_files) != len(run.clients):
            raise ValueError(f"expected one train and one selection file per client {run.clients}")
        self.clients: list[ClientData] = [
            load_client(f, c, s, device)
            for f, c, s in zip(train_files, run.clients, run.supervision, strict=True)
        ]
        self.clients = with_normal_images(self.clients, run, normals_file, device)
        self.selection: list[EvalData] = [
            load_eval(f, c, device) for f, c in zip(selection_files, run.clients, strict=True)
        ]
        # recorded in every checkpoint: a resume on other data is refused
        normals = [normals_file] if normals_file else []
        self.inputs = file_digests([*train_files, *selection_files, *normals])
        self.selection_scope = selection_scope(run)
        self.globals = initial_models(run, self.strategy, device)
        self.trainer = LocalTrainer(run, self.strategy, device)
        streams = range(self.strategy.streams)
        self.local = {c.name: [self._new_model() for _ in streams] for c in self.clients}
        self.optims = {
            c: [FusedAdam(m.parameters(), lr=run.lr, weight_decay=run.weight_decay) for m in models]
            for c, models in self.local.items()
        }
        self.history: list[dict] = []
        self.best: dict = {"score": -math.inf, "round": 0, "payload": None}
        self.start_round = 0

    def _new_model(self) -> torch.nn.Module:
        return new_model(self.run, self.device)

    def autocast(self):
        """The run's autocast context (training, pseudo labels, validation)."""
        return self.trainer.autocast()

    # ------------------------------------------------------------------ the loop
    def train(self) -> list[dict]:
        self._maybe_resume()
        run = self.run
        first_model = next(iter(self.globals.values()))[0]
        n_parameters = sum(p.numel() for p in first_model.parameters())
        runtime = runtime_record(run, self.device)
        log_header(
            f"run {run.task}: {run.method} {run.setting} seed {run.seed} -> {self.out_dir}",
            header_fields(run, self.clients, runtime, n_parameters),
        )
        desc = f"{run.method} {run.setting} seed{run.seed}"
        progress = RoundProgress(self.start_round, run.rounds, desc)
        for rnd in range(self.start_round, run.rounds):
            score = self.round(rnd)
            last = self.history[-len(self.clients) :]
            progress.update(
                rnd + 1,
                {h["client"]: h["train_loss"] for h in last},
                {h["client"]: h["weight"] for h in last},
                score,
                (self.best["score"], self.best["round"]),
            )
            if (rnd + 1) % self.run.checkpoint_every == 0 and rnd + 1 < self.run.rounds:
                state = resume_payload(
                    self.run, self.globals, self.optims, self.history, self.best, rnd + 1
                )
                save_checkpoint(self.out_dir / "resume.pt", {**state, "inputs": self.inputs})
        final = {**models_payload(self.run, self.globals, self.run.rounds), "inputs": self.inputs}
        write_run_outputs(self.out_dir, self.run, final, self.best, self.history, self.device)
        files = ["final.pt", "best.pt", "history.csv", "config.json"]
        log_summary((self.best["score"], self.best["round"]), run.rounds, files, progress.close())
        return self.history

    def round(self, rnd: int) -> float:
        """Train, weigh, aggregate and validate round ``rnd`` (0-based); the selection score."""
        stats: dict[str, ClientStats] = {}
        for index, client in enumerate(self.clients):
            stats[client.name] = self._train_client(rnd, client, index)
        states = {c: [m.state_dict() for m in self.local[c]] for c in stats}
        used = aggregate_updates(self.strategy, rnd, self.globals, stats, states)
        val = self._validate()
        score = float(np.mean([val[c] for c in self.selection_scope]))
        self.history.extend(history_rows(self.run, rnd, stats, used, val))
        if score > self.best["score"]:  # kept in memory; written once at the end
            payload = {**models_payload(self.run, self.globals, rnd + 1), "inputs": self.inputs}
            self.best = {"score": score, "round": rnd + 1, "payload": payload}
        return score

    def _train_client(self, rnd: int, client: ClientData, index: int) -> ClientStats:
        group_models = self.globals[self.strategy.group(client.name)]
        models, optims = self.local[client.name], self.optims[client.name]
        return self.trainer.train(rnd, client, index, group_models, models, optims)

    def local_train(self, model, opt, job: LocalJob, target, global_model, gen) -> float:
        """See :meth:`LocalTrainer.local_train` (kept here for the benchmarks)."""
        return self.trainer.local_train(model, opt, job, target, global_model, gen)

    def _validate(self) -> dict[str, float]:
        """Mean Dice of each client's global stream-1 model on its selection split."""
        return {
            data.name: validate_model(
                self.globals[self.strategy.group(data.name)][0], data, self.autocast()
            )
            for data in self.selection
        }

    def _maybe_resume(self) -> None:
        path = self.out_dir / "resume.pt"
        if not path.exists():
            return
        state = load_checkpoint(path, self.run, inputs=self.inputs)
        restore_models(self.globals, state["models"])
        for c, opts in self.optims.items():
            for opt, sd in zip(opts, state["optimizers"][c], strict=True):
                opt.load_state_dict(sd)
        self.history = list(state["history"])
        self.best = dict(state["best"])
        self.start_round = int(state["round"])
        log.info("resumed from %s at round %d", path, self.start_round)


def initial_models(run: RunConfig, strategy: Strategy, device) -> dict[str, list[torch.nn.Module]]:
    """The global models before round 1, {group: [one per stream]}, seeded by the run.

    Streams are independently initialised; every group starts from the same initial weights.
    """
    torch.manual_seed(run.seed)
    groups = sorted({strategy.group(c) for c in run.clients})
    init = [new_model(run, device) for _ in range(strategy.streams)]
    out = {}
    for g in groups:
        out[g] = [new_model(run, device) for _ in init]
        for dst, src in zip(out[g], init, strict=True):
            dst.load_state_dict(src.state_dict())
    return out


def aggregate_updates(strategy: Strategy, rnd: int, global_models, stats, local_states):
    """Weigh the clients (``strategy.weights``) and load each group's new global weights
    (``strategy.aggregate``) into ``global_models``; the weight each client got.

    stats: {client: ClientStats} in client order; local_states: {client: [state dict per
    stream]}, needed for every client with a weight > 0.
    """
    weights = strategy.weights(rnd, stats)
    used = {c: 0.0 for c in stats}
    for group, w in weights.items():
        members = [c for c in stats if strategy.group(c) == group]
        check_weights(w)
        for c, wc in zip(members, w, strict=True):
            used[c] = float(wc)
        keep = [i for i, wc in enumerate(w) if wc > 0]
        for s, global_model in enumerate(global_models[group]):
            states = [local_states[members[i]][s] for i in keep]
            new = strategy.aggregate(
                rnd, group, s, global_model.state_dict(), states, [w[i] for i in keep]
            )
            global_model.load_state_dict(new)
    return used


@torch.inference_mode()
def validate_model(model: torch.nn.Module, data: EvalData, autocast_context) -> float:
    """Mean Dice of ``model`` on one client's selection split (multi-class: per image, the mean
    over classes)."""
    with autocast_context:
        if data.class_names:
            preds = predict_channels(model, data.images)
            return float(mean_class_dice(preds, data.masks, len(data.class_names)).mean())
        preds = predict_binary(model, data.images)
    return float(batch_dice_scores(preds, data.masks > 0).mean())


def selection_scope(run: RunConfig) -> list[str]:
    """The clients whose validation Dice chooses best.pt (RunConfig.selection_clients); the
    others' is logged in history.csv for diagnosis and used for nothing."""
    scope = [
        c
        for c, s in zip(run.clients, run.supervision, strict=True)
        if run.selection_clients == "all" or s == "L"
    ]
    if not scope:
        raise ValueError(
            f"setting {run.setting!r} has no pixel-labelled client to select best.pt on; "
            "set training.selection_clients: all"
        )
    return scope
