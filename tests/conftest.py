"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny networks on one torch thread, restoring the count afterwards.

    Small models gain nothing from intra-op threads, and on a busy machine OpenMP's spinning
    threads make them 10-100x slower; results do not depend on it. Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
