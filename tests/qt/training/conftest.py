"""Training-panel tests run real (tiny) training on the CPU.

With other test processes sharing the 2 cores, torch's default of one intra-op thread per core
makes each batch several times slower (threads spin waiting for each other), so these tests
use one thread.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    torch.set_num_threads(1)
