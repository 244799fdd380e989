import copy
from pathlib import Path

import pytest
import yaml

from fedmix.config import ConfigError, parse_setting, resolve_run, validate_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
TINY = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())


def _broken(edit):
    config = copy.deepcopy(DEFAULT)
    edit(config)
    return config


@pytest.mark.parametrize("config", [DEFAULT, TINY], ids=["default", "tiny"])
def test_shipped_configs_validate(config):
    validated = validate_config(config)
    assert validated["tasks"]["synthetic-breast"]["clients"] == ["bus", "busis", "udiat"]
    assert validated["runtime"]["device"] in ("auto", "cpu")
    assert validated["training"]["crop_size"] <= validated["tasks"]["synthetic-skin"]["image_size"]


def test_tiny_config_keeps_the_default_tasks_methods_and_tables():
    assert TINY["methods"] == DEFAULT["methods"] and TINY["tables"] == DEFAULT["tables"]
    for name, task in DEFAULT["tasks"].items():
        assert TINY["tasks"][name]["clients"] == task["clients"]
        assert TINY["tasks"][name]["synthetic"]["modality"] == task["synthetic"]["modality"]


def test_defaults_are_filled_without_touching_the_input():
    minimal = {k: DEFAULT[k] for k in ("experiment", "tasks", "methods", "tables")}
    before = copy.deepcopy(minimal)
    config = validate_config(minimal)
    assert minimal == before
    assert config["seeds"] == [0, 1, 2] and config["runtime"] == {"device": "auto", "gpu_slots": 0}
    assert config["training"]["rounds"] == 64
    assert config["tasks"]["synthetic-skin"]["split"]["mode"] == "grouped"
    # Method and network defaults come from their dataclasses when a run is resolved.
    run = resolve_run(config, "synthetic-skin", "fedst", "U-U-L-U", 0)
    assert run.model.to_dict() == {"network": "unet", "width": 8, "levels": 3}
    assert run.params.warmup_fraction == 0.5


@pytest.mark.parametrize(
    ("edit", "where", "key"),
    [
        (lambda c: c.update(bogus=1), "config:", "bogus"),
        (lambda c: c["training"]["model"].update(depth=4), "['model']", "depth"),
        (
            lambda c: c["tasks"]["synthetic-breast"]["synthetic"]["clients"]["bus"].update(
                nosie=0.1
            ),
            "['bus']",
            "nosie",
        ),
        (lambda c: c["tables"]["table1"]["rows"][0].update(lable="x"), "['rows'][0]", "lable"),
    ],
)
def test_unknown_keys_are_named(edit, where, key):
    with pytest.raises(ConfigError, match="unknown key") as err:
        validate_config(_broken(edit))
    assert where in str(err.value) and repr(key) in str(err.value)


def test_setting_of_wrong_length_is_rejected():
    config = _broken(lambda c: c["tables"]["table1"]["rows"][0].update(setting="I-B"))
    with pytest.raises(ConfigError, match=r"\['table1'\]\['rows'\]\[0\].*2 letter.*3 client"):
        validate_config(config)


def test_setting_with_unknown_letter_is_rejected():
    config = _broken(lambda c: c["tables"]["table1"]["rows"][0].update(setting="I-X-L"))
    with pytest.raises(ConfigError, match="'I-X-L'"):
        validate_config(config)
    with pytest.raises(ConfigError, match=r"\['X'\].*\['B', 'I', 'L', 'U'\]"):
        parse_setting("I-X-L")


def test_held_out_fractions_must_leave_training_data():
    config = _broken(
        lambda c: c["tasks"]["synthetic-breast"].update(
            split={"val_fraction": 0.5, "test_fraction": 0.5}
        )
    )
    with pytest.raises(ConfigError, match="leaves no training data"):
        validate_config(config)


def test_modality_specific_key_is_rejected_at_load_time():
    config = _broken(
        lambda c: c["tasks"]["synthetic-skin"]["synthetic"]["clients"]["rosendahl"].update(
            posterior="shadow"
        )
    )
    with pytest.raises(ConfigError, match="'posterior' applies to ultrasound only"):
        validate_config(config)


def test_fedrgd_inherits_fedst_settings_but_keeps_its_own_weight():
    def edit(c):
        c["tasks"]["synthetic-breast"]["hyper"]["fedst"] = {"warmup_fraction": 0.3}

    config = validate_config(_broken(edit))
    fedrgd = resolve_run(config, "synthetic-breast", "fedrgd", "U-U-L", 0)
    fedst = resolve_run(config, "synthetic-breast", "fedst", "U-U-L", 0)
    assert fedrgd.params.warmup_fraction == fedst.params.warmup_fraction == 0.3
    assert fedrgd.params.labelled_weight == 0.5 and fedst.params.labelled_weight == 0.9


def test_numbers_given_as_text_get_a_hint_about_configfile():
    config = copy.deepcopy(DEFAULT)
    config["seeds"] = ["0"]  # what `snakemake --config seeds=[0]` produces
    with pytest.raises(ConfigError, match=r"config\['seeds'\]\[0\].*--configfile"):
        validate_config(config)


@pytest.mark.parametrize(
    ("selection", "scope", "setting", "resolved"),
    [
        ("validation", "auto", "I-B-L", "labelled"),  # weak clients have no masks to select on
        ("test", "auto", "I-B-L", "all"),  # the original's choice, flagged optimistic
        ("validation", "all", "I-B-L", "all"),
        ("test", "labelled", "U-U-L", "labelled"),
    ],
)
def test_selection_clients_resolve_to_labelled_or_all(selection, scope, setting, resolved):
    def edit(c):
        c["training"] |= {"selection": selection, "selection_clients": scope}

    run = resolve_run(validate_config(_broken(edit)), "synthetic-breast", "fedavg", setting, 0)
    assert run.selection_clients == resolved


def test_selection_on_labelled_clients_needs_one():
    config = validate_config(DEFAULT)
    with pytest.raises(ConfigError, match=r"'U-U-U' has no pixel-labelled.*selection_clients: all"):
        resolve_run(config, "synthetic-breast", "fedavg", "U-U-U", 0)


def test_paper_ablation_without_selection_turns_off_both_thresholds():
    paper = validate_config(yaml.safe_load((ROOT / "config" / "paper.yaml").read_text()))
    for config in (paper, validate_config(DEFAULT)):
        task = next(iter(config["tasks"]))
        run = resolve_run(config, task, "fedmix-no-selection", "I-B-L", 0)
        assert (run.params.tau, run.params.box_tau) == (0.0, 0.0)
