"""Shared fixtures."""

from __future__ import annotations

import pytest
import torch
from tinyfed import write_tiny_task

torch.set_num_threads(1)


@pytest.fixture
def tiny_task(tmp_path):
    def make(setting="I-B-L", **kw):
        return write_tiny_task(tmp_path / "data", setting=setting, **kw)

    return make
