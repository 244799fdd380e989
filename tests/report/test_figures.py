import numpy as np
import pytest
from printcheck import assert_print_ready, hex_colour

from fedmix.report.figures import (
    identical_to,
    plot_kept_fraction,
    plot_sensitivity,
    plot_val_dice,
    plot_weights,
    sensitivity_points,
    stack_history,
)
from fedmix.report.style import method_colours

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


ROWS = {  # label: (method, setting); FedProx trains exactly like FedAvg here
    "FedMix (TMI)": ("fedmix-tmi", "I-B-L"),
    "FedAvg (L client only)": ("fedavg", "U-U-L"),
    "FedAvg (all L)": ("fedavg", "L-L-L"),
    "FedProx (L client only)": ("fedprox", "U-U-L"),
}
OFFSET = {"FedMix (TMI)": 0.1, "FedAvg (all L)": 0.05}


@pytest.fixture
def histories(tmp_path, fake_run):
    return {
        label: [
            fake_run(
                tmp_path, "toy", method, setting, seed, {c: {} for c in CLIENTS},
                history=_history(seed, OFFSET.get(label, 0.0)),
            ) / "history.csv"
            for seed in (0, 1)
        ]
        for label, (method, setting) in ROWS.items()
    }  # fmt: skip


def _outputs(tmp_path, name):
    return tmp_path / "fig" / f"{name}.png", tmp_path / "fig" / f"{name}.pdf"


def _labelled(lines):
    return [line for line in lines if not line.get_label().startswith("_")]


def test_stack_history_kept_fraction_and_skipped_loss(histories):
    rounds, kept = stack_history(histories["FedMix (TMI)"], "kept")
    assert rounds.tolist() == list(range(1, ROUNDS + 1))
    assert kept["a"].shape == (2, ROUNDS)
    assert kept["a"][0, :3].tolist() == [0.0, 0.2, 0.3]  # n_i / 10, 0 kept in round 1
    assert np.all(kept["c"] == 1.0)
    _, loss = stack_history(histories["FedMix (TMI)"], "train_loss")
    assert np.isnan(loss["a"][0, 0]) and loss["b"][0, 0] == pytest.approx(0.6)


def test_stack_history_rejects_seeds_with_different_rounds(tmp_path, fake_run, histories):
    short = fake_run(tmp_path, "toy", "x", "I-B-L", 5, {}, history=_history(0)[:3])
    with pytest.raises(ValueError, match="rounds"):
        stack_history([histories["FedAvg (all L)"][0], short / "history.csv"], "weight")


def test_weights_are_stacked_per_client_with_each_seed_drawn(tmp_path, histories):
    fig = plot_weights({"FedMix": histories["FedMix (TMI)"]}, *_outputs(tmp_path, "w"))
    assert_print_ready(fig, *_outputs(tmp_path, "w"))
    (ax,) = fig.axes
    areas = ax.collections
    assert [a.get_label() for a in areas] == list(CLIENTS)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(CLIENTS)
    top = areas[-1].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(1.0)  # the weights of a round sum to 1
    assert len(ax.get_lines()) == 2 * (len(CLIENTS) - 1)  # each seed's inner boundaries
    assert ax.get_xlim()[0] == 1 and ax.get_title() == "FedMix\nI-B-L"


def test_kept_fraction_only_weak_clients(tmp_path, histories):
    fig = plot_kept_fraction({"FedMix": histories["FedMix (TMI)"]}, *_outputs(tmp_path, "k"))
    assert_print_ready(fig, *_outputs(tmp_path, "k"))
    labels = [line.get_label() for line in _labelled(fig.axes[0].get_lines())]
    assert labels == ["a", "b"]  # the L client is left out
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b"]
    assert len(fig.axes[0].get_lines()) == 2 * 3  # two seeds and their mean per client


def test_val_dice_panel_per_client_and_one_colour_per_method(tmp_path, histories):
    methods = {label: method for label, (method, _) in ROWS.items()}
    fig = plot_val_dice(histories, *_outputs(tmp_path, "v"), methods=methods)
    assert_print_ready(fig, *_outputs(tmp_path, "v"))
    assert len(fig.axes) == len(CLIENTS) + 1
    colours = {}
    for ax in fig.axes:
        lines = _labelled(ax.get_lines())
        assert len(lines) == len(histories)
        assert ax.get_xlim()[0] == 1 and ax.get_ylim() == (0, 1)
        for line in lines:
            method = methods[line.get_label().split(" (identical")[0]]
            colours.setdefault(method, set()).add(hex_colour(line.get_color()))
    assert all(len(c) == 1 for c in colours.values()), colours  # one colour per method
    assert len({c.pop() for c in colours.values()}) == len(colours)  # no two methods share one
    mean_panel = _labelled(fig.axes[-1].get_lines())[0].get_ydata()
    # round 1, mean over clients a/b/c (0.1, 0.15, 0.2), seeds (+0, +0.01) and FedMix's +0.1
    assert mean_panel[0] == pytest.approx(0.255)
    styles = {line.get_label(): line for line in _labelled(fig.axes[-1].get_lines())}
    fedprox = styles["FedProx (L client only) (identical to FedAvg (L client only))"]
    assert fedprox.get_linestyle() != styles["FedAvg (L client only)"].get_linestyle()
    assert styles["FedAvg (all L)"].get_linestyle() == "--"  # fedavg's second setting
    assert styles["FedMix (TMI)"].get_linewidth() > styles["FedAvg (all L)"].get_linewidth()


def test_identical_to_names_the_earlier_equal_curve():
    a, b = np.zeros((2, 3)), np.ones((2, 3))
    assert identical_to({"x": a, "y": b, "z": a.copy(), "w": a.copy()}) == {"z": "x", "w": "x"}


def test_method_colours_are_fixed_and_distinct():
    first = method_colours(["fedavg", "fedmix-tmi", "ablation-a", "ablation-b"])
    second = method_colours(["fedmix-tmi", "ablation-a", "fedavg"])
    assert first["fedmix-tmi"] == second["fedmix-tmi"] and first["fedavg"] == second["fedavg"]
    assert len(set(first.values())) == 4


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
    assert_print_ready(fig, *_outputs(tmp_path, "s"))
    assert [ax.get_title() for ax in fig.axes] == ["sensitivity to lambda", "sensitivity to beta"]


def test_sensitivity_without_sweep_is_an_error(tmp_path, fake_run):
    run = fake_run(tmp_path, "toy", "fedmix-tmi", "I-B-L", 0, {c: {"dice": 0.5} for c in CLIENTS})
    with pytest.raises(ValueError, match="no lambda or beta sweep"):
        sensitivity_points([run], "fedmix-tmi")
