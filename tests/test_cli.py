import re
import subprocess
import sys
import tomllib
from pathlib import Path

import fedmix
from fedmix.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fedmix", *args], capture_output=True, text=True, timeout=120
    )


def test_python_dash_m_prints_the_version_of_the_package():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert fedmix.__version__ == version
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"fedmix {version}"


def test_help_is_plain_text_and_every_bench_option_is_explained():
    parser = build_parser()
    text = parser.format_help()
    assert not re.search(r"``|:mod:|:func:", text), text
    assert "snakemake help" in text and "bench" in text and "compare-paths" in text
    subparsers = next(a for a in parser._actions if a.choices and "bench" in a.choices)
    for name in ("bench", "compare-paths"):
        sub = subparsers.choices[name]
        for action in sub._actions:
            assert action.help and "override" not in action.help, (name, action.option_strings)
