"""Figures from training histories and per-client evaluations (PNG and PDF, matplotlib).

Every function takes result files, writes one PNG (300 dpi) and one vector PDF at print size
(:mod:`fedmix.report.style`: widths, fonts, colours) and returns the
:class:`matplotlib.figure.Figure` (built without pyplot, so no global backend or figure state).
Curves over seeds show every seed as a thin line and their mean as a thick one: with three seeds
a +- std band says less than the seeds themselves. Rounds are counted from 1.
Image figures (label gallery, test overlays) live in :mod:`fedmix.report.images`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fedmix.report import style
from fedmix.report.results import mean_std, read_csv_rows, read_history, read_run_config

__all__ = [
    "identical_to",
    "plot_kept_fraction",
    "plot_sensitivity",
    "plot_val_dice",
    "plot_weights",
    "save_figure",
    "sensitivity_points",
    "stack_history",
]

Paths = Sequence[str | os.PathLike]
PARAM_NAMES = {"lambda": "lambda (weight of the loss term)", "beta": "beta (exponent on the loss)"}
PARAM_TITLES = {"lambda": "sensitivity to lambda", "beta": "sensitivity to beta"}


def save_figure(fig: Figure, out_png: str | os.PathLike, out_pdf: str | os.PathLike) -> Figure:
    """Write ``fig`` at its own size (the printed size) as PNG and PDF (no creation date, so
    rebuilds compare equal)."""
    for path in (out_png, out_pdf):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=style.PNG_DPI)
    fig.savefig(out_pdf, metadata={"CreationDate": None})
    return fig


def stack_history(paths: Paths, column: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``column`` of several seeds' ``history.csv``: (rounds (R,), {client: values (S, R)}).

    Every seed must cover the same rounds and clients; ``column`` may be ``kept`` for
    n_samples / n_train (fraction of training samples kept as pseudo labels).
    """
    rounds, stacks = None, {}
    for path in paths:
        for client, h in read_history(path).items():
            r = h["round"]
            if rounds is None:
                rounds = r
            if not np.array_equal(r, rounds):
                raise ValueError(
                    f"{path}: client {client} has rounds {r.min()}..{r.max()} ({len(r)}), other "
                    f"seeds {rounds.min()}..{rounds.max()} ({len(rounds)}); rerun with one config"
                )
            value = h["n_samples"] / h["n_train"] if column == "kept" else h[column]
            stacks.setdefault(client, []).append(value)
    sizes = {c: len(v) for c, v in stacks.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"history files {list(paths)} disagree on clients: {sizes}")
    return rounds, {c: np.vstack(v) for c, v in stacks.items()}


def identical_to(curves: Mapping[str, np.ndarray]) -> dict[str, str]:
    """{label: earlier label} for every curve equal (all seeds, all rounds) to an earlier one.

    Two methods can train identically (FedAvg and FedProx with one client holding masks); the
    figures say so instead of hiding one line under the other.
    """
    out: dict[str, str] = {}
    labels = list(curves)
    for i, label in enumerate(labels):
        for other in labels[:i]:
            a, b = curves[label], curves[other]
            if other not in out and a.shape == b.shape and np.allclose(a, b, equal_nan=True):
                out[label] = other
                break
    return out


def _seeds_and_mean(ax, x: np.ndarray, values: np.ndarray, label: str, line: dict) -> None:
    """Each seed (rows of ``values``) as a thin line, their mean as the labelled line."""
    if values.shape[0] > 1:
        for seed_values in values:
            ax.plot(x, seed_values, color=line["color"], lw=0.4, alpha=0.45, zorder=1)
    ax.plot(x, values.mean(axis=0), label=label, **line)


def _panels(n_panels: int, height: float = 2.0) -> tuple[Figure, list]:
    width = style.COLUMN_IN if n_panels == 1 else style.PAGE_IN
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False, sharey=True)[0]
    return fig, list(axes)


