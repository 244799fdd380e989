import numpy as np
import pytest

from fedmix.report.figures import (
    plot_kept_fraction,
    plot_sensitivity,
    plot_val_dice,
    plot_weights,
    sensitivity_points,
    stack_history,
)

CLIENTS = {"a": "I", "b": "B", "c": "L"}
ROUNDS = 6


def _history(seed: int, offset: float = 0.0) -> list[dict]:
    rows = []
    for r in range(1, ROUNDS + 1):
        for i, (c, sup) in enumerate(CLIENTS.items()):
            n_train = 10 * (i + 1)
            kept = n_train if sup == "L" else min(n_train, r * (i + 1))
            skipped = sup != "L" and r == 1 and i == 0  # client a keeps nothing in round 1
            rows.append(
                dict(
                    round=r, client=c, supervision=sup, n_samples=0 if skipped else kept,
                    n_train=n_train, train_loss="" if skipped else 0.5 + 0.1 * i,
                    weight=0.0 if skipped else [0.2, 0.3, 0.5][i],
                    val_dice=min(1.0, 0.1 * r + 0.05 * i + 0.01 * seed + offset),
                )
            )  # fmt: skip
    return rows


@pytest.fixture
def histories(tmp_path, fake_run):
    out = {}
    for k, (method, setting) in enumerate([("fedmix-tmi", "I-B-L"), ("fedavg", "U-U-L")]):
        out[f"{method} {setting}"] = [
            fake_run(
                tmp_path, "toy", method, setting, seed, {c: {} for c in CLIENTS},
                history=_history(seed, 0.1 * k),
            ) / "history.csv"
            for seed in (0, 1)
        ]  # fmt: skip
    return out


def _outputs(tmp_path, name):
    return tmp_path / "fig" / f"{name}.png", tmp_path / "fig" / f"{name}.pdf"


def _assert_written(png, pdf):
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1000


def test_stack_history_kept_fraction_and_skipped_loss(histories):
    rounds, kept = stack_history(histories["fedmix-tmi I-B-L"], "kept")
    assert rounds.tolist() == list(range(1, ROUNDS + 1))
    assert kept["a"].shape == (2, ROUNDS)
    assert kept["a"][0, :3].tolist() == [0.0, 0.2, 0.3]  # n_i / 10, 0 kept in round 1
    assert np.all(kept["c"] == 1.0)
    _, loss = stack_history(histories["fedmix-tmi I-B-L"], "train_loss")
    assert np.isnan(loss["a"][0, 0]) and loss["b"][0, 0] == pytest.approx(0.6)


def test_stack_history_rejects_seeds_with_different_rounds(tmp_path, fake_run, histories):
    short = fake_run(tmp_path, "toy", "x", "I-B-L", 5, {}, history=_history(0)[:3])
    with pytest.raises(ValueError, match="rounds"):
        stack_history([histories["fedavg U-U-L"][0], short / "history.csv"], "weight")


def test_weights_one_line_per_client(tmp_path, histories):
    fig = plot_weights({"FedMix": histories["fedmix-tmi I-B-L"]}, *_outputs(tmp_path, "w"))
    _assert_written(*_outputs(tmp_path, "w"))
    (ax,) = fig.axes
    assert len(ax.get_lines()) == len(CLIENTS)
    assert ax.get_lines()[0].get_ydata()[0] == 0.0  # skipped client gets weight 0
    assert "aggregation weight" in ax.get_ylabel()


def test_kept_fraction_only_weak_clients(tmp_path, histories):
    fig = plot_kept_fraction({"FedMix": histories["fedmix-tmi I-B-L"]}, *_outputs(tmp_path, "k"))
    _assert_written(*_outputs(tmp_path, "k"))
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["a (I)", "b (B)"]  # the L client is left out


def test_val_dice_panel_per_client_and_line_per_method(tmp_path, histories):
    fig = plot_val_dice(histories, *_outputs(tmp_path, "v"))
    _assert_written(*_outputs(tmp_path, "v"))
    assert len(fig.axes) == len(CLIENTS) + 1
    assert all(len(ax.get_lines()) == len(histories) for ax in fig.axes)
    mean_panel = fig.axes[-1].get_lines()[0].get_ydata()
    # round 1, mean over clients a/b/c (0.1, 0.15, 0.2) and seeds (+0, +0.01)
    assert mean_panel[0] == pytest.approx(0.155)


def _sweep_tree(tmp_path, fake_run):
    runs = []
    sweep = {
        "fedmix-tmi": {},
        "lam0": {"lambda": 0.0},
        "lam100": {"lambda": 100.0},
        "beta3": {"beta": 3.0},
    }
    sweep["other"] = {"lambda": 0.0, "tau": 0.0}  # changes two things: in no sweep
    for k, (method, cfg) in enumerate(sweep.items()):
        for seed in (0, 1):
            dice = 0.5 + 0.1 * k + 0.02 * seed
            metrics = {c: {"dice": dice} for c in CLIENTS}
            params = {"variant": "tmi", "lambda": 10.0, "beta": 1.5, "tau": 0.9, **cfg}
            cfg = {"algorithm": "fedmix", "params": params}
            runs.append(fake_run(tmp_path, "toy", method, "I-B-L", seed, metrics, config=cfg))
    return runs


def test_sensitivity_points_pick_one_parameter_sweeps(tmp_path, fake_run):
    points = sensitivity_points(_sweep_tree(tmp_path, fake_run), "fedmix-tmi")
    assert [p[0] for p in points["lambda"]] == [0.0, 10.0, 100.0]
    assert [p[0] for p in points["beta"]] == [1.5, 3.0]
    value, mean, std, is_base = points["lambda"][1]
    assert (mean, is_base) == (pytest.approx(0.51), True)
    assert std == pytest.approx(0.02 / np.sqrt(2))


def test_sensitivity_figure_has_a_panel_per_parameter(tmp_path, fake_run):
    fig = plot_sensitivity(_sweep_tree(tmp_path, fake_run), "fedmix-tmi", *_outputs(tmp_path, "s"))
    _assert_written(*_outputs(tmp_path, "s"))
    assert [ax.get_title() for ax in fig.axes] == ["sensitivity to lambda", "sensitivity to beta"]


def test_sensitivity_without_sweep_is_an_error(tmp_path, fake_run):
    run = fake_run(tmp_path, "toy", "fedmix-tmi", "I-B-L", 0, {c: {"dice": 0.5} for c in CLIENTS})
    with pytest.raises(ValueError, match="no lambda or beta sweep"):
        sensitivity_points([run], "fedmix-tmi")
