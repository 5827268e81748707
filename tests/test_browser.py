"""Notebook 01 in a real browser: JupyterLab from `make lab`, Debian's chromium, a moved slider.

Runs the real ``make lab`` target (with this environment as VENV, as tests/test_lab.py does, and
a temporary workspace) and drives Debian's ``chromium`` headless with Playwright
(``executable_path``; Playwright's own browser download is not used). In the browser the test
opens the workspace's ``solutions/01_gaussian_outliers.ipynb``, runs all cells (JupyterLab's
``notebook:run-all-cells`` command, what *Run > Run All Cells* does), waits for the kernel, and
checks that no cell produced an error, that the first output names the mode, that every
exercise check printed ``Exercise N.M: correct`` and that the ``# NBVAL_CHECK_OUTPUT`` cell shows
the stored conclusions. Every figure of the notebook is then looked at as JupyterLab shows it:
saved as ``01_figure_NN.png``, and none may be shrunk to fit the notebook's width by more than a
quarter (a figure drawn much wider than the page has tiny, unreadable labels). Then it drags
the handle of the explorer's *distance* slider with the mouse and checks that the slider's
value changed, that the plot below it was redrawn (the PNG shown before and after must differ,
SHA-256 of the image bytes) and that the explorer shows one figure, not a stale one above the
live one. Screenshots go to ``test-artifacts/browser/``.

JupyterLab's autosave is switched off through a private settings directory, and the test
checks that the notebook file on disk is unchanged afterwards (the browser never saves).

Install the browser with ``apt-get install chromium`` (``.ci/run`` does it when missing); the
test is skipped when no chromium is found (set ``JETAD_CHROMIUM`` to use another binary).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "01_gaussian_outliers.ipynb"
#: a figure may be shown at no less than this fraction of its drawn width
MIN_FIGURE_SCALE = 0.75
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
STARTUP_TIMEOUT = 120
RUN_TIMEOUT = 900
REDRAW_TIMEOUT = 300
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--no-proxy-server"]

sync_api = pytest.importorskip("playwright.sync_api")


def _chromium() -> str | None:
    for candidate in (os.environ.get("JETAD_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


@pytest.fixture
def lab(tmp_path):
    """`make lab` on a free port with a known token, autosave off; yields (url, log path)."""
    import urllib.request

    port, token = _free_port(), secrets.token_hex(16)
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    lab_args = (f"--no-browser --port={port} --ServerApp.port_retries=0 "
                f"--IdentityProvider.token={token} --LabApp.expose_app_in_browser=True")
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(var, None)
    env.update(CI="true", JETAD_FAST="1",
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"))
    log = tmp_path / "lab.log"
    workspace = tmp_path / "workspace"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"VENV={sys.prefix}", f"LAB_ARGS={lab_args}",
             f"WORKSPACE={workspace}", "FAST=1"],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert proc.poll() is None, f"make lab exited:\n{log.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"JupyterLab did not start:\n{log.read_text()}"
            try:
                with opener.open(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", token, log, workspace
    finally:
        _stop(proc)


def _cell_states(page) -> dict:
    """Execution counts, pending cells and error outputs of the open notebook, from its model."""
    return page.evaluate("""() => {
        const panel = window.jupyterapp.shell.currentWidget;
        if (!panel || !panel.content || !panel.sessionContext) return null;
        const cells = panel.content.model.cells;
        const out = {counts: [], errors: [], pending: 0, texts: [], plain: [],
                     kernel: panel.sessionContext.session?.kernel?.status ?? null};
        for (let i = 0; i < cells.length; i++) {
            const c = cells.get(i);
            if (c.type !== 'code') continue;
            out.counts.push(c.executionCount);
            let text = '';
            for (let j = 0; j < c.outputs.length; j++) {
                const o = c.outputs.get(j).toJSON();
                if (o.output_type === 'error') out.errors.push([i, o.ename + ': ' + o.evalue]);
                if (o.output_type === 'stream' && o.name === 'stdout')
                    text += Array.isArray(o.text) ? o.text.join('') : o.text;
            }
            out.texts.push(text);
            let plain = text;
            for (let j = 0; j < c.outputs.length; j++) {
                const o = c.outputs.get(j).toJSON();
                if (o.data && o.data['text/plain'])
                    plain += Array.isArray(o.data['text/plain']) ? o.data['text/plain'].join('') : o.data['text/plain'];
            }
            out.plain.push(plain);
        }
        out.pending = panel.content.widgets.filter(
            w => w.model.type === 'code' && w.promptNode && w.promptNode.textContent.includes('*')).length;
        return out;
    }""")


def _plot_digest(page, widget) -> tuple[str, int]:
    """SHA-256 and size of the PNG currently shown in the explorer's output area."""
    src = widget.locator("img").first.get_attribute("src", timeout=60_000)
    assert src and src.startswith("data:image/png;base64,"), f"no PNG in the explorer: {src!r:.80}"
    data = base64.b64decode(src.split(",", 1)[1])
    return hashlib.sha256(data).hexdigest(), len(data)


