"""A workshop on a real JupyterHub: two students run notebook 01 against one read-only data dir.

What runs (no mocks): the ``jupyterhub`` package with node's configurable-http-proxy (installed
by ``make hub-proxy``), the shared-password authenticator and the simple local-process
spawner, all on 127.0.0.1. The test logs in as two students through the hub's login form,
asks the hub API for a token as each of them, starts their single-user servers, and executes
every code cell of ``notebooks/01_gaussian_outliers.ipynb`` on a kernel of each server through
the Jupyter kernel websocket API, both students at the same time, with ``JETAD_FAST=1``.

What is checked:

* both runs finish without an error (the notebook's own ``check_between`` physics checks run),
  and each student's ``# NBVAL_CHECK_OUTPUT`` output equals the one stored in the notebook;
* ``$JETAD_DATA`` is one shared directory, prepared once by this test and made read-only twice
  over: ``chmod a-w`` as an instructor would, and, because the servers run as the user running
  the test, which is root in CI (root ignores permissions), each single-user server is started
  in its own mount namespace where that directory is a read-only bind mount, so that *no*
  process of a student, root or not, can write there (``EROFS``). From inside each student's
  kernel a write into it is tried and must fail;
* nothing tried to write there during the notebook: every file-writing call of the students'
  Python processes (``open`` for writing, ``mkdir``, ``rename``, ``remove``, ``mkstemp``, ...)
  is recorded with a Python audit hook (``sys.addaudithook``, loaded through ``PYTHONPATH``),
  and none touches ``$JETAD_DATA``; its listing (names, sizes, modes, mtimes) is unchanged;
* the data layer reports ``data_dir() == $JETAD_DATA`` and sends checkpoints to each student's
  own ``~/.cache/jetad/checkpoints``, where the trained models are found afterwards;
* a student's token cannot reach the other student's server, and a wrong password is refused.

The single-user servers run as the user running the test (root in CI), with separate home
directories (``HOME``): the interpreter of this checkout may live where other users cannot run
it (``/root/.pyenv``), so separate system users cannot be used for the servers in every CI
container. The read-only bind mount
is what makes "cannot write" true regardless of the user. When ``unshare``/``mount`` are not
permitted (a container without ``CAP_SYS_ADMIN``, user namespaces disabled) the test is skipped
with the reason. (As a normal user the same runs inside a user namespace, ``unshare -r``.)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "01_gaussian_outliers.ipynb"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
STUDENTS = ("student-ada", "student-bo")
CELL_TIMEOUT = 900
STARTUP_TIMEOUT = 180

requests = pytest.importorskip("requests")
websocket = pytest.importorskip("websocket")  # websocket-client
pytest.importorskip("jupyterhub")

# every file-writing call of a student's Python process is appended to $JETAD_WRITE_AUDIT
SITECUSTOMIZE = r'''
import json, os, sys

_LOG = os.environ.get("JETAD_WRITE_AUDIT")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_EVENTS = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.chmod", "os.chown", "os.utime",
           "os.truncate", "os.link", "os.symlink", "shutil.rmtree", "shutil.move", "shutil.copyfile",
           "tempfile.mkstemp", "tempfile.mkdtemp"}
_busy = False


def _record(event, args):
    global _busy
    if _busy:
        return
    paths = []
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writing:
            paths = [path]
    elif event in _EVENTS:
        paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
    if not paths:
        return
    _busy = True
    try:
        line = json.dumps({"event": event, "paths": [os.fsdecode(os.fspath(p)) if not isinstance(p, int)
                                                     else str(p) for p in paths]}) + "\n"
        fd = os.open(_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except Exception:
        pass
    finally:
        _busy = False


if _LOG:
    sys.addaudithook(_record)
'''

# run inside each student's mount namespace: $JETAD_DATA becomes a read-only bind mount, then
# the real single-user server replaces the shell ("$0" "$@" = jupyterhub-singleuser + its args)
READ_ONLY_WRAPPER = ('mount --bind "$JETAD_DATA" "$JETAD_DATA" && '
                     'mount -o remount,bind,ro "$JETAD_DATA" && exec "$0" "$@"')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proxy_command() -> str | None:
    local = Path(sys.prefix) / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("configurable-http-proxy")


# a private mount namespace; as a normal user inside a new user namespace (-r), which may mount
UNSHARE = ["unshare", "-m", "--propagation", "private"] + (["-r"] if os.geteuid() != 0 else [])


def _read_only_mounts_work(tmp: Path) -> str | None:
    """None if a private mount namespace with a read-only bind mount works here, else why not."""
    if not shutil.which("unshare") or not shutil.which("mount"):
        return "needs unshare and mount (util-linux)"
    probe = tmp / "ro-probe"
    probe.mkdir()
    script = (f'mount --bind "{probe}" "{probe}" && mount -o remount,bind,ro "{probe}" && '
              f'! touch "{probe}/x" 2>/dev/null')
    res = subprocess.run([*UNSHARE, "sh", "-c", script],
                         capture_output=True, text=True, timeout=30)
    if res.returncode != 0 or (probe / "x").exists():
        return f"read-only bind mounts in a mount namespace are not permitted here: {res.stderr.strip()}"
    return None


def _snapshot(root: Path) -> dict:
    """Every entry under root with its type, size, mode and mtime (the root included)."""
    snap = {}
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        snap[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_size,
                                              stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return snap


def _code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _expected_check_output(nb) -> str:
    cells = [c for c in nb.cells if c.cell_type == "code" and CHECK_MARK in c.source]
    assert len(cells) == 1, "notebook 01 must have exactly one check cell"
    text = "".join(o.get("text", "") for o in cells[0].outputs if o.output_type == "stream")
    assert text.count("True") >= 3, f"the stored check output looks wrong: {text!r}"
    return text


class KernelSession:
    """A kernel on a single-user server, driven through its websocket channels API."""

    def __init__(self, base: str, user: str, token: str):
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"
        self.api = f"{base}/user/{user}/api"
        r = self.http.post(f"{self.api}/kernels", json={"name": "python3"}, timeout=120)
        assert r.status_code == 201, f"{user}: starting a kernel answered {r.status_code}: {r.text}"
        self.kernel_id = r.json()["id"]
        ws_url = self.api.replace("http://", "ws://") + f"/kernels/{self.kernel_id}/channels"
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"],
                                              timeout=CELL_TIMEOUT)
        self.session = uuid.uuid4().hex
        self.user = user

    def execute(self, code: str) -> dict:
        """Run one cell; return its stdout text, its errors and its rich outputs' mime types."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user, "session": self.session,
                       "msg_type": "execute_request", "version": "5.3",
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        result = {"stdout": "", "errors": [], "mime": []}
        idle = reply = False
        deadline = time.monotonic() + CELL_TIMEOUT
        while not (idle and reply):
            assert time.monotonic() < deadline, f"{self.user}: cell timed out:\n{code[:300]}"
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if msg["channel"] == "shell" and kind == "execute_reply":
                reply = True
                if content["status"] != "ok":
                    result["errors"].append(f"{content.get('ename')}: {content.get('evalue')}")
            elif kind == "stream" and content["name"] == "stdout":
                result["stdout"] += content["text"]
            elif kind == "error":
                result["errors"].append(f"{content['ename']}: {content['evalue']}")
            elif kind in ("display_data", "execute_result"):
                result["mime"].extend(content["data"])
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return result

    def close(self):
        try:
            self.ws.close()
        finally:
            self.http.delete(f"{self.api}/kernels/{self.kernel_id}", timeout=30)


