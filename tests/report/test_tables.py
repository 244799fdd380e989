import json

import pytest

from fedmix.report.results import read_csv_rows
from fedmix.report.tables import build_table, selection_text, table_columns

CLIENTS = ["a", "b", "c"]
TASK = {"clients": CLIENTS, "source": "synthetic"}
SPEC = {
    "task": "toy",
    "rows": [
        {"method": "fedavg", "setting": "U-U-L", "label": "FedAvg"},
        {"method": "fedmix-tmi", "setting": "I-B-L", "label": "FedMix"},
    ],
}
# Dice per (method, seed) and client; IoU = Dice / 2, HD95 = 10 (1 - Dice), lesion = Dice + 0.1.
DICE = {
    ("fedavg", 0): [0.4, 0.5, 0.9],
    ("fedavg", 1): [0.6, 0.5, 0.7],
    ("fedmix-tmi", 0): [0.7, 0.8, 0.9],
    ("fedmix-tmi", 1): [0.5, 0.6, 0.7],
}
ONE_EMPTY = {0: [1, 0, 2], 1: [1, 1, 1]}


def _tree(tmp_path, fake_run, selection="validation"):
    csvs = []
    for row in SPEC["rows"]:
        for seed in (0, 1):
            metrics = {
                c: dict(
                    dice=d, iou=d / 2, hd95=10 * (1 - d), dice_lesion=d + 0.1,
                    n_one_empty=ONE_EMPTY[seed][i],
                )
                for i, (c, d) in enumerate(zip(CLIENTS, DICE[(row["method"], seed)], strict=True))
            }  # fmt: skip
            run = fake_run(
                tmp_path, "toy", row["method"], row["setting"], seed, metrics,
                best_round=5 + seed, selection=selection,
            )  # fmt: skip
            csvs.append(run / "eval_best_clients.csv")
    return csvs


def _build(tmp_path, csvs, out="out", seeds=(0, 1)):
    paths = [tmp_path / out / f"t.{ext}" for ext in ("csv", "md", "tex")]
    rows = build_table("table9", SPEC, TASK, list(seeds), csvs, *paths)
    return rows, paths


def test_means_and_stds_match_hand_computation(tmp_path, fake_run):
    _, (csv_path, _, _) = _build(tmp_path, _tree(tmp_path, fake_run))
    fedavg, fedmix = read_csv_rows(csv_path, ())
    assert [fedavg["label"], fedmix["label"]] == ["FedAvg", "FedMix"]  # spec order
    # client a: seeds 0.4, 0.6 -> mean 0.5, std |0.2| / sqrt(2) = 0.14142
    assert (fedavg["dice_a"], fedavg["dice_a_std"]) == ("0.5000", "0.1414")
    assert (fedavg["dice_b"], fedavg["dice_b_std"]) == ("0.5000", "0.0000")
    # per-seed client means 0.6 and 0.6 -> avg 0.6, std 0
    assert (fedavg["dice_avg"], fedavg["dice_avg_std"]) == ("0.6000", "0.0000")
    # fedmix: per-seed means 0.8 and 0.6 -> 0.7 +- 0.1414
    assert (fedmix["dice_avg"], fedmix["dice_avg_std"]) == ("0.7000", "0.1414")
    # the final-round model is 0.05 lower on every client (conftest.FINAL_DICE_DROP)
    assert (fedmix["dice_avg_final"], fedmix["dice_avg_final_std"]) == ("0.6500", "0.1414")
    assert (fedmix["iou_avg"], fedmix["iou_avg_std"]) == ("0.3500", "0.0707")
    assert (fedavg["hd95_c"], fedavg["hd95_avg"]) == ("2.0000", "4.0000")
    assert fedmix["dice_lesion_avg"] == "0.8000"
    assert fedavg["n_one_empty"] == "3.00"  # 3 per seed, summed over clients
    assert fedmix["variant"] == "tmi" and fedavg["variant"] == ""
    assert (fedavg["seeds"], fedavg["best_round"], fedavg["rounds"]) == ("0,1", "5,6", "10")
    assert fedavg["selection"] == "validation (L clients)" and fedavg["data"] == "synthetic (toy)"


def test_columns_cover_every_client_and_metric(tmp_path, fake_run):
    _, (csv_path, _, _) = _build(tmp_path, _tree(tmp_path, fake_run))
    header = csv_path.read_text().splitlines()[0].split(",")
    assert header == table_columns(CLIENTS)
    for m in ("dice", "iou", "hd95"):
        for c in [*CLIENTS, "avg"]:
            assert f"{m}_{c}" in header and f"{m}_{c}_std" in header
    for col in ("label", "method", "setting", "variant", "seeds", "data", "selection"):
        assert col in header


def test_rebuild_is_byte_identical(tmp_path, fake_run):
    csvs = _tree(tmp_path, fake_run)
    _, first = _build(tmp_path, csvs, "one")
    _, second = _build(tmp_path, list(reversed(csvs)), "two")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_renderings_carry_caption_with_data_and_protocol(tmp_path, fake_run):
    _, (_, md, tex) = _build(tmp_path, _tree(tmp_path, fake_run))
    for text in (md.read_text(), tex.read_text()):
        assert "synthetic (toy)" in text and "10 rounds" in text and "validation" in text
    # dice a, b, c, then the average over clients: 0.700 +- 0.141
    assert "| FedMix | I-B-L | 0.600 ± 0.141 | 0.700 ± 0.141 | 0.800 ± 0.141 | 0.700 ± 0.141 |" in (
        md.read_text()
    )
    assert md.read_text().startswith("**Table 9 (toy).")
    assert "\\caption{" in tex.read_text() and "0.700 $\\pm$ 0.141" in tex.read_text()


