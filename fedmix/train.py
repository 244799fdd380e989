"""The federated round loop, one for every method.

Each round: broadcast the global model(s) of each client's group, let the strategy say what the
client trains on (masks, pseudo labels, self-training, or nothing), train one local epoch per
stream, weigh the updates (strategy), average them (:func:`fedmix.aggregation.weighted_average`)
and score the new global model on the validation split. Every random draw of round r comes from a
generator seeded with (seed, r), so a resumed run repeats an uninterrupted one exactly on CPU.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fedmix.aggregation import check_weights, weighted_average
from fedmix.checkpoint import load_checkpoint, save_checkpoint
from fedmix.clients import ClientData, EvalData, load_client, load_eval, views
from fedmix.config import RunConfig
from fedmix.devices import configure_cuda, resolve_device
from fedmix.gpu_slots import select_device
from fedmix.io import HISTORY_COLUMNS
from fedmix.losses import confident_bce, proximal_term, soft_dice_loss
from fedmix.model import UNet, predict_binary, predict_channels
from fedmix.multiclass import mean_class_dice, soft_dice_per_class
from fedmix.optim import FlatAdam
from fedmix.strategies import ClientStats, LocalJob, Strategy, make_strategy

__all__ = [
    "autocast_dtype",
    "batch_dice_scores",
    "deterministic_cpu",
    "gamma_shift",
    "precision_name",
    "runtime_record",
    "train_run",
    "uses_channels_last",
]

log = logging.getLogger("fedmix.train")


class NonFiniteLossError(FloatingPointError):
    """A local loss became NaN or infinite; the run stops before any checkpoint is overwritten."""


def train_run(
    run: RunConfig,
    train_files: list[str],
    selection_files: list[str],
    out_dir: str | Path,
    device: str = "auto",
    threads: int = 1,
    gpu_slots: int = 0,
) -> list[dict]:
    """Train one run and write final.pt, best.pt, history.csv and config.json to ``out_dir``.

    ``train_files`` and ``selection_files`` are in client order. A ``resume.pt`` left in
    ``out_dir`` by an interrupted run is continued (after checking it belongs to this run).
    Returns the history rows.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    with _device_context(device, gpu_slots) as dev:
        if dev.type == "cpu":
            deterministic_cpu(compiled=run.compile)
        loop = RoundLoop(run, train_files, selection_files, out_dir, dev)
        return loop.train()


def deterministic_cpu(compiled: bool = False) -> None:
    """``torch.use_deterministic_algorithms(True)`` without its 1.5 s import of torch._inductor.

    The public function also sets an Inductor flag, and importing Inductor to set it costs about
    1.5 s per process (measured: ``python -X importtime``), a large part of a demo run. Without
    ``torch.compile`` only the ATen flag matters, so only it is set; compiled runs use the
    public call.
    """
    if compiled:
        torch.use_deterministic_algorithms(True)
    else:
        torch._C._set_deterministic_algorithms(True)


