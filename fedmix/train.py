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

from fedmix.checkpoint import load_checkpoint, save_checkpoint
from fedmix.clients import ClientData, EvalData, load_client, load_eval
from fedmix.config import RunConfig
from fedmix.data.normals import with_normal_images
from fedmix.devices import (
    configure_cuda,
    deterministic_cpu,
    resolve_device,
)
from fedmix.global_models import aggregate_updates, initial_models
from fedmix.gpu_slots import select_device
from fedmix.io import file_digests
from fedmix.local_training import LocalTrainer, NonFiniteLossError, client_round_seed, new_model
from fedmix.methods import ClientStats, LocalJob, Strategy, make_strategy
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
from fedmix.selection import selection_scope, validate_model

__all__ = [
    "NonFiniteLossError",
    "RoundLoop",
    "client_round_seed",
    "new_model",
    "train_run",
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
                    self.run,
                    self.globals,
                    self.optims,
                    self.history,
                    self.best,
                    rnd + 1,
                    self.strategy.state_dict(),
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
        self.strategy.load_state_dict(state.get("strategy", {}))
        self.history = list(state["history"])
        self.best = dict(state["best"])
        self.start_round = int(state["round"])
        log.info("resumed from %s at round %d", path, self.start_round)
