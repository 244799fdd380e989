"""The resolved settings of one run (:class:`RunConfig`) and how they come from the config.

:func:`resolve_run` merges, for one task, method, setting and seed: the shared ``training``
block and the task's overrides; the network (``training.model``, :mod:`fedmix.networks`); and
the method's parameters, validated by its ``Params`` dataclass from, in increasing priority,
the task's ``hyper`` blocks that apply to the algorithm (:func:`fedmix.methods.hyper_sections`)
and the keys given under ``methods.<name>``. Defaults live in the dataclasses only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fedmix.data.normals import normal_image_clients, normal_image_source, resolve_normal_rule
from fedmix.methods import hyper_sections, strategy_class
from fedmix.networks import ModelSpec, model_spec
from fedmix.params import ConfigError, build_params, params_to_dict

__all__ = [
    "METHOD_KEYS",
    "SUPERVISION_LETTERS",
    "RunConfig",
    "describe_data",
    "method_params",
    "parse_setting",
    "resolve_run",
    "resolve_selection_clients",
    "run_model",
]

SUPERVISION_LETTERS = {
    "L": "pixel masks",
    "B": "boxes",
    "I": "image-level labels",
    "U": "unlabeled",
}
# Keys of methods.<name> that are not the algorithm's parameters.
# (selection and selection_clients override training's: the original-protocol row selects on test)
METHOD_KEYS = ("algorithm", "weight_decay", "selection", "selection_clients")


def parse_setting(setting: str, n_clients: int | None = None) -> tuple[str, ...]:
    """Split a setting such as ``"I-B-L"`` into supervision letters, checking each one."""
    letters = tuple(setting.split("-"))
    bad = [x for x in letters if x not in SUPERVISION_LETTERS]
    if bad or not setting:
        raise ConfigError(
            f"setting {setting!r}: unknown supervision letter(s) {bad}; use one of "
            f"{sorted(SUPERVISION_LETTERS)} per client joined by '-', e.g. 'I-B-L'"
        )
    if n_clients is not None and len(letters) != n_clients:
        raise ConfigError(
            f"setting {setting!r} has {len(letters)} letter(s) but the task has {n_clients} "
            f"client(s); give one letter per client in client order"
        )
    return letters


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything one training run depends on. Saved into every checkpoint and ``config.json``
    (:meth:`to_dict`: the method's parameters under ``params`` with the paper's symbols, e.g.
    ``lambda``; the network under ``model``)."""

    task: str
    method: str
    algorithm: str
    setting: str
    seed: int
    clients: tuple[str, ...]
    supervision: tuple[str, ...]
    data: str
    image_size: int
    channels: int
    rounds: int
    local_epochs: int
    batch_size: int
    crop_size: int
    flips: bool
    lr: float
    weight_decay: float
    selection: str
    selection_clients: str  # resolved: "labelled" or "all" (never "auto")
    checkpoint_every: int
    precision: str
    compile: bool
    model: ModelSpec
    params: Any  # the algorithm's Params instance
    normal_clients: tuple[str, ...] = ()  # train on the normal images (real.normal_images)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["model"] = self.model.to_dict()
        d["params"] = params_to_dict(self.params)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        d = dict(d)
        for key in ("clients", "supervision", "normal_clients"):
            if key in d:
                d[key] = tuple(d[key])
        d["model"] = model_spec(d["model"], "run config['model']")
        params_class = strategy_class(d["algorithm"], "run config['algorithm']").Params
        d["params"] = build_params(params_class, d["params"], "run config['params']")
        return cls(**d)


def method_params(config: dict, task: str, method: str) -> Any:
    """The validated ``Params`` of ``method`` on ``task`` (see the module docstring)."""
    m = config["methods"][method]
    hyper = config["tasks"][task].get("hyper", {})
    values: dict[str, Any] = {}
    for section in hyper_sections(m["algorithm"]):
        values.update(hyper.get(section, {}))
    values.update({k: v for k, v in m.items() if k not in METHOD_KEYS})
    where = f"config['methods'][{method!r}] (with config['tasks'][{task!r}]['hyper'])"
    return build_params(strategy_class(m["algorithm"], where).Params, values, where)


def run_model(config: dict, task: str) -> ModelSpec:
    """The network of ``task``: ``training.model``, with the task's ``training.model`` keys on
    top (or instead, when the task names another network)."""
    shared = config["training"].get("model", {})
    own = config["tasks"][task].get("training", {}).get("model")
    if own is None:
        return model_spec(shared, "config['training']['model']")
    same = own.get("network", shared.get("network")) == shared.get("network")
    values = {**shared, **own} if same else own
    return model_spec(values, f"config['tasks'][{task!r}]['training']['model']")


def resolve_run(config: dict, task: str, method: str, setting: str, seed: int) -> RunConfig:
    """Merge defaults, the task's overrides and the method's overrides for one run."""
    if task not in config["tasks"]:
        raise ConfigError(f"unknown task {task!r}; known tasks: {sorted(config['tasks'])}")
    if method not in config["methods"]:
        raise ConfigError(f"unknown method {method!r}; known methods: {sorted(config['methods'])}")
    t, m = config["tasks"][task], config["methods"][method]
    supervision = parse_setting(setting, len(t["clients"]))
    training = {**config["training"], **t.get("training", {})}
    for key in ("selection", "selection_clients"):
        training[key] = m.get(key, training[key])
    params = method_params(config, task, method)
    normal_rule = resolve_normal_rule(
        t.get("real", {}).get("normal_images", "auto"),
        m["algorithm"],
        getattr(params, "variant", None),
    )
    return RunConfig(
        task=task,
        method=method,
        algorithm=m["algorithm"],
        setting=setting,
        seed=int(seed),
        clients=tuple(t["clients"]),
        supervision=supervision,
        data=describe_data(t),
        image_size=t["image_size"],
        channels=t["channels"],
        rounds=training["rounds"],
        local_epochs=training["local_epochs"],
        batch_size=training["batch_size"],
        crop_size=training["crop_size"],
        flips=training["flips"],
        lr=training["lr"],
        weight_decay=m.get("weight_decay", training["weight_decay"]),
        selection=training["selection"],
        selection_clients=resolve_selection_clients(
            training["selection_clients"], training["selection"], setting, supervision
        ),
        checkpoint_every=training["checkpoint_every"],
        precision=training["precision"],
        compile=training["compile"],
        model=run_model(config, task),
        params=params,
        normal_clients=normal_image_clients(
            normal_rule, t["clients"], supervision, normal_image_source(t)
        ),
    )


def resolve_selection_clients(
    scope: str, selection: str, setting: str, supervision: tuple[str, ...]
) -> str:
    """Whose masks on the selection split choose ``best.pt``: ``labelled`` or ``all``.

    ``auto``: with ``selection: validation`` the pixel-labelled clients only, since a weakly
    labelled client has no masks to carve a validation split from; with ``selection: test``
    every client, as the original code did (optimistic either way).
    """
    if scope == "auto":
        scope = "labelled" if selection == "validation" else "all"
    if scope == "labelled" and "L" not in supervision:
        raise ConfigError(
            f"setting {setting!r} has no pixel-labelled (L) client whose validation masks could "
            "choose best.pt; set training.selection_clients: all (optimistic: it uses masks "
            "the weak clients do not have) or compare final.pt results"
        )
    return scope


def describe_data(task: dict) -> str:
    """One line saying which data a task uses, for tables and captions."""
    if task["source"] == "synthetic":
        return f"synthetic ({task['synthetic']['modality']}-like, generated by fedmix)"
    return f"real ({task['source']})"