@contextlib.contextmanager
def _device_context(device: str, gpu_slots: int):
    """The run's torch device; with ``gpu_slots`` > 0 on a workstation, a GPU slot held for the
    whole run (see :mod:`fedmix.gpu_slots`; no slot inside a SLURM job)."""
    with select_device(device, gpu_slots) as spec:
        yield resolve_device(spec)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of training, pseudo labels and validation; None means plain fp32.

    ``auto`` is bf16 on CUDA (the fast path's default there) and fp32 elsewhere; ``bf16`` is
    honoured on any device (CPU autocast works, it is just not faster on this project's CPUs).
    """
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision {precision!r} is not one of auto, fp32, bf16")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def precision_name(precision: str, device: torch.device) -> str:
    """The arithmetic a run on ``device`` actually uses: ``"bf16"`` or ``"fp32"``."""
    return "bf16" if autocast_dtype(precision, device) is torch.bfloat16 else "fp32"


def uses_channels_last(device: torch.device) -> bool:
    """Channels-last weights on CUDA (tensor-core convolutions); on the CPU it was slower
    (GroupNorm with two channels per group, docs/performance.md)."""
    return device.type == "cuda"


def runtime_record(run: RunConfig, device: torch.device) -> dict:
    """How a run was computed, for ``config.json``: the device, the resolved precision, etc."""
    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "precision": precision_name(run.precision, device),
        "channels_last": uses_channels_last(device),
        "compiled": run.compile,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


class RoundLoop:
    """State of one training run: global models, client models and optimisers, history."""

    def __init__(self, run, train_files, selection_files, out_dir, device):
        self.run, self.out_dir, self.device = run, Path(out_dir), device
        configure_cuda(device)
        self.strategy: Strategy = make_strategy(run)
        if len(train_files) != len(run.clients) or len(selection_files) != len(run.clients):
            raise ValueError(f"expected one train and one selection file per client {run.clients}")
        self.clients: list[ClientData] = [
            load_client(f, c, s, device)
            for f, c, s in zip(train_files, run.clients, run.supervision, strict=True)
        ]
        self.selection: list[EvalData] = [
            load_eval(f, c, device) for f, c in zip(selection_files, run.clients, strict=True)
        ]
        # best.pt is chosen on these clients' masks only (RunConfig.selection_clients); the
        # others' validation Dice is logged in history.csv for diagnosis and used for nothing.
        self.selection_scope = [
            c
            for c, s in zip(run.clients, run.supervision, strict=True)
            if run.selection_clients == "all" or s == "L"
        ]
        if not self.selection_scope:
            raise ValueError(
                f"setting {run.setting!r} has no pixel-labelled client to select best.pt on; "
                "set training.selection_clients: all"
            )
        torch.manual_seed(run.seed)
        groups = sorted({self.strategy.group(c) for c in run.clients})
        # Independently initialised streams; every group starts from the same initial weights.
        init = [self._new_model() for _ in range(self.strategy.streams)]
        self.globals = {g: [self._copy(m) for m in init] for g in groups}
        self.local = {c.name: [self._new_model() for _ in init] for c in self.clients}
        self.optims = {
            c: [FlatAdam(m.parameters(), lr=run.lr, weight_decay=run.weight_decay) for m in models]
            for c, models in self.local.items()
        }
        self.history: list[dict] = []
        self.best: dict = {"score": -math.inf, "round": 0, "payload": None}
        self.start_round = 0

    def _new_model(self) -> torch.nn.Module:
        out = max(1, len(self.run.classes))  # one sigmoid channel per class
        model = UNet(self.run.channels, self.run.width, self.run.levels, out).to(self.device)
        if uses_channels_last(self.device):
            model = model.to(memory_format=torch.channels_last)
        if self.run.compile:
            model.compile()  # in place: state_dict keys stay those of the plain U-Net
        return model

    def _copy(self, model):
        clone = self._new_model()
        clone.load_state_dict(model.state_dict())
        return clone

    # ------------------------------------------------------------------ the loop
    def train(self) -> list[dict]:
        self._maybe_resume()
        bar = tqdm(
            range(self.start_round, self.run.rounds),
            initial=self.start_round,
            total=self.run.rounds,
            desc=f"{self.run.method} {self.run.setting} seed{self.run.seed}",
            mininterval=2.0,
        )
        for rnd in bar:
            score = self.round(rnd)
            bar.set_postfix(val_dice=f"{score:.3f}", best=f"{self.best['score']:.3f}")
            if (rnd + 1) % self.run.checkpoint_every == 0 and rnd + 1 < self.run.rounds:
                save_checkpoint(self.out_dir / "resume.pt", self._state(rnd + 1))
        self._write_outputs()
        return self.history

    def round(self, rnd: int) -> float:
        gen = torch.Generator().manual_seed(_round_seed(self.run.seed, rnd))
        stats: dict[str, ClientStats] = {}
        for client in self.clients:
            stats[client.name] = self._train_client(rnd, client, gen)
        weights = self.strategy.weights(rnd, stats)
        used = {c: 0.0 for c in stats}
        for group, w in weights.items():
            members = [c for c in stats if self.strategy.group(c) == group]
            check_weights(w)
            for c, wc in zip(members, w, strict=True):
                used[c] = float(wc)
            for s, global_model in enumerate(self.globals[group]):
                keep = [i for i, wc in enumerate(w) if wc > 0]
                states = [self.local[members[i]][s].state_dict() for i in keep]
                global_model.load_state_dict(weighted_average(states, [w[i] for i in keep]))
        val = self._validate()
        score = float(np.mean([val[c] for c in self.selection_scope]))
        for client in self.clients:
            st = stats[client.name]
            self.history.append(
                {
                    "round": rnd + 1,
                    "client": client.name,
                    "supervision": client.supervision,
                    "n_samples": st.n_samples,
                    "n_train": st.n_train,
                    "train_loss": st.loss,
                    "train_loss_stream2": st.loss2,
                    "weight": used[client.name],
                    "val_dice": val[client.name],
                }
            )
        if score > self.best["score"]:  # kept in memory; written once at the end
            self.best = {"score": score, "round": rnd + 1, "payload": self._models_payload(rnd + 1)}
        return score

    def _train_client(self, rnd: int, client: ClientData, gen) -> ClientStats:
        group_models = self.globals[self.strategy.group(client.name)]
        images, maps = views(
            client.images, [client.masks, client.box_masks], self.run.crop_size, self.run.flips, gen
        )
        with self._autocast():  # pseudo-label passes at the training precision
            job: LocalJob | None = self.strategy.local_job(rnd, client, images, maps, group_models)
        if job is None:
            return ClientStats(0, math.nan, client.n_train, math.nan)
        losses = []
        for s, (model, opt) in enumerate(
            zip(self.local[client.name], self.optims[client.name], strict=True)
        ):
            _copy_weights(model, group_models[s])
            target = None if job.targets is None else job.targets[s]
            mean_loss = self._local_epochs(model, opt, job, target, group_models[s], gen)
            if not math.isfinite(mean_loss):
                raise NonFiniteLossError(
                    f"round {rnd + 1}, client {client.name!r}, stream {s + 1}: local loss is "
                    f"{mean_loss}; no checkpoint was overwritten. Lower lr ({self.run.lr}) or use "
                    "precision: fp32"
                )
            losses.append(mean_loss)
        loss2 = losses[1] if len(losses) > 1 else math.nan
        return ClientStats(job.n_samples, losses[0], client.n_train, loss2)

    def _local_epochs(self, model, opt, job: LocalJob, target, global_model, gen) -> float:
        """Train ``local_epochs`` epochs; mean task loss of the last epoch (one host sync)."""
        n, bs = job.images.shape[0], self.run.batch_size
        mu = self.strategy.proximal_mu
        anchor = [p.detach().clone() for p in global_model.parameters()] if mu > 0 else None
        for _ in range(self.run.local_epochs):
            total = torch.zeros((), device=self.device)
            order = torch.randperm(n, generator=gen).to(self.device)
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                x = job.images[idx].float().div_(255)
                with self._autocast():
                    if job.loss == "self_training":
                        loss = self._self_training_loss(model, x, gen)
                    else:
                        probs = torch.sigmoid(model(x).float())
                        if self.run.classes:  # soft Dice per class channel, then the mean
                            per_class = soft_dice_per_class(
                                probs, target[idx], over=self.run.class_dice
                            )
                            loss = per_class.mean()
                        else:
                            loss = soft_dice_loss(probs, target[idx].unsqueeze(1))
                task_loss = loss
                if anchor is not None:
                    loss = loss + proximal_term(model, anchor, mu)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += task_loss.detach() * idx.numel()
        return float(total / n)

    def _self_training_loss(self, model, x, gen):
        """FedST: BCE of the prediction on a gamma-shifted view against confident own labels."""
        with torch.no_grad():
            teacher = torch.sigmoid(model(x).float())
        gamma = (torch.rand(x.shape[0], 1, 1, 1, generator=gen) * 2).to(x.device)
        # x ** gamma keeps black pixels black (0 ** gamma = 0 for gamma > 0); x needs no grad.
        student_logits = model(gamma_shift(x, gamma)).float()
        if self.run.classes:  # every class channel is one binary map
            student_logits, teacher = student_logits.flatten(0, 1), teacher.flatten(0, 1)
        return confident_bce(student_logits, teacher, self.run.confidence)

    def _autocast(self):
        dtype = autocast_dtype(self.run.precision, self.device)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.inference_mode()
    def _validate(self) -> dict[str, float]:
        """Mean Dice of each client's global stream-1 model on its selection split."""
        scores = {}
        for data in self.selection:
            model = self.globals[self.strategy.group(data.name)][0]
            with self._autocast():
                if self.run.classes:
                    preds = predict_channels(model, data.images)
                    dice = mean_class_dice(preds, data.masks, len(self.run.classes))
                else:
                    dice = batch_dice_scores(predict_binary(model, data.images), data.masks > 0)
            scores[data.name] = float(dice.mean())
        return scores

    # ------------------------------------------------------------------ checkpoints
    def _models_payload(self, rnd: int) -> dict:
        models = {}
        for group, streams in self.globals.items():
            for s, m in enumerate(streams):
                key = group if s == 0 else f"{group}#stream{s + 1}"
                models[key] = {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
        return {"config": self.run.to_dict(), "round": rnd, "models": models}

    def _state(self, next_round: int) -> dict:
        payload = self._models_payload(next_round)
        payload["optimizers"] = {
            c: [_to_cpu(o.state_dict()) for o in opts] for c, opts in self.optims.items()
        }
        payload["history"] = list(self.history)
        payload["best"] = dict(self.best)
        return payload

    def _maybe_resume(self) -> None:
        path = self.out_dir / "resume.pt"
        if not path.exists():
            return
        state = load_checkpoint(path, self.run)
        for key, sd in state["models"].items():
            group, _, stream = key.partition("#stream")
            self.globals[group][int(stream or 1) - 1].load_state_dict(sd)
        for c, opts in self.optims.items():
            for opt, sd in zip(opts, state["optimizers"][c], strict=True):
                opt.load_state_dict(sd)
        self.history = list(state["history"])
        self.best = dict(state["best"])
        self.start_round = int(state["round"])
        log.info("resumed from %s at round %d", path, self.start_round)

    def _write_outputs(self) -> None:
        save_checkpoint(self.out_dir / "final.pt", self._models_payload(self.run.rounds))
        save_checkpoint(self.out_dir / "best.pt", self.best["payload"])
        tmp = self.out_dir / "history.csv.tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in self.history:
                writer.writerow({k: _fmt(v) for k, v in row.items()})
        tmp.replace(self.out_dir / "history.csv")
        meta = {
            **self.run.to_dict(),
            "best_round": self.best["round"],
            "runtime": runtime_record(self.run, self.device),
        }
        (self.out_dir / "config.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        (self.out_dir / "resume.pt").unlink(missing_ok=True)


def gamma_shift(x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """FedST's intensity view ``x ** gamma`` of images in [0, 1], one gamma per image."""
    return x.pow(gamma)


def batch_dice_scores(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image Dice of bool maps (N, H, W): 2|P&T| / (|P| + |T|); both empty -> 1."""
    inter = (pred & target).flatten(1).sum(1).float()
    total = (pred.flatten(1).sum(1) + target.flatten(1).sum(1)).float()
    return torch.where(total > 0, 2 * inter / total.clamp_min(1), torch.ones_like(total))


def _round_seed(seed: int, rnd: int) -> int:
    return (seed * 1_000_003 + rnd * 7919 + 12345) % (2**63 - 1)


def _fmt(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6f}"
    return value


@torch.no_grad()
def _copy_weights(dst: torch.nn.Module, src: torch.nn.Module) -> None:
    """``dst.load_state_dict(src.state_dict())`` for two models of one architecture, in one
    foreach copy (the state-dict round trip cost about 2% of a demo round)."""
    dst_t = [*dst.parameters(), *dst.buffers()]
    src_t = [*src.parameters(), *src.buffers()]
    if len(dst_t) != len(src_t):
        raise ValueError(f"models differ: {len(dst_t)} vs {len(src_t)} tensors")
    torch._foreach_copy_(dst_t, src_t)


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj
