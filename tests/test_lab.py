"""`make lab` makes the student workspace and serves JupyterLab on it headless (no browser),
protected by a token.

Runs the real Makefile target with VENV=<the interpreter running the tests>, so it reuses this
environment (the set-up step is a no-op when the venv's install stamp matches the lock).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration   # real Pythia runs, processes, servers or mounts: not in make test-unit


REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 90


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def _get(url: str, token: str | None):
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"token {token}")
    try:
        with _OPENER.open(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=15)


def _assert_setup_is_a_noop(venv: Path) -> None:
    """`make lab` must not reinstall (that would need the network): the stamp must match."""
    want = hashlib.sha256(
        (REPO / "requirements.lock").read_bytes() + (REPO / "pyproject.toml").read_bytes()
    ).hexdigest()
    stamp = venv / ".jetad-installed"
    have = stamp.read_text().strip() if stamp.exists() else None
    assert have == want, (
        f"{stamp} does not match requirements.lock + pyproject.toml; run `make setup "
        f"VENV={venv}` first (this test must not install anything)"
    )


@pytest.mark.parametrize("token_source", ["explicit", "generated"])
def test_make_lab_serves_headless(tmp_path, token_source):
    """explicit: LAB_ARGS sets the token (Jupyter then prints it masked as 'token=...');
    generated: the default a student gets, Jupyter makes a token and prints the full URL."""
    venv = Path(sys.prefix)
    _assert_setup_is_a_noop(venv)
    port = _free_port()
    lab_args = f"--no-browser --port={port} --ServerApp.open_browser=False --ServerApp.port_retries=0"
    token = None
    if token_source == "explicit":
        token = secrets.token_hex(16)
        lab_args += f" --IdentityProvider.token={token}"
    env = dict(os.environ)
    env.update(
        CI="true",
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    # when run from `make test`, do not inherit the outer make's flags and variable overrides
    for var in ("JETAD_FAST", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(var, None)
    log_path = tmp_path / "lab.log"
    workspace = tmp_path / "workspace"
    # a student's answer from an earlier session must survive `make lab`
    answered = workspace / "exercises" / "01_gaussian_outliers.ipynb"
    answered.parent.mkdir(parents=True)
    answered.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    before = answered.read_bytes()
    status_url = f"http://127.0.0.1:{port}/api/status"
    url_re = re.compile(rf"http://127\.0\.0\.1:{port}/lab\?token=(\S+)")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"VENV={venv}", f"LAB_ARGS={lab_args}",
             f"WORKSPACE={workspace}", *(["FAST=1"] if token_source == "generated" else [])],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            # 1. the server prints the URL to open (with the token when Jupyter generated it)
            deadline = time.monotonic() + STARTUP_TIMEOUT
            output, printed = "", None
            while time.monotonic() < deadline and proc.poll() is None:
                output = log_path.read_text(errors="replace")
                printed = url_re.search(output)
                if printed:
                    break
                time.sleep(0.3)
            assert proc.poll() is None, f"make lab exited with {proc.returncode}:\n{output}"
            assert printed, f"no http://127.0.0.1:{port}/lab?token=... URL printed:\n{output}"
            if token is None:
                token = printed.group(1)
                assert re.fullmatch(r"[0-9a-f]{32,}", token), printed.group(0)
            else:
                assert printed.group(1) in (token, "...")  # jupyter_server masks a given token

            # 2. the API answers with the token
            status, body = None, b""
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    status, body = _get(status_url, token)
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    status = None
                if status == 200:
                    break
                time.sleep(0.3)
            output = log_path.read_text(errors="replace")
            assert status == 200, f"/api/status answered {status}:\n{output}"
            info = json.loads(body)
            assert isinstance(info, dict) and "started" in info

            # 3. without the (right) token the API is closed
            anon_status, _ = _get(status_url, None)
            assert anon_status in (401, 403), anon_status
            wrong_status, _ = _get(status_url, "not-the-token")
            assert wrong_status in (401, 403), wrong_status

            # 4. it serves the workspace: the student's copies and, apart, the solutions
            status, body = _get(f"http://127.0.0.1:{port}/api/contents", token)
            assert status == 200
            contents = json.loads(body)
            assert contents["type"] == "directory"
            assert {item["name"] for item in contents["content"]} == {"exercises", "solutions"}
            status, body = _get(f"http://127.0.0.1:{port}/api/contents/exercises", token)
            names = {item["name"] for item in json.loads(body)["content"]}
            solutions = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
            assert names == set(solutions), names
            assert answered.read_bytes() == before  # the existing answer was kept
            assert (workspace / "solutions" / solutions[-1]).exists()

            assert "is up to date" in output  # the set-up step did not reinstall
            assert f"--ServerApp.root_dir={workspace} --no-browser" in output  # CI -> no browser
            if token_source == "generated":  # make lab FAST=1: the kernel gets JETAD_FAST=1
                assert "FAST mode (JETAD_FAST=1)" in output
                assert f"JETAD_FAST=1 {venv}/bin/jupyter lab" in output
            else:
                assert "FULL mode" in output
            overrides = json.loads((venv / "share/jupyter/lab/settings/overrides.json").read_text())
            assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
        finally:
            _stop(proc)
    assert proc.poll() is not None
    # the port is released once the process group is gone
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