def _login(base: str, user: str, password: str) -> requests.Session:
    """Log in through the hub's login form; return the session holding the hub's cookies."""
    s = requests.Session()
    r = s.get(f"{base}/hub/login", timeout=30)
    assert r.status_code == 200, r.status_code
    xsrf = s.cookies.get("_xsrf")
    assert xsrf, "the login page set no _xsrf cookie"
    r = s.post(f"{base}/hub/login", data={"username": user, "password": password, "_xsrf": xsrf},
               allow_redirects=False, timeout=60)
    s.login_status = r.status_code
    s.headers["X-XSRFToken"] = s.cookies.get("_xsrf") or xsrf
    return s


def _wait(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; hub log:\n{log.read_text(errors='replace')[-4000:]}")


PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A running hub: yields (base URL, shared data dir, per-user homes, audit logs, log)."""
    for var in PROXY_VARS:  # everything here talks to 127.0.0.1 directly
        monkeypatch.delenv(var, raising=False)
    proxy = _proxy_command()
    if proxy is None:
        pytest.skip("configurable-http-proxy not found: run `make hub-proxy` (npm, pinned version)")
    why = _read_only_mounts_work(tmp_path)
    if why:
        pytest.skip(f"cannot make the shared data directory read-only for the students: {why}")

    # the instructor's shared data directory, prepared once, then read-only
    shared = tmp_path / "shared-data"
    shared.mkdir()
    (shared / "README").write_text("Prepared by the instructor: read-only for students.\n")
    for path in [shared, *shared.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)

    homes = tmp_path / "home"
    homes.mkdir()
    audit = tmp_path / "audit"
    audit.mkdir()
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    password = secrets.token_urlsafe(12)
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    singleuser = str(Path(sys.executable).parent / "jupyterhub-singleuser")
    assert Path(singleuser).is_file(), f"{singleuser} missing: is jupyterhub installed in this venv?"
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(f"""
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{tmp_path}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp_path}/cookie_secret"
c.JupyterHub.pid_file = "{tmp_path}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {password!r}
c.Authenticator.allowed_users = {set(STUDENTS)!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{homes}/{{username}}"
c.Spawner.cmd = {UNSHARE!r} + ["/bin/sh", "-c", {READ_ONLY_WRAPPER!r}, {singleuser!r}]
c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = {STARTUP_TIMEOUT}
c.Spawner.http_timeout = {STARTUP_TIMEOUT}
c.Spawner.environment = {{
    "JETAD_DATA": {str(shared)!r},
    "JETAD_FAST": "1",
    "OMP_NUM_THREADS": "1",  # two students share the cores: one torch thread each
    "PYTHONPATH": {str(site)!r},
    "JETAD_WRITE_AUDIT": lambda spawner: "{audit}/" + spawner.user.name + ".jsonl",
}}
""")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JETAD_", "JUPYTER", "MAKE", "MFLAGS", "PYTHONPATH"))
           and k not in PROXY_VARS}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    log = tmp_path / "hub.log"
    before = _snapshot(shared)
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)],
                                cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: proc.poll() is None and requests.get(f"{base}/hub/health", timeout=5).ok,
              STARTUP_TIMEOUT, "the hub to answer /hub/health", log)
        yield {"base": base, "shared": shared, "homes": homes, "audit": audit, "log": log,
               "password": password, "before": before}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # cleanup_servers: the hub stops its servers
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        _kill_leftovers(tmp_path)


def _kill_leftovers(tmp_path: Path) -> None:
    """Stop any single-user server of this test still alive (they run in their own sessions)."""
    import psutil

    for p in psutil.process_iter(["pid", "cmdline", "environ"]):
        try:
            environ = p.info.get("environ") or {}
            if environ.get("JETAD_WRITE_AUDIT", "").startswith(str(tmp_path)):
                p.kill()
        except (psutil.Error, OSError):
            pass


def _start_server(base: str, user: str, password: str, log: Path) -> str:
    """Log in, get an API token as the user, start the user's server; return the token."""
    s = _login(base, user, password)
    assert s.login_status == 302, f"{user}: login answered {s.login_status}"
    r = s.post(f"{base}/hub/api/users/{user}/tokens", json={"note": "workshop test"}, timeout=60)
    assert r.status_code in (200, 201), f"{user}: token request answered {r.status_code}: {r.text}"
    token = r.json()["token"]
    api = requests.Session()
    api.headers["Authorization"] = f"token {token}"
    r = api.post(f"{base}/hub/api/users/{user}/server", timeout=STARTUP_TIMEOUT)
    assert r.status_code in (201, 202), f"{user}: spawn answered {r.status_code}: {r.text}"

    def ready():
        info = api.get(f"{base}/hub/api/users/{user}", timeout=10).json()
        server = info.get("servers", {}).get("")
        return bool(server and server.get("ready"))

    _wait(ready, STARTUP_TIMEOUT, f"{user}'s server to be ready", log)
    return token


PROBE = r'''
import errno, json, os
from pathlib import Path
import jetad_utils
shared = Path(os.environ["JETAD_DATA"])
try:
    with open(shared / ("probe-" + os.environ["USER"]), "w") as fh:
        fh.write("x")
    outcome = "written"
except OSError as exc:
    outcome = errno.errorcode.get(exc.errno, str(exc.errno))
# what the README tells students to do first: make their workspace (the hub's venv's command)
import subprocess, sys
start = subprocess.run([str(Path(sys.executable).parent / "jetad-exercises"), "start"],
                       capture_output=True, text=True)
workspace = Path.home() / "jetad-exercises"
print(json.dumps({"data_dir": str(jetad_utils.data_dir()), "checkpoint_dir": str(jetad_utils.checkpoint_dir()),
                  "home": str(Path.home()), "fast": jetad_utils.fast_mode(), "write": outcome,
                  "start_rc": start.returncode, "start_err": start.stderr[-500:],
                  "workspace": sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*.ipynb"))}))
'''


def _run_notebook(base: str, user: str, token: str, cells: list[str], out: dict) -> None:
    kernel = KernelSession(base, user, token)
    try:
        results = []
        for code in cells:
            res = kernel.execute(code)
            results.append(res)
            if res["errors"]:
                break
        out["cells"] = results
        audit_done = kernel.execute("print('notebook done')")
        assert not audit_done["errors"]
        out["probe"] = kernel.execute(PROBE)
    except BaseException as exc:  # reported by the main thread
        out["exception"] = exc
    finally:
        kernel.close()


def test_two_students_run_notebook_01_on_a_read_only_shared_data_dir(hub):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "`/opt/jetad/.venv/bin/jetad-exercises start`" in readme  # what the probe below runs
    base, log = hub["base"], hub["log"]
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = _code_cells(nb)
    expected = _expected_check_output(nb)
    check_index = next(i for i, src in enumerate(cells) if CHECK_MARK in src)

    # a wrong password is refused
    bad = _login(base, STUDENTS[0], hub["password"] + "-wrong")
    assert bad.login_status != 302, "the hub accepted a wrong password"

    tokens = {user: _start_server(base, user, hub["password"], log) for user in STUDENTS}

    # one student's token does not open the other's server
    r = requests.get(f"{base}/user/{STUDENTS[1]}/api/kernels",
                     headers={"Authorization": f"token {tokens[STUDENTS[0]]}"},
                     allow_redirects=False, timeout=30)
    assert r.status_code in (302, 403, 404), f"cross-user access answered {r.status_code}"

    # both students run notebook 01 at the same time
    outs = {user: {} for user in STUDENTS}
    threads = [threading.Thread(target=_run_notebook, args=(base, user, tokens[user], cells, outs[user]))
               for user in STUDENTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    for user in STUDENTS:
        out = outs[user]
        if "exception" in out:
            raise AssertionError(f"{user}: {out['exception']!r}\nhub log:\n"
                                 f"{log.read_text(errors='replace')[-3000:]}") from out["exception"]
        results = out["cells"]
        failed = [(i, r["errors"]) for i, r in enumerate(results) if r["errors"]]
        assert not failed, f"{user}: cell {failed[0][0]} failed: {failed[0][1]}"
        assert len(results) == len(cells)
        assert results[check_index]["stdout"] == expected, (
            f"{user}: check output differs from the stored one:\n{results[check_index]['stdout']}")
        assert "image/png" in {m for r in results for m in r["mime"]}, f"{user}: no plot was produced"

        # where the data layer looks and writes, from inside the student's kernel
        probe = out["probe"]
        assert not probe["errors"], probe["errors"]
        info = json.loads(probe["stdout"].strip().splitlines()[-1])
        home = hub["homes"] / user
        assert info["fast"] is True
        assert info["data_dir"] == str(hub["shared"])
        assert info["home"] == str(home)
        assert info["checkpoint_dir"] == str(home / ".cache" / "jetad" / "checkpoints")
        assert info["write"] in ("EROFS", "EACCES"), f"{user} could write into the shared dir"
        # the student's workspace, made by the README's command, in the student's own home
        assert info["start_rc"] == 0, info["start_err"]
        assert f"exercises/{NOTEBOOK.name}" in info["workspace"], info["workspace"]
        assert f"solutions/{NOTEBOOK.name}" in info["workspace"], info["workspace"]

        # the models this student trained are in the student's own directory
        saved = sorted(p.name for p in (home / ".cache" / "jetad" / "checkpoints").glob("*"))
        assert any(n.startswith("nb01-ae") for n in saved), saved
        assert any(n.startswith("nb01-vae") for n in saved), saved

        # no write attempt into the shared directory other than the deliberate probe
        lines = (hub["audit"] / f"{user}.jsonl").read_text().splitlines()
        assert len(lines) > 10, "the audit hook recorded (almost) nothing: is it loaded?"
        records = [json.loads(line) for line in lines]
        into_shared = [r for r in records
                       if any(p.startswith(str(hub["shared"])) for p in r["paths"])]
        assert [r["paths"] for r in into_shared] == [[str(hub["shared"] / f"probe-{user}")]], (
            f"{user}: write attempts into the shared data dir: {into_shared}")
        assert any(str(home) in p for r in records for p in r["paths"]), \
            "the audit log shows no write into the student's home"

    # the two homes are distinct and the shared directory is exactly as prepared
    assert len({str(hub["homes"] / u) for u in STUDENTS}) == 2
    assert _snapshot(hub["shared"]) == hub["before"]
