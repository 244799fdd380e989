"""The authors' protocol by configuration: what the shipped configs resolve to, run by run."""

from pathlib import Path

import pytest
import yaml

from fedmix.config import ConfigError, resolve_run, validate_config
from fedmix.report.tables import selection_text

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    return validate_config(yaml.safe_load((ROOT / "config" / name).read_text()))


@pytest.fixture(scope="module", params=["config.yaml", "paper.yaml"])
def config(request):
    return load(request.param)


def breast(config):
    return config["tables"]["table1"]["task"]


def test_margins_follow_each_variant_and_image_labels_stay_unused(config):
    tmi = resolve_run(config, breast(config), "fedmix-tmi", "I-B-L", 0)
    arxiv = resolve_run(config, breast(config), "fedmix-arxiv", "B-B-L", 0)
    assert (tmi.params.box_margin, tmi.params.box_margin_clamp) == (
        (1, 9),
        True,
    )  # TMI: randint(1, 10)
    assert (arxiv.params.box_margin, arxiv.params.box_margin_clamp) == (
        (2, 2),
        False,
    )  # arXiv: 2 px
    assert not tmi.params.use_image_labels and not arxiv.params.use_image_labels
    labels = resolve_run(config, breast(config), "fedmix-image-labels", "I-B-L", 0)
    assert labels.params.use_image_labels


def test_the_original_protocol_row_selects_on_every_clients_test_masks(config):
    for table, setting in (("table1", "I-B-L"), ("table2", "B-B-L-B")):
        rows = [r for r in config["tables"][table]["rows"] if r["method"] == "fedmix-tmi-original"]
        assert [r["setting"] for r in rows] == [setting]
        task = config["tables"][table]["task"]
        run = resolve_run(config, task, "fedmix-tmi-original", setting, 0)
        assert (run.selection, run.selection_clients) == ("test", "all")
        assert selection_text(run.selection, run.selection_clients) == "test (optimistic)"
        assert run.params.box_margin == (1, 9)
        default = resolve_run(config, task, "fedmix-tmi", setting, 0)
        assert (default.selection, default.selection_clients) == ("validation", "labelled")


def test_paper_breast_task_uses_the_authors_fold_and_normal_image_rules():
    paper = load("paper.yaml")
    assert paper["tasks"]["breast"]["split"]["mode"] == "original"
    assert paper["tasks"]["breast"]["split"]["fold"] == 1

    def normals(method, setting):
        return resolve_run(paper, "breast", method, setting, 0).normal_clients

    assert normals("fedmix-tmi", "I-B-L") == ()  # TMI: unlabeled clients only
    assert normals("fedmix-tmi", "U-U-L") == ("bus", "busis")
    assert normals("fedst", "U-U-L") == ("bus", "busis")
    assert normals("fedmix-arxiv", "B-B-L") == ("bus",)  # arXiv: bus in every setting
    assert normals("fedavg", "L-L-L") == ()
    assert resolve_run(paper, "skin", "fedmix-tmi", "B-B-L-B", 0).normal_clients == ()


def test_synthetic_tasks_have_no_normal_images_to_add():
    default = load("config.yaml")
    assert resolve_run(default, "synthetic-breast", "fedst", "U-U-L", 0).normal_clients == ()


def test_a_bad_margin_names_the_method_key():
    bad = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    bad["methods"]["fedmix-tmi"]["box_margin"] = [5, 2]
    with pytest.raises(ConfigError, match=r"fedmix-tmi.*box margin \[5, 2\]"):
        validate_config(bad)


@pytest.mark.parametrize(("gamma_per", "shape"), [("image", (3, 1, 1, 1)), ("batch", (1, 1, 1, 1))])
def test_fedst_gamma_is_drawn_per_image_or_per_batch_as_the_original(monkeypatch, gamma_per, shape):
    import torch

    import fedmix.methods.fedst as fedst
    from fedmix.methods import make_strategy
    from fedmix.networks import build_network

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["methods"]["fedst"]["gamma_per"] = gamma_per
    run = resolve_run(validate_config(cfg), "synthetic-breast", "fedst", "U-U-L", 0)
    seen = []
    real_shift = fedst.gamma_shift
    monkeypatch.setattr(fedst, "gamma_shift", lambda x, g: seen.append(g.shape) or real_shift(x, g))
    model = build_network(run.model, 1)
    x = torch.rand(3, 1, 24, 24)
    make_strategy(run).local_loss(model, x, None, None, torch.Generator().manual_seed(0))
    assert seen == [torch.Size(shape)]
