"""FedMix on Flower's deployment engine: a SuperLink and three SuperNodes on 127.0.0.1, with TLS
and SuperNode authentication, against the simulation loop on the same tiny federation.

The two federation tests share one set of real Flower processes (fedmix.flower.loopback), which
are stopped by pid at the end of the module. Wall time is mostly process start-up: every Flower
message runs the ClientApp in a fresh process that imports torch. Measured on the project's
2-core VM while other jobs kept its load average at 15-19 (importing torch alone took 17 s
there), each test in its own federation then: 378 s for the parity test, 400 s for the fault
test, which also waits for Flower to declare the killed SuperNode gone (two missed 30 s
heartbeats, 58 s measured).
"""

from __future__ import annotations

import csv
import json
import math
import time

import pytest
import torch
from tinyfed import CLIENTS, tiny_run, write_tiny_task

from fedmix import train
from fedmix.aggregation import fedmix_weights
from fedmix.checkpoint import load_checkpoint
from fedmix.flower.client_app import SiteConfig
from fedmix.flower.credentials import write_tls_credentials
from fedmix.flower.loopback import LoopbackFederation
from fedmix.flower.records import decode_reply, decode_request, encode_reply, encode_request
from fedmix.methods import ClientStats

RUN_TIMEOUT = 600  # seconds; a loaded CI machine is far slower than an idle one


def _sites(train_files, val_files, letters):
    return {
        c: {"site": c, "supervision": s, "train-file": t, "selection-file": v}
        for c, s, t, v in zip(CLIENTS, letters, train_files, val_files, strict=True)
    }


