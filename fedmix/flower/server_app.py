"""The coordinator's ServerApp: fedmix's round loop with the sites reached through Flower.

Each round the coordinator sends the run configuration and the global model(s) (both streams
for FedMix) to every connected site, collects n_i, l_i and the updated weights, lets the run's
strategy weigh the sites (:func:`fedmix.global_models.aggregate_updates`, the simulation's function)
and averages. The validation Dice of round r's models is computed by each site when it
receives them at the start of round r + 1 (and by a last ``evaluate`` message after the final
round), so the history has the simulation's columns without an extra message per round.

A site that drops out mid-round (Flower reports it unavailable, or ``round-timeout`` passes)
counts as n_i = 0 for that round: the strategy's weights are renormalised over the sites that
answered, exactly as for a FedMix site that kept no pseudo label. A site whose SuperNode comes
back is sent the next round (with ``rejoin-wait`` the coordinator waits for it).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from flwr.app import Context, Message
from flwr.serverapp import Grid, ServerApp

from fedmix.devices import deterministic_cpu
from fedmix.flower.records import SiteReply, decode_reply, encode_request
from fedmix.global_models import aggregate_updates, initial_models
from fedmix.methods import ClientStats, Strategy, make_strategy
from fedmix.outputs import history_rows, models_payload, write_run_outputs
from fedmix.runconfig import RunConfig
from fedmix.selection import selection_scope

__all__ = ["app", "load_run_config", "serve"]

log = logging.getLogger("fedmix.flower.server")
app = ServerApp()

# Keys of a simulation's config.json that describe its outcome and inputs, not the run.
_RESULT_KEYS = ("best_round", "runtime", "inputs")


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    for key in ("run-config", "out-dir"):
        if not str(cfg.get(key, "")):
            raise ValueError(
                f"run config key {key!r} is empty; pass it with "
                f"flwr run ... --run-config '{key}=\"/path\"' (docs/deployment.md)"
            )
    serve(
        grid,
        load_run_config(cfg["run-config"]),
        Path(str(cfg["out-dir"])),
        wait_for_sites=float(cfg.get("wait-for-sites", 600)),
        rejoin_wait=float(cfg.get("rejoin-wait", 0)),
        round_timeout=float(cfg.get("round-timeout", 0)) or None,
    )


def load_run_config(path) -> RunConfig:
    """A run's resolved configuration from JSON (a simulation's ``config.json`` works too)."""
    d = json.loads(Path(path).read_text())
    return RunConfig.from_dict({k: v for k, v in d.items() if k not in _RESULT_KEYS})


def _check_deployable(run: RunConfig, strategy: Strategy) -> None:
    groups = {strategy.group(c) for c in run.clients}
    if len(groups) != 1:
        raise ValueError(
            f"method {run.method!r} keeps {len(groups)} separate models ({sorted(groups)[:3]}...); "
            "a federation shares one, so run it per site with the simulation instead"
        )


class _Log:
    """Progress lines in the coordinator's log and in ``out_dir/flower.log``."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, msg: str, *args) -> None:
        text = msg % args if args else msg
        log.info(text)
        print(f"fedmix: {text}", flush=True)
        with open(self.path, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n")


def _wait_for_nodes(grid: Grid, need: int, wait_s: float, say) -> list[int]:
    deadline = time.monotonic() + wait_s
    nodes = sorted(grid.get_node_ids())
    while len(nodes) < need and time.monotonic() < deadline:
        time.sleep(0.5)
        nodes = sorted(grid.get_node_ids())
    say("%d of %d sites connected", len(nodes), need)
    return nodes


def _exchange(grid, run, rnd, message_type, globals_, validate, timeout, say) -> dict:
    """Send round ``rnd`` to every connected site; {site: SiteReply} of those that answered."""
    content = encode_request(run, rnd, validate, globals_)
    nodes = sorted(grid.get_node_ids())
    messages = [Message(content, n, message_type, group_id=str(rnd + 1)) for n in nodes]
    replies: dict[str, SiteReply] = {}
    answered, reasons = set(), set()
    for reply in grid.send_and_receive(messages, timeout=timeout):
        node = reply.metadata.src_node_id
        if reply.has_error():  # sent by the SuperLink on the missing node's behalf
            reasons.add(reply.error.reason)
            continue
        answered.add(node)
        got = decode_reply(reply.content, len(globals_))
        if got.site not in run.clients:
            raise ValueError(f"node {node} says it is site {got.site!r}, not one of {run.clients}")
        if got.site in replies:
            raise ValueError(f"two SuperNodes answer as site {got.site!r}; give each its own")
        replies[got.site] = got
    if len(answered) < len(nodes):
        say("round %d: nodes %s dropped out (%s)", rnd + 1, sorted(set(nodes) - answered),
            "; ".join(sorted(reasons)) or f"no reply within {timeout} s")  # fmt: skip
    say("round %d: answers from %s", rnd + 1, [c for c in run.clients if c in replies])
    return replies


def serve(
    grid: Grid,
    run: RunConfig,
    out_dir: Path,
    wait_for_sites: float = 600,
    rejoin_wait: float = 0,
    round_timeout: float | None = None,
) -> list[dict]:
    """Run ``run.rounds`` rounds over the connected sites; write the simulation's outputs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    say = _Log(out_dir / "flower.log")
    deterministic_cpu(compiled=run.compile)
    coord = _Coordinator(run, say)
    say("%s %s seed %d: %d rounds over sites %s", run.method, run.setting, run.seed, run.rounds,
        list(run.clients))  # fmt: skip
    nodes = _wait_for_nodes(grid, len(run.clients), wait_for_sites, say)
    if len(nodes) < len(run.clients):
        raise TimeoutError(
            f"only {len(nodes)} of {len(run.clients)} sites connected within {wait_for_sites} s; "
            "start every site's SuperNode, or raise wait-for-sites"
        )
    for rnd in range(run.rounds):
        if rnd > 0 and rejoin_wait > 0:
            _wait_for_nodes(grid, len(run.clients), rejoin_wait, say)
        replies = _exchange(grid, run, rnd, "train", coord.streams, rnd > 0, round_timeout, say)
        coord.record_validation(rnd - 1, replies)
        coord.aggregate(rnd, replies)
    last = _exchange(grid, run, run.rounds, "evaluate", coord.streams, True, round_timeout, say)
    coord.record_validation(run.rounds - 1, last)
    coord.write(out_dir)
    say("wrote %s", out_dir)
    return coord.history


class _Coordinator:
    """The server half of :class:`fedmix.train.RoundLoop`: global models, weights, history.

    Round r's validation Dice arrives with the replies of round r + 1, so its history rows and
    its best.pt candidate wait in ``pending`` until then.
    """

    def __init__(self, run: RunConfig, say):
        self.run, self.say, self.device = run, say, torch.device("cpu")
        self.strategy = make_strategy(run)
        _check_deployable(run, self.strategy)
        self.scope = selection_scope(run)
        self.globals = initial_models(run, self.strategy, self.device)
        (self.group,) = self.globals
        self.history: list[dict] = []
        self.best: dict = {"score": -math.inf, "round": 0, "payload": None}
        self.n_train: dict[str, int] = {}
        self.pending = None

    @property
    def streams(self):
        return self.globals[self.group]

    def aggregate(self, rnd: int, replies: dict[str, SiteReply]) -> None:
        """The strategy's weights over the sites that answered (n_i = 0 for the others)."""
        run = self.run
        self.n_train.update({site: r.stats.n_train for site, r in replies.items()})
        # A site that did not answer sits the round out, as with n_i = 0.
        absent = {c: ClientStats(0, math.nan, self.n_train.get(c, 0)) for c in run.clients}
        stats = {c: replies[c].stats if c in replies else absent[c] for c in run.clients}
        states = {c: r.states for c, r in replies.items() if r.states}
        used = aggregate_updates(self.strategy, rnd, self.globals, stats, states)
        self.say("round %d: n %s, weights %s", rnd + 1,
                 [stats[c].n_samples for c in run.clients],
                 [round(used[c], 4) for c in run.clients])  # fmt: skip
        self.pending = (rnd, stats, used, models_payload(run, self.globals, rnd + 1))

    def record_validation(self, rnd: int, replies: dict[str, SiteReply]) -> None:
        """History rows of round ``rnd`` (0-based) with the sites' Dice of its models."""
        if self.pending is None:
            return
        done, stats, used, payload = self.pending
        assert done == rnd, (done, rnd)
        val = {s: r.val_dice for s, r in replies.items() if not math.isnan(r.val_dice)}
        self.history.extend(history_rows(self.run, rnd, stats, used, val))
        score = float(np.mean([val.get(c, math.nan) for c in self.scope]))
        if score > self.best["score"]:  # NaN (a selection site missing) never wins
            self.best = {"score": score, "round": rnd + 1, "payload": payload}
        self.say("round %d: selection Dice %.4f (best %.4f, round %d)", rnd + 1, score,
                 self.best["score"], self.best["round"])  # fmt: skip
        self.pending = None

    def write(self, out_dir: Path) -> None:
        if self.best["payload"] is None:
            raise RuntimeError(
                f"no round had a validation score on the selection sites {self.scope}; give "
                "those sites a selection-file in their node config"
            )
        final = models_payload(self.run, self.globals, self.run.rounds)
        write_run_outputs(out_dir, self.run, final, self.best, self.history, self.device)
