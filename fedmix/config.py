"""Configuration: schema validation with defaults, and the resolved settings of one run.

Flow: YAML (read by Snakemake) -> :func:`validate_config` (JSON schema draft 2020-12, fills
defaults, rejects unknown keys, checks cross-references) -> :func:`resolve_run` (plain dict for
one task/method/setting/seed) -> :class:`RunConfig` (frozen) -> explicit function arguments.
This module never reads YAML itself.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

__all__ = [
    "ALGORITHMS",
    "SUPERVISION_LETTERS",
    "ConfigError",
    "RunConfig",
    "load_schema",
    "parse_setting",
    "resolve_run",
    "validate_config",
]

SUPERVISION_LETTERS = {
    "L": "pixel masks",
    "B": "boxes",
    "I": "image-level labels",
    "U": "unlabeled",
}
ALGORITHMS = ("local", "fedavg", "fedprox", "fedst", "fedrgd", "fedmix")
VARIANTS = ("tmi", "arxiv")


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key or value and the fix."""


def load_schema() -> dict:
    text = resources.files("fedmix").joinpath("schemas/config.schema.json").read_text()
    return json.loads(text)


@functools.cache
def _validator_class():
    """Draft 2020-12 validator that fills ``default`` values while validating.

    jsonschema is imported here, not at module level: training, evaluation and the bench use
    :class:`RunConfig` only, and run where jsonschema may be absent (the GPU check machine).
    """
    import jsonschema

    validator_class = jsonschema.Draft202012Validator
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def validate_config(config: dict) -> dict:
    """Return a validated deep copy of ``config`` with every default filled in.

    Raises :class:`ConfigError` on the first problem, naming the key path and what is allowed.
    """
    config = copy.deepcopy(config)
    errors = sorted(
        _validator_class()(load_schema()).iter_errors(config), key=lambda e: list(e.path)
    )
    if errors:
        raise ConfigError(_describe(errors[0]))
    _check_references(config)
    return config


