"""Unattended execution (nbclient, ``jupyter nbconvert --execute``, papermill) needs no setting.

A refresh of a progress bar in a notebook is a burst of widget messages on the kernel's IOPub
channel. An unattended client on a loaded machine reads them more slowly than a kernel with
many fast-refreshing bars sends them; ZeroMQ then drops messages beyond its high-water mark
(nbclient warns "Timeout waiting for IOPub output"; one run of notebook 02 once waited for
20 minutes). The project's bars (``jetad_utils._core.progress_bar``, used by every long loop)
therefore refresh at most every ``PROGRESS_MININTERVAL`` seconds unless ``TQDM_MININTERVAL``
says otherwise, so no run depends on that variable. ``make test`` executes every notebook
without it; this test counts the messages a kernel sends for bars that run for seconds, as a
training's epochs or a generation's chunks do, against tqdm's default (10 refreshes a second).
"""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.integration   # real Pythia runs, processes, servers or mounts: not in make test-unit


LOOP = ("import time\nfor j in range(4):\n    b = make_bar(300)\n    for i in range(300):\n"
        "        time.sleep(0.01)\n        b.update(1)\n    b.close()\nprint('done')")


class _CountingClient(NotebookClient):
    """Counts the IOPub messages of the executed cells."""

    messages = 0

    def process_message(self, msg, cell, cell_index):
        type(self).messages += 1
        return super().process_message(msg, cell, cell_index)


def _messages(setup: str) -> tuple[int, str]:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(LOOP),
                nbformat.v4.new_code_cell("print('next cell')")]
    _CountingClient.messages = 0
    _CountingClient(nb, kernel_name="python3", timeout=900).execute()
    text = "".join(o.get("text", "") for c in nb.cells for o in c.outputs)
    return _CountingClient.messages, text


@pytest.fixture
def no_tqdm_setting(monkeypatch):
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)  # the kernel inherits the environment
    assert "TQDM_MININTERVAL" not in os.environ


def test_project_bars_send_few_messages_without_any_setting(no_tqdm_setting):
    ours, text = _messages("from jetad_utils._core import progress_bar\n"
                           "make_bar = lambda n: progress_bar(n, 'loop')")
    assert "done" in text and "next cell" in text
    default, text = _messages("from tqdm.auto import tqdm\n"
                              "make_bar = lambda n: tqdm(total=n, leave=False)")
    assert "done" in text and "next cell" in text
    # 4 bars of about 3 s: tqdm's default refreshes each about 30 times, ours about 3 times
    assert ours < 0.5 * default, (ours, default)