def _rounds_axis(ax, rounds: np.ndarray) -> None:
    ax.set_xlim(1, max(int(rounds.max()), 2))
    ax.set_xlabel("round")


def _supervision(path: str | os.PathLike) -> dict[str, str]:
    return {c: str(h["supervision"][0]) for c, h in read_history(path).items()}


def _setting(path: str | os.PathLike) -> str:
    return "-".join(_supervision(path).values())


@style.styled
def plot_weights(runs: Mapping[str, Paths], out_png, out_pdf, title: str = "") -> Figure:
    """Aggregation weights w_i stacked per round (they sum to 1), one panel per run group.

    ``runs``: {panel title (a FedMix table row): history.csv of each seed}. Areas are the mean
    over seeds; thin white lines are each seed's cumulative weights. A client that skipped a
    round has weight 0. One legend of the clients below the panels.
    """
    fig, axes = _panels(len(runs), height=2.2)
    for ax, (name, paths) in zip(axes, runs.items(), strict=True):
        rounds, weights = stack_history(paths, "weight")
        colours = style.client_colours(list(weights))
        means = [w.mean(axis=0) for w in weights.values()]
        ax.stackplot(rounds, means, labels=list(weights), colors=list(colours.values()), lw=0)
        cumulative = np.cumsum(np.stack(list(weights.values())), axis=0)  # (clients, S, R)
        if cumulative.shape[1] > 1:
            for boundary in cumulative[:-1].reshape(-1, len(rounds)):
                ax.plot(rounds, boundary, color="white", lw=0.4, alpha=0.8)
        ax.set(title=f"{name}\n{_setting(paths[0])}", ylim=(0, 1))
        _rounds_axis(ax, rounds)
    axes[0].set_ylabel("aggregation weight $w_i$")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), title="client")
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_png, out_pdf)


@style.styled
def plot_kept_fraction(runs: Mapping[str, Paths], out_png, out_pdf, title: str = "") -> Figure:
    """Fraction of training samples kept as pseudo labels (n_i / n_train) per weak client.

    ``runs`` as in :func:`plot_weights`; clients with supervision ``L`` are left out (they keep
    every sample by definition). One colour per weak client: thin lines per seed, thick mean.
    """
    fig, axes = _panels(len(runs), height=2.2)
    for ax, (name, paths) in zip(axes, runs.items(), strict=True):
        rounds, kept = stack_history(paths, "kept")
        sup = _supervision(paths[0])
        colours = style.client_colours(list(kept))
        weak = [c for c in kept if sup[c] != "L"]
        if not weak:
            raise ValueError(f"{name}: every client is pixel-labelled; no pseudo labels to plot")
        for client in weak:
            line = dict(color=colours[client], lw=1.4)
            _seeds_and_mean(ax, rounds, kept[client], client, line)
        ax.set(title=f"{name}\n{_setting(paths[0])}", ylim=(0, 1.02))
        _rounds_axis(ax, rounds)
    axes[0].set_ylabel("pseudo labels kept $n_i / n$")
    legend = {}  # one entry per weak client over all panels
    for ax in axes:
        legend.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=len(legend),
               title="weak client")  # fmt: skip
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_png, out_pdf)


