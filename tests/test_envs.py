"""envs/*.yaml cannot be solved here (no conda); check them statically against constraints.txt."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[name.lower().replace("_", "-")] = version
    return out


def test_conda_env_pins_every_package_to_the_tested_version():
    constraints = pins((ROOT / "constraints.txt").read_text().splitlines())
    for path in (ROOT / "envs").glob("*.yaml"):
        env = yaml.safe_load(path.read_text())
        assert env["channels"][0] == "conda-forge", path
        pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
        assert pip, f"{path}: no pip packages"
        for spec in pip:
            assert "==" in spec, f"{path}: {spec!r} is not pinned"
            name, version = next(iter(pins([spec]).items()))
            assert constraints.get(name) == version, (
                f"{path}: {name}=={version} but constraints.txt pins {constraints.get(name)}"
            )