def _describe(error: jsonschema.ValidationError) -> str:
    where = "config" + "".join(f"[{p!r}]" for p in error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return (
            f"{where}: unknown key(s) {unknown}; allowed keys here are {allowed}. "
            "Fix the spelling or remove the key."
        )
    hint = "See the comments in config/config.yaml for valid values."
    if error.validator == "type" and isinstance(error.instance, str):
        hint = (
            "Values inside lists or maps given with --config arrive as text; put such "
            "overrides in a YAML file and pass it with --configfile."
        )
    return f"{where}: {error.message}. {hint}"


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


def _check_references(config: dict) -> None:
    tasks, methods = config["tasks"], config["methods"]
    for name, task in tasks.items():
        split = task["split"]
        if split["val_fraction"] + split["test_fraction"] >= 1:
            raise ConfigError(
                f"config['tasks'][{name!r}]['split']: val_fraction + test_fraction = "
                f"{split['val_fraction'] + split['test_fraction']} leaves no training data; "
                "make their sum smaller than 1"
            )
        synth = task.get("synthetic")
        if task["source"] == "synthetic":
            if synth is None:
                raise ConfigError(
                    f"config['tasks'][{name!r}]: source is synthetic but no "
                    "'synthetic' block is given"
                )
            if set(synth["clients"]) != set(task["clients"]):
                raise ConfigError(
                    f"config['tasks'][{name!r}]['synthetic']['clients'] names "
                    f"{sorted(synth['clients'])} but the task's clients are {task['clients']}"
                )
            _check_modality_keys(name, synth)
        crop = task.get("training", {}).get("crop_size", config["training"]["crop_size"])
        if crop > task["image_size"]:
            raise ConfigError(
                f"config['tasks'][{name!r}]: crop_size {crop} exceeds "
                f"image_size {task['image_size']}; lower crop_size"
            )
    for name, method in methods.items():
        if method["algorithm"] == "fedmix" and "variant" not in method:
            raise ConfigError(
                f"config['methods'][{name!r}]: fedmix needs variant: one of {VARIANTS}"
            )
    for tname, table in config["tables"].items():
        if table["task"] not in tasks:
            raise ConfigError(
                f"config['tables'][{tname!r}]['task'] = {table['task']!r} is not a "
                f"task; known tasks: {sorted(tasks)}"
            )
        n_clients = len(tasks[table["task"]]["clients"])
        for i, row in enumerate(table["rows"]):
            if row["method"] not in methods:
                raise ConfigError(
                    f"config['tables'][{tname!r}]: method {row['method']!r} is not "
                    f"defined under methods; known: {sorted(methods)}"
                )
            try:
                parse_setting(row["setting"], n_clients)
            except ConfigError as err:
                raise ConfigError(f"config['tables'][{tname!r}]['rows'][{i}]: {err}") from None


# Synthetic client keys that only one modality uses.
_MODALITY_KEYS = {"posterior": "ultrasound", "hair": "dermoscopy"}


def _check_modality_keys(task: str, synth: dict) -> None:
    for client, params in synth["clients"].items():
        for key, modality in _MODALITY_KEYS.items():
            if key in params and synth["modality"] != modality:
                raise ConfigError(
                    f"config['tasks'][{task!r}]['synthetic']['clients'][{client!r}]: {key!r} "
                    f"applies to {modality} only, but the modality is {synth['modality']!r}; "
                    f"remove {key!r}"
                )


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything one training run depends on. Saved into every checkpoint and ``config.json``."""

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
    width: int
    levels: int
    selection: str
    checkpoint_every: int
    precision: str
    variant: str | None = None
    lam: float = 10.0
    beta: float = 1.5
    tau: float = 0.9
    box_tau: float = 0.5
    adaptive_weights: bool = True
    box_refinement: bool = True
    use_image_labels: bool = True
    mu: float = 0.0
    warmup_fraction: float = 0.5
    labelled_weight: float = 0.9
    confidence: float = 0.9
    compile: bool = False
    selection_clients: str = "labelled"  # resolved: "labelled" or "all" (never "auto")
    classes: tuple[str, ...] = ()  # multi-class task: class names (mask value k + 1); () binary
    class_dice: str = "batch"  # multi-class soft Dice per channel over the batch | sample

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        d = dict(d)
        for key in ("clients", "supervision", "classes"):
            d[key] = tuple(d.get(key, ()))
        return cls(**d)


def resolve_run(config: dict, task: str, method: str, setting: str, seed: int) -> RunConfig:
    """Merge defaults, the task's overrides and the method's overrides for one run."""
    if task not in config["tasks"]:
        raise ConfigError(f"unknown task {task!r}; known tasks: {sorted(config['tasks'])}")
    if method not in config["methods"]:
        raise ConfigError(f"unknown method {method!r}; known methods: {sorted(config['methods'])}")
    t, m = config["tasks"][task], config["methods"][method]
    supervision = parse_setting(setting, len(t["clients"]))
    training = {**config["training"], **t.get("training", {})}
    model = {**config["training"]["model"], **training.pop("model", {})}
    algorithm = m["algorithm"]
    hyper = {**t["hyper"]["fedmix"]}
    hyper.update(t["hyper"]["fedst"])
    if algorithm == "fedrgd":  # FedRGD is FedST with its own labelled_weight
        hyper.update(t["hyper"]["fedrgd"])
    for key in ("lambda", "beta", "tau", "box_tau", "mu", "warmup_fraction", "labelled_weight"):
        if key in m:
            hyper[key] = m[key]
    return RunConfig(
        task=task,
        method=method,
        algorithm=algorithm,
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
        width=model["width"],
        levels=model["levels"],
        selection=training["selection"],
        checkpoint_every=training["checkpoint_every"],
        precision=training["precision"],
        variant=m.get("variant"),
        lam=hyper["lambda"],
        beta=hyper["beta"],
        tau=hyper["tau"],
        box_tau=hyper.get("box_tau", 0.5),
        adaptive_weights=m.get("adaptive_weights", True),
        box_refinement=m.get("box_refinement", True),
        use_image_labels=m.get("use_image_labels", True),
        mu=hyper.get("mu", 0.0),
        warmup_fraction=hyper.get("warmup_fraction", 0.5),
        labelled_weight=hyper.get("labelled_weight", 0.9),
        confidence=hyper.get("confidence", 0.9),
        compile=training["compile"],
        selection_clients=resolve_selection_clients(
            training["selection_clients"], training["selection"], setting, supervision
        ),
        classes=tuple(t.get("classes", ())),
        class_dice=t["class_dice"],
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
