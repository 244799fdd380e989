"""BUSI normal images: who trains on them under each rule, per setting, and with which labels."""

import pytest
import torch

from fedmix.clients import ClientData
from fedmix.data.normals import (
    append_normals,
    normal_image_clients,
    normal_image_source,
    resolve_normal_rule,
)

CLIENTS = ("bus", "busis", "udiat")


def who(rule, setting):
    return normal_image_clients(rule, CLIENTS, setting.split("-"), "bus")


def test_tmi_rule_gives_them_to_every_unlabeled_client():
    assert who("tmi", "U-U-L") == ("bus", "busis")
    assert who("tmi", "I-B-L") == ()  # FedMix (TMI): no U client, no normals
    assert who("tmi", "B-B-L") == () and who("tmi", "L-L-L") == ()
    assert who("tmi", "I-U-L") == ("busis",)


def test_arxiv_rule_gives_them_to_bus_in_every_setting():
    for setting in ("B-B-L", "U-U-L", "L-L-L", "I-B-L"):
        assert who("arxiv", setting) == ("bus",)


def test_none_and_a_task_without_normals_add_nothing():
    assert who("none", "U-U-L") == ()
    assert normal_image_clients("tmi", CLIENTS, ("U", "U", "L"), None) == ()


def test_auto_follows_each_variants_code():
    assert resolve_normal_rule("auto", "fedmix", "arxiv") == "arxiv"
    assert resolve_normal_rule("auto", "fedmix", "tmi") == "tmi"
    assert resolve_normal_rule("auto", "fedavg", None) == "tmi"
    assert resolve_normal_rule("arxiv", "fedavg", None) == "arxiv"
    assert resolve_normal_rule("all", "fedmix", "tmi") == "none"  # already split with the rest
    with pytest.raises(ValueError, match="normal_images 'unlabelled'"):
        resolve_normal_rule("unlabelled", "fedmix", "tmi")


@pytest.mark.parametrize("sup", ["L", "B", "I", "U"])
def test_appended_normals_carry_the_empty_label_of_the_clients_level(sup):
    images = torch.full((2, 1, 4, 4), 7, dtype=torch.uint8)
    one = torch.ones(2, 4, 4, dtype=torch.uint8)
    data = ClientData(
        "bus",
        sup,
        images,
        masks=one if sup == "L" else None,
        box_masks=one.bool() if sup == "B" else None,
        lesion=torch.ones(2, dtype=torch.uint8) if sup == "I" else None,
    )
    normals = torch.full((3, 1, 4, 4), 9, dtype=torch.uint8)
    out = append_normals(data, normals)
    assert out.n_train == 5 and out.images[2:].eq(9).all() and out.images[:2].eq(7).all()
    for field in ("masks", "box_masks", "lesion"):
        before, after = getattr(data, field), getattr(out, field)
        if before is None:
            assert after is None, field  # a weak client never gains masks
        else:
            assert after.shape[0] == 5 and after[:2].bool().all() and not after[2:].any()


def test_normals_of_another_size_are_refused():
    data = ClientData("bus", "U", torch.zeros(1, 1, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="do not match client 'bus'"):
        append_normals(data, torch.zeros(1, 1, 8, 8, dtype=torch.uint8))


def test_only_the_busi_client_of_a_real_breast_task_holds_normals():
    breast = {"source": "breast", "clients": list(CLIENTS), "real": {"normal_images": "auto"}}
    assert normal_image_source(breast) == "bus"
    assert normal_image_source({**breast, "real": {"normal_images": "none"}}) is None
    assert normal_image_source({**breast, "real": {"normal_images": "all"}}) is None
    assert normal_image_source({"source": "synthetic", "clients": list(CLIENTS)}) is None
    skin = {"source": "ham10000", "clients": ["rosendahl", "vienna_dias"]}
    assert normal_image_source(skin) is None