@style.styled
def plot_val_dice(
    runs: Mapping[str, Paths],
    out_png,
    out_pdf,
    title: str = "",
    methods: Mapping[str, str] | None = None,
) -> Figure:
    """Validation Dice per round: one panel per client plus one for the mean over clients.

    ``runs``: {line label (table row): history.csv of each seed}; ``methods``: {label: method
    name}, which fixes each line's colour (:func:`fedmix.report.style.row_styles`; default:
    every label its own method). A row identical to an earlier one is drawn dashed over it
    and labelled ``(identical to <row>)``.
    """
    curves = {name: stack_history(paths, "val_dice") for name, paths in runs.items()}
    clients = list(next(iter(curves.values()))[1])
    for name, (_, dice) in curves.items():
        if sorted(dice) != sorted(clients):
            raise ValueError(f"{name}: clients {sorted(dice)} differ from {sorted(clients)}")
    stacked = {name: np.stack([d[c] for c in clients]) for name, (_, d) in curves.items()}
    same = identical_to(stacked)
    lines = style.row_styles(methods or {name: name for name in runs})
    fig, axes = _panels(len(clients) + 1, height=2.3)
    for name, (rounds, dice) in curves.items():
        line = lines[name] | ({"linestyle": (0, (2, 2))} if name in same else {})
        label = f"{name} (identical to {same[name]})" if name in same else name
        for ax, client in zip(axes[:-1], clients, strict=True):
            _seeds_and_mean(ax, rounds, dice[client], label, line)
        _seeds_and_mean(axes[-1], rounds, np.mean([dice[c] for c in clients], axis=0), label, line)
    for ax, panel in zip(axes, [*clients, "mean over clients"], strict=True):
        ax.set(title=panel, ylim=(0, 1))
        _rounds_axis(ax, rounds)
    axes[0].set_ylabel("validation Dice")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(labels)))
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_png, out_pdf)


def sensitivity_points(run_dirs: Paths, base_method: str) -> dict[str, list[tuple]]:
    """Test Dice (mean over clients) against lambda and beta, from one-parameter sweeps.

    A run belongs to the sweep of ``p`` (lam or beta) when its config equals the config of
    ``base_method`` in every key (its parameters included) except ``p``, ``method`` and
    ``seed``. Returns
    ``{p: [(value, mean over seeds, std over seeds, is_base), ...]}`` sorted by value, only for
    parameters with at least two values.
    """
    configs, dice = {}, {}
    for run in run_dirs:
        cfg = read_run_config(run)
        params = cfg.pop("params", {})  # the method's parameters, compared key by key
        cfg = {**cfg, **params}
        rows = read_csv_rows(Path(run) / "eval_best_clients.csv", ("client", "dice"))
        configs.setdefault(cfg["method"], cfg)
        dice.setdefault(cfg["method"], []).append(np.mean([float(r["dice"]) for r in rows]))
    if base_method not in configs:
        raise ValueError(f"base method {base_method!r} not among the runs {sorted(configs)}")
    base = configs[base_method]
    out = {}
    for p in PARAM_NAMES:
        members = [m for m, c in configs.items() if _differs_only_in(c, base, p)]
        points = sorted(
            (configs[m][p], *(float(v) for v in mean_std(np.asarray(dice[m]))), m == base_method)
            for m in members
        )
        if len({v for v, *_ in points}) >= 2:
            out[p] = points
    if not out:
        raise ValueError(
            f"no lambda or beta sweep around {base_method!r} among methods {sorted(configs)}; "
            "add table rows whose methods change only lambda or only beta"
        )
    return out


def _differs_only_in(cfg: dict, base: dict, param: str) -> bool:
    ignore = {"method", "seed", param}
    return {k: v for k, v in cfg.items() if k not in ignore} == {
        k: v for k, v in base.items() if k not in ignore
    }


@style.styled
def plot_sensitivity(run_dirs: Paths, base_method: str, out_png, out_pdf, title="") -> Figure:
    """One panel per swept parameter (lambda, beta): mean test Dice +- std over seeds."""
    points = sensitivity_points(run_dirs, base_method)
    fig, axes = _panels(len(points), height=2.2)
    for ax, (p, pts) in zip(axes, points.items(), strict=True):
        x, mean, std, is_base = (np.asarray(v) for v in zip(*pts, strict=True))
        colour = style.method_colours([style.PROPOSED])[style.PROPOSED]
        ax.errorbar(x, mean, yerr=std, marker="o", ms=3, capsize=2, color="black", label="sweep")
        ax.plot(x[is_base], mean[is_base], "*", color=colour, ms=9, label=f"{base_method}")
        if p == "lambda":
            ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.set(xlabel=PARAM_NAMES[p], ylabel="test Dice (mean over clients)", title=PARAM_TITLES[p])
        ax.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_png, out_pdf)