def test_notebook_01_in_chromium_slider_redraws_plot(lab, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium found: install it with `apt-get install chromium` (.ci/run does)")
    base, token, log, workspace = lab
    nb = nbformat.read(NOTEBOOK, as_version=4)
    check = [c for c in nb.cells if c.cell_type == "code" and CHECK_MARK in c.source][0]
    expected = "".join(o.get("text", "") for o in check.outputs if o.output_type == "stream")
    exercises = sorted(set(re.findall(r"### BEGIN SOLUTION (\d+\.\d+):", "".join(
        c.source for c in nb.cells if c.cell_type == "code"))))
    opened = workspace / "solutions" / NOTEBOOK.name
    assert opened.read_bytes() == NOTEBOOK.read_bytes()  # make lab copied the solution notebook
    on_disk = opened.read_bytes()
    for old in ARTIFACTS.glob("01_figure_*.png"):
        old.unlink()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.goto(f"{base}/lab/tree/solutions/{NOTEBOOK.name}?token={token}",
                      timeout=STARTUP_TIMEOUT * 1000)
            page.wait_for_function(
                """() => window.jupyterapp && window.jupyterapp.shell.currentWidget
                   && window.jupyterapp.shell.currentWidget.sessionContext
                   && window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'""",
                timeout=STARTUP_TIMEOUT * 1000, polling=500)
            title = page.evaluate("() => window.jupyterapp.shell.currentWidget.title.label")
            assert title == NOTEBOOK.name, title

            # Run > Run All Cells
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            deadline = time.monotonic() + RUN_TIMEOUT
            state, quiet_since = None, None
            while time.monotonic() < deadline:
                state = _cell_states(page)
                done = (state and state["kernel"] == "idle" and state["pending"] == 0
                        and all(n is not None for n in state["counts"]))
                if state and state["errors"]:
                    break
                if done:
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since > 2:
                        break
                else:
                    quiet_since = None
                time.sleep(1)
            page.screenshot(path=str(ARTIFACTS / "01_after_run_all.png"))
            assert state is not None, "the notebook panel never appeared"
            assert not state["errors"], f"cell errors in the browser: {state['errors']}"
            assert all(n is not None for n in state["counts"]), (
                f"not every cell ran within {RUN_TIMEOUT} s: {state['counts']}")
            check_text = [t for t in state["texts"] if t.startswith(expected.splitlines()[0])]
            assert check_text == [expected], f"check cell shows {state['texts'][-2:]}"
            shown = "".join(state["texts"])
            assert "FAST mode (JETAD_FAST=1)" in state["plain"][0], state["plain"][0][:300]
            for number in exercises:
                assert f"Exercise {number}: correct" in shown, f"no confirmation of {number}"

            # every figure as JupyterLab shows it: saved, and not shrunk to unreadable labels
            figures = page.locator(".jp-OutputArea-output img")
            n_figures = figures.count()
            assert n_figures >= 8, f"only {n_figures} figures shown"
            shrunk = []
            for k in range(n_figures):
                img = figures.nth(k)
                img.scroll_into_view_if_needed(timeout=60_000)
                img.screenshot(path=str(ARTIFACTS / f"01_figure_{k:02d}.png"))
                natural, shown_width = img.evaluate("e => [e.naturalWidth, e.clientWidth]")
                if shown_width < MIN_FIGURE_SCALE * natural:
                    shrunk.append((k, natural, shown_width))
            assert not shrunk, (
                f"figures shown at less than {MIN_FIGURE_SCALE:.0%} of their width (index, drawn "
                f"px, shown px): {shrunk}; draw them at the width JupyterLab shows (about 10 in)")

            # the explorer of section 11: the slider labelled "distance" and the plot below it
            explorer = page.locator(".widget-vbox").filter(
                has=page.locator(".widget-hslider", has_text="distance")).last
            explorer.scroll_into_view_if_needed(timeout=60_000)
            slider = explorer.locator(".widget-hslider", has_text="distance")
            readout = slider.locator(".widget-readout")
            value_before = readout.inner_text()
            digest_before, size_before = _plot_digest(page, explorer)
            explorer.screenshot(path=str(ARTIFACTS / "01_slider_before.png"))

            handle = slider.locator(".noUi-handle")
            box = handle.bounding_box()
            track = slider.locator(".noUi-target").bounding_box()
            assert box and track, "slider handle or track not rendered"
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(track["x"] + 0.9 * track["width"], box["y"] + box["height"] / 2, steps=12)
            page.mouse.up()

            deadline = time.monotonic() + REDRAW_TIMEOUT
            value_after, digest_after = readout.inner_text(), digest_before
            while time.monotonic() < deadline:
                value_after = readout.inner_text()
                try:
                    digest_after, size_after = _plot_digest(page, explorer)
                except AssertionError:   # cleared while redrawing (clear_output(wait=True))
                    digest_after = digest_before
                if value_after != value_before and digest_after != digest_before:
                    break
                time.sleep(1)
            explorer.screenshot(path=str(ARTIFACTS / "01_slider_after.png"))
            page.screenshot(path=str(ARTIFACTS / "01_page_after_slider.png"))
            assert float(value_after) > float(value_before), (
                f"the distance slider did not move: {value_before} -> {value_after}")
            assert digest_after != digest_before, (
                f"the plot did not change after moving the slider ({value_before} -> {value_after})")
            errors = _cell_states(page)["errors"]
            assert not errors, f"moving the slider raised: {errors}"
            n_images = explorer.locator("img").count()
            assert n_images == 1, f"the explorer shows {n_images} figures after the slider moved"
        finally:
            context.close()

    if opened.read_bytes() != on_disk:
        pytest.fail("the browser session changed the notebook on disk (autosave?)")
    assert re.search(r"http://127\.0\.0\.1:\d+/lab", log.read_text(errors="replace"))