def test_test_selection_is_flagged_optimistic(tmp_path, fake_run):
    rows, (_, md, _) = _build(tmp_path, _tree(tmp_path, fake_run, selection="test"))
    assert {r["selection"] for r in rows} == {"test (optimistic)"}
    assert "optimistic" in md.read_text()


def test_missing_run_is_named(tmp_path, fake_run):
    csvs = _tree(tmp_path, fake_run)
    with pytest.raises(ValueError, match=r"results/<experiment>/: .*toy/fedavg/U-U-L/seed2/eval_b"):
        _build(tmp_path, csvs, seeds=(0, 1, 2))
    with pytest.raises(ValueError, match="fedmix-tmi/I-B-L/seed0"):
        _build(tmp_path, [p for p in csvs if "fedmix-tmi/I-B-L/seed0" not in str(p)])


def test_client_mismatch_is_an_error(tmp_path, fake_run):
    csvs = _tree(tmp_path, fake_run)
    task = {"clients": ["a", "b", "z"]}
    with pytest.raises(ValueError, match="has clients"):
        build_table("t", SPEC, task, [0, 1], csvs, *(tmp_path / f"x.{e}" for e in "abc"))


def test_precision_comes_from_each_run_and_mixed_seeds_are_shown(tmp_path, fake_run):
    csvs = _tree(tmp_path, fake_run)
    seed1 = csvs[1].parent / "config.json"  # fedavg seed 1: say it trained in bf16
    cfg = json.loads(seed1.read_text())
    seed1.write_text(json.dumps(cfg | {"runtime": cfg["runtime"] | {"precision": "bf16"}}))
    rows, (_, md, _) = _build(tmp_path, csvs)
    assert [r["precision"] for r in rows] == ["bf16+fp32", "fp32"]
    assert "trained in bf16+fp32 / fp32" in md.read_text()


def test_run_without_runtime_record_is_refused_naming_it(tmp_path, fake_run):
    csvs = _tree(tmp_path, fake_run)
    path = csvs[2].parent / "config.json"  # fedmix-tmi seed 0
    cfg = json.loads(path.read_text())
    del cfg["runtime"]
    path.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"fedmix-tmi I-B-L seed 0.*runtime\.precision"):
        _build(tmp_path, csvs)


@pytest.mark.parametrize(
    ("selection", "scope", "text"),
    [
        ("validation", "labelled", "validation (L clients)"),
        ("validation", "all", "validation, all clients (optimistic)"),
        ("test", "all", "test (optimistic)"),
        ("test", "labelled", "test, L clients (optimistic)"),
    ],
)
def test_selection_text_flags_every_optimistic_choice(selection, scope, text):
    assert selection_text(selection, scope) == text


def test_rows_selected_on_weak_clients_masks_are_flagged(tmp_path, fake_run):
    csvs = _tree(tmp_path, fake_run)
    for csv_path in csvs:
        path = csv_path.parent / "config.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"selection_clients": "all"}))
    rows, (_, md, _) = _build(tmp_path, csvs)
    assert {r["selection"] for r in rows} == {"validation, all clients (optimistic)"}
    assert "masks a weakly labelled client does not have are optimistic" in md.read_text()


def test_a_fold_sweep_pools_every_fold_and_seed(tmp_path, fake_run):
    """Two fold tasks x one seed each: mean and std over the four (fold, seed) runs of a row."""
    csvs = []
    dice = {
        ("toy-fold1", 0): 0.4,
        ("toy-fold1", 1): 0.6,
        ("toy-fold2", 0): 0.8,
        ("toy-fold2", 1): 1.0,
    }
    for (task, seed), d in dice.items():
        metrics = {c: dict(dice=d, iou=d, hd95=0.0, dice_lesion=d, n_one_empty=0) for c in CLIENTS}
        run = fake_run(tmp_path, task, "fedavg", "U-U-L", seed, metrics)
        csvs.append(run / "eval_best_clients.csv")
    spec = {"task": "toy", "rows": [SPEC["rows"][0]]}
    paths = [tmp_path / "out" / f"t.{ext}" for ext in ("csv", "md", "tex")]
    (row,) = build_table("t", spec, TASK, [0, 1], csvs, *paths, tasks=["toy-fold1", "toy-fold2"])
    # 0.4, 0.6, 0.8, 1.0 -> mean 0.7, sample std sqrt(0.2 / 3) = 0.2582
    assert (row["dice_avg"], row["dice_avg_std"]) == ("0.7000", "0.2582")
    assert row["seeds"] == "0,1 x toy-fold1,toy-fold2"
    with pytest.raises(ValueError, match="toy-fold3/fedavg/U-U-L/seed0"):
        build_table("t", spec, TASK, [0], csvs, *paths, tasks=["toy-fold3"])


def test_a_tables_note_ends_its_captions(tmp_path, fake_run):
    spec = {**SPEC, "note": "Ablations chosen here; no published values."}
    paths = [tmp_path / "n" / f"t.{ext}" for ext in ("csv", "md", "tex")]
    build_table("table3", spec, TASK, [0, 1], _tree(tmp_path, fake_run), *paths)
    assert "Ablations chosen here; no published values." in paths[1].read_text()
    assert "Ablations chosen here; no published values." in paths[2].read_text()
