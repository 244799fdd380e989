"""Figures from training histories and per-client evaluations (PNG and PDF, matplotlib).

Every function takes result files, writes one PNG and one PDF and returns the
:class:`matplotlib.figure.Figure` (built without pyplot, so no global backend or figure state).
Curves over seeds are drawn as the mean with a band of +- one sample std (ddof = 1).
Image figures (label gallery, test overlays) live in :mod:`fedmix.report.images`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fedmix.report.results import mean_std, read_csv_rows, read_history, read_run_config

__all__ = [
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
    """Write ``fig`` as PNG (150 dpi) and PDF (no creation date, so rebuilds compare equal)."""
    for path in (out_png, out_pdf):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=150, bbox_inches="tight")
    fig.savefig(out_pdf, bbox_inches="tight", metadata={"CreationDate": None})
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


def _band(ax, x: np.ndarray, values: np.ndarray, label: str, **kwargs) -> None:
    """Mean over seeds (rows of ``values``) as a line, +- std as a band."""
    mean, std = mean_std(values)
    (line,) = ax.plot(x, mean, label=label, **kwargs)
    if values.shape[0] > 1:
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2, lw=0)


def _grid(n_panels: int, width: float = 4.2, height: float = 3.2) -> tuple[Figure, list]:
    fig = Figure(figsize=(width * n_panels, height), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, list(axes)


def _supervision(path: str | os.PathLike) -> dict[str, str]:
    return {c: str(h["supervision"][0]) for c, h in read_history(path).items()}


def plot_weights(runs: Mapping[str, Paths], out_png, out_pdf, title: str = "") -> Figure:
    """Aggregation weight w_i per client over rounds, one panel per run group.

    ``runs``: {panel title (e.g. "FedMix (TMI), I-B-L"): history.csv of each seed}.
    One line per client (mean over seeds); a client that skipped a round has weight 0.
    """
    fig, axes = _grid(len(runs))
    for ax, (name, paths) in zip(axes, runs.items(), strict=True):
        rounds, weights = stack_history(paths, "weight")
        sup = _supervision(paths[0])
        for client, w in weights.items():
            _band(ax, rounds, w, f"{client} ({sup[client]})")
        ax.set(title=name, xlabel="round", ylabel="aggregation weight $w_i$", ylim=(0, 1))
        ax.legend(title="client (supervision)", fontsize="small")
    fig.suptitle(title or "FedMix aggregation weights per client (mean +- std over seeds)")
    return save_figure(fig, out_png, out_pdf)


def plot_kept_fraction(runs: Mapping[str, Paths], out_png, out_pdf, title: str = "") -> Figure:
    """Fraction of training samples kept as pseudo labels (n_i / n_train) per weak client.

    ``runs`` as in :func:`plot_weights`; clients with supervision ``L`` are left out (they keep
    every sample by definition). One line per weak client.
    """
    fig, axes = _grid(len(runs))
    for ax, (name, paths) in zip(axes, runs.items(), strict=True):
        rounds, kept = stack_history(paths, "kept")
        sup = _supervision(paths[0])
        weak = [c for c in kept if sup[c] != "L"]
        if not weak:
            raise ValueError(f"{name}: every client is pixel-labelled; no pseudo labels to plot")
        for client in weak:
            _band(ax, rounds, kept[client], f"{client} ({sup[client]})")
        ax.set(title=name, xlabel="round", ylabel="pseudo labels kept $n_i / n$", ylim=(0, 1.02))
        ax.legend(title="weak client (supervision)", fontsize="small")
    fig.suptitle(title or "Fraction of pseudo labels kept per round (mean +- std over seeds)")
    return save_figure(fig, out_png, out_pdf)


def plot_val_dice(runs: Mapping[str, Paths], out_png, out_pdf, title: str = "") -> Figure:
    """Validation Dice per round: one panel per client plus one for the mean over clients.

    ``runs``: {line label (table row): history.csv of each seed}; one line per entry in every panel.
    """
    curves = {name: stack_history(paths, "val_dice") for name, paths in runs.items()}
    clients = list(next(iter(curves.values()))[1])
    fig, axes = _grid(len(clients) + 1, width=3.6)
    for name, (rounds, dice) in curves.items():
        if sorted(dice) != sorted(clients):
            raise ValueError(f"{name}: clients {sorted(dice)} differ from {sorted(clients)}")
        for ax, client in zip(axes[:-1], clients, strict=True):
            _band(ax, rounds, dice[client], name)
        _band(axes[-1], rounds, np.mean([dice[c] for c in clients], axis=0), name)
    for ax, panel in zip(axes, [*clients, "mean over clients"], strict=True):
        ax.set(title=panel, xlabel="round", ylabel="validation Dice", ylim=(0, 1))
    axes[-1].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle(title or "Validation Dice of the global model per round (mean +- std over seeds)")
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


def plot_sensitivity(run_dirs: Paths, base_method: str, out_png, out_pdf, title="") -> Figure:
    """One panel per swept parameter (lambda, beta): mean test Dice +- std over seeds."""
    points = sensitivity_points(run_dirs, base_method)
    fig, axes = _grid(len(points), width=4.0)
    for ax, (p, pts) in zip(axes, points.items(), strict=True):
        x, mean, std, is_base = (np.asarray(v) for v in zip(*pts, strict=True))
        ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label="sweep")
        ax.plot(x[is_base], mean[is_base], "r*", ms=12, label=f"default ({base_method})")
        if p == "lambda":
            ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.set(xlabel=PARAM_NAMES[p], ylabel="test Dice (mean over clients)", title=PARAM_TITLES[p])
        ax.legend(fontsize="small")
    fig.suptitle(title or "FedMix sensitivity to lambda and beta (mean +- std over seeds)")
    return save_figure(fig, out_png, out_pdf)
