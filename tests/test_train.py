"""End-to-end runs of every method on a tiny federation, resume, and failure modes."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from tinyfed import crash_in_round, tiny_run

from fedmix import train
from fedmix.aggregation import fedmix_weights
from fedmix.checkpoint import CheckpointMismatchError, load_checkpoint
from fedmix.clients import load_client
from fedmix.file_layout import HISTORY_COLUMNS
from fedmix.io import FedmixFileError, write_h5
from fedmix.methods import FedMix, FedMixParams, base, make_strategy, strategy_class
from fedmix.methods.fedst import gamma_shift
from fedmix.params import ConfigError, build_params

CASES = [
    ("local", "local", None, "L-L-L"),
    ("fedavg", "fedavg", None, "L-L-L"),
    ("fedavg", "fedavg", None, "U-U-L"),
    ("fedprox", "fedprox", None, "U-U-L"),
    ("fedst", "fedst", None, "U-U-L"),
    ("fedrgd", "fedrgd", None, "U-U-L"),
    ("fedmix-arxiv", "fedmix", "arxiv", "B-B-L"),
    ("fedmix-tmi", "fedmix", "tmi", "I-B-L"),
    ("fedmix-tmi", "fedmix", "tmi", "U-U-L"),
]


def read_history(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(("method", "algorithm", "variant", "setting"), CASES)
def test_every_method_trains_and_writes_outputs(
    tmp_path, tiny_task, method, algorithm, variant, setting
):
    tr, val, _ = tiny_task(setting)
    extra = {"mu": 0.01} if algorithm == "fedprox" else {}
    extra |= (
        {"warmup_fraction": 0.34, "labelled_weight": 0.9}
        if algorithm in ("fedst", "fedrgd")
        else {}
    )
    extra |= {"variant": variant} if variant else {}
    run = tiny_run(method=method, algorithm=algorithm, setting=setting, **extra)
    out = tmp_path / "run"
    train.train_run(run, tr, val, out)

    rows = read_history(out / "history.csv")
    assert [r["round"] for r in rows] == [str(r) for r in range(1, 4) for _ in range(3)]
    assert set(rows[0]) == set(HISTORY_COLUMNS)
    letters = setting.split("-")
    for rnd in range(1, 4):
        this = [r for r in rows if r["round"] == str(rnd)]
        weights = np.array([float(r["weight"]) for r in this])
        if algorithm == "local":
            assert np.allclose(weights, 1.0)
        else:
            assert math.isclose(weights.sum(), 1.0, abs_tol=1e-6)
        for r, letter in zip(this, letters, strict=True):
            assert r["supervision"] == letter
            assert 0.0 <= float(r["val_dice"]) <= 1.0
            if algorithm in ("fedavg", "fedprox", "local") and letter == "U":
                assert float(r["weight"]) == 0.0 and r["n_samples"] == "0"

    final = load_checkpoint(out / "final.pt")
    best = load_checkpoint(out / "best.pt")
    assert final["round"] == 3 and 1 <= best["round"] <= 3
    expected_models = (
        {f"client:{c}" for c in "abc"}
        if algorithm == "local"
        else {"global", "global#stream2"}
        if algorithm == "fedmix"
        else {"global"}
    )
    assert set(final["models"]) == expected_models
    assert not (out / "resume.pt").exists()


def test_fedmix_history_lets_anyone_recompute_the_weights(tmp_path, tiny_task):
    tr, val, _ = tiny_task("I-B-L")
    run = tiny_run(tau=0.0, rounds=3)  # tau = 0 keeps every weak sample: all clients train
    train.train_run(run, tr, val, tmp_path)
    rows = read_history(tmp_path / "history.csv")
    for rnd in ("1", "2", "3"):
        this = [r for r in rows if r["round"] == rnd]
        n = [int(r["n_samples"]) for r in this]
        loss = [float(r["train_loss"]) if r["train_loss"] else 0.0 for r in this]
        recomputed = fedmix_weights(n, loss, run.params.lambda_, run.params.beta)
        assert np.allclose(recomputed, [float(r["weight"]) for r in this], atol=1e-6)
        # n_i of the L client is its training-set size
        assert this[2]["n_samples"] == this[2]["n_train"]


def test_weak_clients_never_see_masks(tmp_path, tiny_task, monkeypatch):
    tr, val, _ = tiny_task("I-B-L")
    seen = []
    real = FedMix.local_job

    def spy(self, rnd, client, images, maps, global_models):
        seen.append((client.supervision, maps[0] is None, client.masks is None))
        return real(self, rnd, client, images, maps, global_models)

    monkeypatch.setattr(FedMix, "local_job", spy)
    train.train_run(tiny_run(), tr, val, tmp_path)
    weak = [s for s in seen if s[0] != "L"]
    assert weak and all(no_map and no_mask for _, no_map, no_mask in weak)

    # A tampered weak file that carries masks is refused outright.
    bad = tmp_path / "bad.B.h5"
    write_h5(
        bad,
        {
            "images": np.zeros((2, 1, 8, 8), np.uint8),
            "sample_ids": np.array(["x", "y"]),
            "boxes": np.zeros((2, 4), np.int32),
            "box_valid": np.zeros(2, np.uint8),
            "masks": np.zeros((2, 8, 8), np.uint8),
        },
        {"supervision": "B"},
    )
    with pytest.raises(FedmixFileError, match="masks"):
        load_client(bad, "b", "B", "cpu")


def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, tiny_task, monkeypatch):
    tr, val, _ = tiny_task("I-B-L")
    run = tiny_run(rounds=5, checkpoint_every=2)
    train.train_run(run, tr, val, tmp_path / "straight")

    real_round = crash_in_round(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        train.train_run(run, tr, val, tmp_path / "resumed")
    assert load_checkpoint(tmp_path / "resumed/resume.pt")["round"] == 2
    monkeypatch.setattr(train.RoundLoop, "round", real_round)
    train.train_run(run, tr, val, tmp_path / "resumed")

    for name in ("final.pt", "best.pt"):
        a = load_checkpoint(tmp_path / "straight" / name)
        b = load_checkpoint(tmp_path / "resumed" / name)
        assert a["round"] == b["round"]
        for key in a["models"]:
            for k, v in a["models"][key].items():
                assert torch.equal(v, b["models"][key][k]), (name, key, k)
    assert (tmp_path / "straight/history.csv").read_text() == (
        tmp_path / "resumed/history.csv"
    ).read_text()


def test_checkpoint_of_another_config_is_refused(tmp_path, tiny_task, monkeypatch):
    tr, val, _ = tiny_task("I-B-L")
    run = tiny_run(rounds=4, checkpoint_every=2)
    real_round = train.RoundLoop.round

    def crash_at_3(self, rnd):
        if rnd == 2:
            raise KeyboardInterrupt
        return real_round(self, rnd)

    monkeypatch.setattr(train.RoundLoop, "round", crash_at_3)
    with pytest.raises(KeyboardInterrupt):
        train.train_run(run, tr, val, tmp_path)
    monkeypatch.setattr(train.RoundLoop, "round", real_round)
    with pytest.raises(CheckpointMismatchError, match=r"width: 4 \(checkpoint\) vs 8"):
        train.train_run(tiny_run(rounds=4, checkpoint_every=2, width=8), tr, val, tmp_path)


def test_nan_loss_stops_naming_round_client_stream(tmp_path, tiny_task, monkeypatch):
    tr, val, _ = tiny_task("I-B-L")
    run = tiny_run(rounds=4, checkpoint_every=1)
    real_loss = base.soft_dice_loss
    calls = {"n": 0}

    def nan_in_round_3(probs, target, **kw):
        calls["n"] += 1
        loss = real_loss(probs, target, **kw)
        return loss * float("nan") if train_round["r"] == 2 else loss

    train_round = {"r": 0}
    real_round = train.RoundLoop.round

    def tracking(self, rnd):
        train_round["r"] = rnd
        return real_round(self, rnd)

    monkeypatch.setattr(base, "soft_dice_loss", nan_in_round_3)
    monkeypatch.setattr(train.RoundLoop, "round", tracking)
    with pytest.raises(train.NonFiniteLossError, match=r"round 3, client '\w', stream 1"):
        train.train_run(run, tr, val, tmp_path)
    assert load_checkpoint(tmp_path / "resume.pt")["round"] == 2  # the good one survives
    assert not (tmp_path / "final.pt").exists()


def test_unknown_algorithm_and_bad_letters_are_refused():
    with pytest.raises(ConfigError, match="unknown algorithm 'fedfoo'.*built-in"):
        strategy_class("fedfoo")
    with pytest.raises(ConfigError, match=r"'variant'\] = 'v3'.*one of \['tmi', 'arxiv'\]"):
        build_params(FedMixParams, {"variant": "v3"}, "m")
    with pytest.raises(ValueError, match=r"supervision letters \['L', 'U'\]"):
        make_strategy(tiny_run(algorithm="fedavg", setting="I-B-L"))


@pytest.mark.parametrize(("scope", "best"), [("labelled", 2), ("all", 1)])
def test_best_checkpoint_is_chosen_on_the_scoped_clients_masks(
    tmp_path, tiny_task, monkeypatch, scope, best
):
    """Round 1 is better on the weak clients' validation masks, round 2 on the pixel-labelled
    client's: by default (labelled) the weak clients' masks, which the setting says do not
    exist, must not decide; with ``all`` (optimistic, the original's way) they do."""
    scripted = iter([{"a": 0.9, "b": 0.9, "c": 0.1}, {"a": 0.1, "b": 0.1, "c": 0.5}])
    monkeypatch.setattr(train.RoundLoop, "_validate", lambda self: next(scripted))
    tr, val, _ = tiny_task("I-B-L")
    run = tiny_run(setting="I-B-L", rounds=2, selection_clients=scope)
    train.train_run(run, tr, val, tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (meta["best_round"], meta["selection_clients"]) == (best, scope)
    assert load_checkpoint(tmp_path / "run" / "best.pt")["round"] == best
    rows = read_history(tmp_path / "run" / "history.csv")
    assert [r["val_dice"] for r in rows if r["client"] == "a"] == ["0.900000", "0.100000"]


def test_fedst_gamma_view_keeps_black_black_and_white_white():
    x = torch.tensor([0.0, 0.25, 1.0]).view(1, 1, 1, 3).repeat(2, 1, 1, 1)
    gamma = torch.tensor([0.2, 2.0]).view(2, 1, 1, 1)
    out = gamma_shift(x, gamma)
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([0.0, 0.25**0.2, 1.0]))
    torch.testing.assert_close(out[1, 0, 0], torch.tensor([0.0, 0.0625, 1.0]))