def _history(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _wait(fed, proc, what, done, timeout=RUN_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        if proc.poll() is not None and not done():
            break
        time.sleep(0.5)
    logs = {n: fed.log_text(n)[-3000:] for n in ("flwr-run", "superlink")}
    raise AssertionError(f"{what} did not happen; logs:\n{json.dumps(logs, indent=1)}")


def _flower_run(fed, run, tmp_path, **extra):
    config_path = tmp_path / "run.json"
    config_path.write_text(json.dumps(run.to_dict()))
    out = tmp_path / "flower"
    proc = fed.run({"run-config": str(config_path), "out-dir": str(out), **extra})
    return proc, out


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    """One SuperLink and three SuperNodes (TLS, node authentication) for this module's runs:
    starting them is most of a test's wall time, so the two runs share them."""
    root = tmp_path_factory.mktemp("flower")
    tr, val, _ = write_tiny_task(root / "data", setting="I-B-L")
    run = tiny_run()
    with LoopbackFederation(root / "fed", _sites(tr, val, run.supervision)) as fed:
        yield fed, run, tr, val


def test_flower_fedmix_equals_the_simulation_bit_for_bit(tmp_path, federation):
    fed, run, tr, val = federation
    train.train_run(run, tr, val, tmp_path / "sim")
    proc, out = _flower_run(fed, run, tmp_path)
    _wait(fed, proc, "the Flower run", lambda: (out / "config.json").exists())
    proc.wait(timeout=60)
    link_log = fed.log_text("superlink")
    assert "Uvicorn running on https://" in link_log  # TLS was on
    assert "SuperNode authentication is disabled" not in link_log  # and node keys checked

    sim = load_checkpoint(tmp_path / "sim/final.pt", run)["models"]
    fl = load_checkpoint(out / "final.pt", run)["models"]
    assert sorted(fl) == sorted(sim) == ["global", "global#stream2"]  # both FedMix streams
    for key in sim:
        for name, tensor in sim[key].items():
            assert torch.equal(fl[key][name], tensor), (key, name)
    # Same per-round n_i, l_i, w_i and validation Dice, in the simulation's format.
    assert _history(out / "history.csv") == _history(tmp_path / "sim/history.csv")
    assert (
        load_checkpoint(out / "best.pt", run)["round"]
        == json.loads((tmp_path / "sim/config.json").read_text())["best_round"]
    )


def test_a_site_killed_in_round_2_is_renormalised_away_and_rejoins(tmp_path, federation):
    fed, run, _, _ = federation
    victim = "b"
    node = f"node-{victim}"
    seen = fed.log_text(node).count("ROUND 2]")  # an earlier run's round 2, if any
    proc, out = _flower_run(fed, run, tmp_path, **{"rejoin-wait": 300})
    _wait(fed, proc, "round 2 reaching site b", lambda: fed.log_text(node).count("ROUND 2]") > seen)
    fed.kill_node(victim)  # before its round-2 reply: training takes seconds
    log = out / "flower.log"
    _wait(fed, proc, "round 2 ending", lambda: "round 2: n " in log.read_text())
    fed.start_node(victim)
    _wait(fed, proc, "the Flower run", lambda: (out / "config.json").exists())
    proc.wait(timeout=60)
    assert "round 2: nodes [" in log.read_text()  # Flower reported the site gone

    rows = {(int(r["round"]), r["client"]): r for r in _history(out / "history.csv")}
    assert int(rows[2, victim]["n_samples"]) == 0 and float(rows[2, victim]["weight"]) == 0
    others = [float(rows[2, c]["weight"]) for c in CLIENTS if c != victim]
    assert min(others) > 0 and sum(others) == pytest.approx(1, abs=1e-6)
    # Renormalised FedMix weights over the two sites that answered, from their n_i and l_i.
    n = [int(rows[2, c]["n_samples"]) for c in CLIENTS if c != victim]
    losses = [float(rows[2, c]["train_loss"]) for c in CLIENTS if c != victim]
    expect = fedmix_weights(n, losses, run.params.lambda_, run.params.beta)
    assert others == pytest.approx(expect.tolist(), abs=2e-6)  # history keeps 6 decimals
    # The restarted SuperNode rejoined: site b answered round 3 (and validated round 2's model).
    assert f"round 3: answers from {list(CLIENTS)}" in log.read_text()
    assert rows[2, victim]["val_dice"] != ""
    assert sum(float(rows[3, c]["weight"]) for c in CLIENTS) == pytest.approx(1, abs=1e-5)
    final = load_checkpoint(out / "final.pt", run)["models"]
    assert all(torch.isfinite(t).all() for sd in final.values() for t in sd.values())


def test_credentials_name_the_superlink_host(tmp_path):
    from cryptography import x509

    paths = write_tls_credentials(tmp_path, "10.0.0.7")
    cert = x509.load_pem_x509_certificate(paths["server_cert"].read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.0.0.7" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    assert paths["server_key"].stat().st_mode & 0o077 == 0  # private key not group-readable


def test_a_reply_holds_only_site_statistics_and_weights():
    run = tiny_run()
    models = [train.new_model(run, torch.device("cpu")) for _ in range(2)]
    content = encode_reply("b", ClientStats(3, 0.5, 8, 0.6), 0.7, models)
    assert sorted(content) == ["metrics", "site", "stream1", "stream2"]
    assert dict(content["metrics"]) == {
        "n_samples": 3, "n_train": 8, "loss": 0.5, "loss2": 0.6, "val_dice": 0.7
    }  # fmt: skip
    got = decode_reply(content, streams=2)
    assert (got.site, got.stats, got.val_dice) == ("b", ClientStats(3, 0.5, 8, 0.6), 0.7)
    assert torch.equal(got.states[1]["head.weight"], models[1].state_dict()["head.weight"])
    skipped = encode_reply("b", ClientStats(0, math.nan, 8), math.nan, models)
    assert sorted(skipped) == ["metrics", "site"]  # nothing trained: no weights sent


def test_a_site_refuses_a_run_that_gives_it_other_labels():
    run = tiny_run()  # a: I, b: B, c: L
    site = SiteConfig.from_node_config({"site": "b", "supervision": "L", "train-file": "x.h5"})
    with pytest.raises(ValueError, match="trains site 'b' as 'B' but this site holds 'L'"):
        site.index_in(run)
    with pytest.raises(ValueError, match="lacks \\['train-file'\\]"):
        SiteConfig.from_node_config({"site": "b", "supervision": "B"})
    with pytest.raises(ValueError, match="unknown node config keys \\['mask-file'\\]"):
        SiteConfig.from_node_config(
            {"site": "b", "supervision": "B", "train-file": "x", "mask-file": "m"}
        )


def test_insecure_mode_must_be_asked_for_and_warns(tmp_path):
    with pytest.warns(UserWarning, match="INSECURE Flower federation"):
        LoopbackFederation(tmp_path, {}, insecure=True)
    assert LoopbackFederation(tmp_path, {}).insecure is False


def test_a_site_imports_no_plug_in_method_it_did_not_allow():
    run = tiny_run()
    content = encode_request(run, 0, False, [])
    d = json.loads(content["request"]["run"])
    content["request"]["run"] = json.dumps(d | {"algorithm": "os:system"})
    with pytest.raises(ValueError, match="plug-in method 'os:system', which this site does not"):
        decode_request(content)
    assert decode_request(encode_request(run, 2, True, [])) == (run, 2, True)
