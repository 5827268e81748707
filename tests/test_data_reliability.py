"""The data layer under faults: one test per defect a reliability review found, reproduced as it
was found (copied chunks, full disks, huge requests, killed parents, bad options and manifests,
lost Dask clusters, litter, read-only shares, bad ``mix`` input, scripts from stdin).

Real Pythia + FastJet generation with small chunks (the ``store`` fixture), real processes,
a real tmpfs (when the machine lets us mount one) and a real Dask scheduler and workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from conftest import SMALL_CHUNK as SMALL
from conftest import cached_chunks
from jetad_utils import data
from jetad_utils.data import DataError

pytestmark = pytest.mark.integration   # real Pythia runs, processes, servers or mounts: not in make test-unit


BIN = Path(sys.executable).parent


def _run_script(body: str, root: Path, *, timeout=120, stdin=None, env=None, **popen):
    """Run Python code in a fresh interpreter with small chunks and JETAD_DATA=root."""
    script = textwrap.dedent(f"""
        import dataclasses, sys
        from jetad_utils import data
        for _n in ("lhco", "jets", "events"):
            data._SPECS[_n] = dataclasses.replace(data._SPECS[_n], chunk_size={SMALL})
    """) + textwrap.dedent(body)
    full_env = {**os.environ, "JETAD_DATA": str(root), **(env or {})}
    if stdin is not None:
        return subprocess.run([sys.executable, "-"], input=script, env=full_env, text=True,
                              capture_output=True, timeout=timeout)
    return subprocess.Popen([sys.executable, "-c", script], env=full_env, text=True, **popen)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def _alive(pids) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_gone(pids, seconds=10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(pids)


# ----------------------------------------------------------------------------- 1. identity


def test_1_a_chunk_copied_from_another_seed_or_index_is_refused_and_regenerated(store):
    seed0 = data.load("lhco", 2 * SMALL, process="signal", seed=0, progress=False, jobs=1)
    data.load("lhco", SMALL, process="signal", seed=1, progress=False, jobs=1)
    d0 = data.cache_path("lhco", process="signal", seed=0)
    d1 = data.cache_path("lhco", process="signal", seed=1)
    for suffix in (".h5", ".json"):  # another seed's chunk 0 over ours
        shutil.copy(d1 / f"chunk_000000{suffix}", d0 / f"chunk_000000{suffix}")
    problems = data.verify()
    assert [why for _, why in problems] and "seed=1" in problems[0][1]
    assert data.main(["verify"]) == 1
    with pytest.warns(UserWarning, match="chunk 0 .*seed=1, not 0"):
        again = data.load("lhco", 2 * SMALL, process="signal", seed=0, progress=False, jobs=1)
    np.testing.assert_array_equal(again["mjj"], seed0["mjj"])
    for suffix in (".h5", ".json"):  # our chunk 0 over our chunk 1
        shutil.copy(d0 / f"chunk_000000{suffix}", d0 / f"chunk_000001{suffix}")
    assert "chunk=0" in data.verify()[0][1]
    with pytest.warns(UserWarning, match="chunk 1 .*chunk=0, not 1"):
        again = data.load("lhco", 2 * SMALL, process="signal", seed=0, progress=False, jobs=1)
    np.testing.assert_array_equal(again["mjj"], seed0["mjj"])
    assert data.verify() == []


def test_1_a_chunk_of_other_options_is_refused(store):
    data.load("lhco", SMALL, process="signal", progress=False, jobs=1)
    data.load("lhco", SMALL, process="signal", pt_min=1300.0, progress=False, jobs=1)
    plain = data.cache_path("lhco", process="signal")
    other = data.cache_path("lhco", process="signal", pt_min=1300.0)
    for suffix in (".h5", ".json"):
        shutil.copy(other / f"chunk_000000{suffix}", plain / f"chunk_000000{suffix}")
    assert "belong to" in data.verify()[0][1]
    with pytest.warns(UserWarning, match="options="):
        data.load("lhco", SMALL, process="signal", progress=False, jobs=1)


# ----------------------------------------------------------------------------- 3. full disk


def test_3_a_full_disk_during_writing_is_a_clear_error_leaving_nothing_half_written(tmpfs, monkeypatch):
    tiny_disk = tmpfs("2m")  # the size of the review's reproduction
    # the estimate (made tiny here) lets the request start; the real chunks then fill the disk
    proc = _run_script("""
        data._SPECS["jets"] = dataclasses.replace(data._SPECS["jets"], bytes_per_event=1.0)
        data._SPECS["jets"] = dataclasses.replace(data._SPECS["jets"], chunk_size=100)
        sys.exit(data.main(["generate", "jets", "--n", "3000", "--cls", "top", "--jobs", "1"]))
    """, tiny_disk, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, (proc.returncode, err[-2000:])  # not 139 (a segfault)
    assert "disk space" in err and str(tiny_disk) in err and "JETAD_DATA" in err, err
    assert not [p for p in _files(tiny_disk) if p.suffix == ".tmp"]
    written = [p for p in _files(tiny_disk) if p.name.startswith("chunk_")]
    assert written and len(written) % 2 == 0  # whole chunks, each with its manifest
    import dataclasses

    monkeypatch.setitem(data._SPECS, "jets", dataclasses.replace(data._SPECS["jets"], chunk_size=100))
    assert data.verify(tiny_disk) == []


def test_3_full_disk_while_writing_without_root(store, monkeypatch):
    """The same path without a mount: the write itself reports ENOSPC."""
    import errno

    from jetad_utils import _core

    real = _core.atomic_write
    calls = []

    def fails_on_second_chunk(path, mode="wb", **kw):
        calls.append(path)
        if len(calls) == 3:  # chunk 0 and its manifest written; chunk 1's data fails
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, mode, **kw)

    monkeypatch.setattr(_core, "atomic_write", fails_on_second_chunk)
    with pytest.raises(DataError, match="ran out of disk space writing chunk 1 of lhco.*JETAD_DATA"):
        data.load("lhco", 3 * SMALL, process="signal", progress=False, jobs=1)
    assert [p.name for p in _files(store) if p.name.startswith("chunk")] == [
        "chunk_000000.h5", "chunk_000000.json"]
    assert not [p for p in _files(store) if p.suffix == ".tmp"]


# ----------------------------------------------------------------------------- 4. huge requests


def test_4_a_huge_request_is_refused_at_once_with_the_number_and_the_fix(store, capsys):
    start = time.monotonic()
    assert data.main(["generate", "jets", "--n", "1000000000000", "--cls", "top"]) == 2
    err = capsys.readouterr().err
    assert time.monotonic() - start < 5
    assert "1,000,000,000,000 jets events is more than the 10,000,000" in err
    assert "JETAD_MAX_EVENTS" in err and "days" in err
    assert not Path(store).exists() or not _files(store)


def test_4_a_request_larger_than_the_free_space_is_refused_before_any_work(store, monkeypatch, capsys):
    from jetad_utils import _core

    monkeypatch.setattr(_core.shutil, "disk_usage",
                        lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 10**5, 10**5))
    with pytest.raises(DataError, match=r"not enough disk space for 5,000 jets events .*needs "
                                        r"about 8.2 MB, 100.0 kB free.*JETAD_DATA"):
        data.load("jets", 5000, cls="top", progress=False)
    assert not Path(store).exists()  # not even a directory
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    assert data.main(["prepare", "--fast", "--yes"]) == 2
    assert "not enough disk space for the prepared data" in capsys.readouterr().err


def test_4_generate_prints_its_estimate_first(store, capsys):
    assert data.main(["generate", "lhco", "--n", str(SMALL), "--process", "signal",
                      "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert f"generating {SMALL} events (~" in out and "with 1 worker(s)" in out


# ----------------------------------------------------------------------------- 5. killed parents


def _start_generation(root):
    proc = _run_script("""
        sys.exit(data.main(["generate", "lhco", "--n", "4000", "--process", "qcd", "--jobs", "2"]))
    """, root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    workers = []
    while time.monotonic() < deadline:
        kids = parent.children(recursive=True)
        workers = [k for k in kids if "spawn_main" in " ".join(k.cmdline())]
        if len(workers) >= 2:
            break
        time.sleep(0.2)
    assert len(workers) >= 2, "the workers did not start"
    time.sleep(2)  # they are generating now
    return proc, [k.pid for k in parent.children(recursive=True)]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_5_workers_end_with_their_parent(store, how):
    proc, children = _start_generation(store)
    start = time.monotonic()
    os.kill(proc.pid, how)
    proc.communicate(timeout=30)
    assert _wait_gone(children, 10) == [], f"orphans after {how.name}"
    if how != signal.SIGKILL:  # stopped cleanly and quickly, not after every chunk
        assert proc.returncode == 130 and time.monotonic() - start < 15
        assert len(cached_chunks(store)) < 4000 // SMALL
    assert not [p for p in _files(store) if p.suffix == ".tmp"] or how == signal.SIGKILL
    assert data.verify() == [] or how == signal.SIGKILL


def test_5_a_set_generated_by_another_process_while_waiting_is_just_read(store):
    """With jobs=2 and nothing left to do after the lock (another process wrote it all)."""
    survey = data._survey("lhco", 2 * SMALL, 0, {"process": "signal"})
    assert survey.todo == [0, 1]
    first = data.load("lhco", 2 * SMALL, process="signal", progress=False, jobs=1)  # "the other process"
    data._generate_missing(survey, jobs=2, dask=None, progress=False)
    again, _ = data._read(survey)
    np.testing.assert_array_equal(again["mjj"], first["mjj"])


# ----------------------------------------------------------------------------- 6. options


@pytest.mark.parametrize("argv, message", [
    (["generate", "jets", "--n", "10", "--set", "mpi=ture"], "--set mpi=ture is not a yes/no value"),
    (["generate", "jets", "--n", "10", "--set", "pt_min=abc"], "--set pt_min=abc: pt_min must be a finite number"),
    (["generate", "jets", "--n", "10", "--set", "n_max=2.5"], "--set n_max=2.5: n_max must be an integer"),
    (["generate", "jets", "--n", "10", "--set", "radius=5"], "radius must be in (0, pi)"),
])
def test_6_options_are_checked_with_their_name(store, capsys, argv, message):
    assert data.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not Path(store).exists()  # refused before any directory is made


@pytest.mark.parametrize("jobs", ["0", "-3", "two"])
def test_6_jobs_must_be_positive(store, capsys, jobs):
    with pytest.raises(SystemExit) as exit_:
        data.main(["generate", "jets", "--n", "10", "--jobs", jobs])
    assert exit_.value.code == 2 and "--jobs" in capsys.readouterr().err
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        data.load("lhco", SMALL, process="signal", jobs=0, progress=False)


def test_6_documented_yes_no_spellings_work(store, capsys):
    assert data.main(["generate", "lhco", "--n", "5", "--process", "signal", "--set", "mpi=off",
                      "--jobs", "1"]) == 0
    assert data.main(["generate", "lhco", "--n", "5", "--process", "signal", "--set", "mpi=false",
                      "--jobs", "1"]) == 0
    assert len(cached_chunks(store)) == 1  # both meant mpi=False: the same set


# ----------------------------------------------------------------------------- 7. bad manifests


@pytest.mark.parametrize("content", ["[]", '"text"', "{", '{"n": "40"}'])
def test_7_a_manifest_that_is_not_a_proper_object_is_reported_and_regenerated(store, capsys, content):
    good = data.load("lhco", SMALL, process="signal", progress=False, jobs=1)
    meta = data.cache_path("lhco", process="signal") / "chunk_000000.json"
    meta.write_text(content)
    assert data.main(["verify"]) == 1
    assert "BAD" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="regenerating it"):
        again = data.load("lhco", SMALL, process="signal", progress=False, jobs=1)
    np.testing.assert_array_equal(again["mjj"], good["mjj"])
    assert data.main(["verify"]) == 0


# ----------------------------------------------------------------------------- 8. Dask


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and one `dask worker`, separate processes on 127.0.0.1."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    env = dict(os.environ)
    sched = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                              str(port), "--dashboard-address", ":0", "--no-show"],
                             stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT, env=env)
    worker = subprocess.Popen([str(BIN / "dask"), "worker", address, "--no-nanny",
                               "--nthreads", "1", "--no-dashboard", "--local-directory",
                               str(tmp_path / "dask-worker")],
                              stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT, env=env)
    from distributed import Client

    try:
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        yield {"address": address, "scheduler": sched, "worker": worker}
    finally:
        for proc in (worker, sched):
            if proc.poll() is None:
                proc.terminate()
        for proc in (worker, sched):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_8_a_real_dask_scheduler_and_worker_give_the_same_events(store, dask_cluster, capsys):
    local = data.load("lhco", 3 * SMALL, process="qcd", progress=False, jobs=1)
    other = store.parent / "via-dask"
    os.environ["JETAD_DATA"] = str(other)
    assert data.main(["generate", "lhco", "--n", str(3 * SMALL), "--process", "qcd",
                      "--dask", dask_cluster["address"]]) == 0
    assert f"{3 * SMALL} events ready in {other}" in capsys.readouterr().out
    remote = data.load("lhco", 3 * SMALL, process="qcd", progress=False)
    for key in local:
        np.testing.assert_array_equal(remote[key], local[key])


def test_8_an_unreachable_scheduler_fails_in_seconds(store):
    start = time.monotonic()
    with pytest.raises(DataError, match="cannot connect to a Dask scheduler at tcp://127.0.0.1"):
        data.load("lhco", SMALL, process="qcd", progress=False,
                  dask=f"tcp://127.0.0.1:{_free_port()}")
    assert time.monotonic() - start < data.DASK_CONNECT_SECONDS + 10
    assert not Path(store).exists()  # no empty directory with a lock left behind


def test_8_a_port_that_is_not_a_scheduler_fails_clearly(store):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def answer_nonsense():
        server.settimeout(30)
        with contextlib.suppress(OSError):  # the socket closes at the end of the test
            while True:
                conn, _ = server.accept()
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"\xff" * 64)
                conn.close()

    threading.Thread(target=answer_nonsense, daemon=True).start()
    start = time.monotonic()
    try:
        with pytest.raises(DataError, match="cannot connect to a Dask scheduler"):
            data.load("lhco", SMALL, process="qcd", progress=False, dask=f"tcp://127.0.0.1:{port}")
    finally:
        server.close()
    assert time.monotonic() - start < data.DASK_CONNECT_SECONDS + 10


@pytest.mark.parametrize("lose", ["scheduler", "worker"])
def test_8_a_lost_cluster_ends_with_a_clear_error_and_releases_the_lock(store, dask_cluster, lose):
    proc = _run_script(f"""
        try:
            data.load("lhco", {60 * SMALL}, process="qcd", progress=False, dask="{dask_cluster['address']}")
        except data.DataError as exc:
            print("DataError:", exc)
            sys.exit(3)
    """, store, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"JETAD_DASK_TIMEOUT": "5"})
    seed_dir = data.cache_path("lhco", process="qcd")
    deadline = time.monotonic() + 90
    while not cached_chunks(store) and time.monotonic() < deadline:  # it is generating
        time.sleep(0.2)
    assert cached_chunks(store), "no chunk arrived from the cluster"
    dask_cluster[lose].kill()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err[-3000:]
    assert ("lost" if lose == "scheduler" else "has had no workers") in out, out
    assert "chunks written so far are kept" in out
    with data._locked(seed_dir, timeout=5):  # the lock was released
        pass
    assert data.verify() == []


# ----------------------------------------------------------------------------- 9. verify


def test_9_verify_refuses_a_root_that_does_not_exist_or_is_a_file(tmp_path, capsys):
    assert data.main(["verify", "--root", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("x")
    assert data.main(["verify", "--root", str(tmp_path / "a-file")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_9_verify_reports_orphan_temporary_files_and_agrees_with_load(store):
    data.load("lhco", SMALL, process="signal", progress=False, jobs=1)
    directory = data.cache_path("lhco", process="signal")
    orphan = directory / ".chunk_000001.h5.x1y2.tmp"
    orphan.write_bytes(b"half")
    assert [(p.name, "interrupted" in why) for p, why in data.verify()] == [(orphan.name, True)]
    orphan.unlink()
    meta = directory / "chunk_000000.json"
    manifest = json.loads(meta.read_text())
    meta.write_text(json.dumps({**manifest, "n": str(manifest["n"])}))
    assert "holds '40' events instead of 40" in data.verify()[0][1]
    with pytest.warns(UserWarning, match="holds '40' events instead of 40"):
        data.load("lhco", SMALL, process="signal", progress=False, jobs=1)


def test_9_verify_passes_intact_sets_with_several_named_options(store):
    """Manifests store options with sorted keys; set directories name them in table order."""
    data.load("events", SMALL, process="zll", channel="all", progress=False, jobs=1)
    assert "process=zll-channel=all" in str(data.cache_path("events", process="zll"))
    assert data.verify() == []


# ----------------------------------------------------------------------------- 10. litter


def test_10_litter_is_removed_and_refusals_leave_no_directories(store, capsys):
    data.load("lhco", SMALL, process="signal", progress=False, jobs=1)
    directory = data.cache_path("lhco", process="signal")
    orphan = directory / ".chunk_000001.h5.abcd.tmp"
    orphan.write_bytes(b"killed mid-write")
    data.load("lhco", 2 * SMALL, process="signal", progress=False, jobs=1)  # takes the lock
    assert not orphan.exists()
    with pytest.raises(ValueError):
        data.load("jets", SMALL, cls="top", radius=5.0, progress=False)
    assert not list(Path(store).glob("jets"))
    # litter from outside (a killed process) is what `clean` removes
    (directory / ".chunk_000002.h5.dead.tmp").write_bytes(b"x")
    empty = directory.parent.parent / "default-000000000000" / "seed0"
    empty.mkdir(parents=True)
    (empty / ".lock").touch()
    assert data.main(["clean"]) == 0
    out = capsys.readouterr().out
    assert "chunk_000002.h5.dead.tmp" in out and "empty" in out
    assert not empty.parent.exists() and data.verify() == []
    assert len(cached_chunks(store)) == 2


# ----------------------------------------------------------------------------- 11. read-only


def test_11_read_only_messages_say_what_happened(store, tmp_path, monkeypatch, capsys):
    data.load("lhco", 2 * SMALL, process="signal", progress=False, jobs=1)
    bad = data.cache_path("lhco", process="signal") / "chunk_000001.h5"
    raw = bad.read_bytes()
    bad.write_bytes(raw[:-50] + bytes([raw[-50] ^ 0xFF]) + raw[-49:])
    real_writable = data._writable
    monkeypatch.setattr(data, "_writable", lambda p: False if Path(p) == store else real_writable(p))
    user = tmp_path / "home" / ".cache" / "jetad" / "data"
    with pytest.warns(UserWarning, match=r"chunk 1 in the shared \(read-only\) directory "
                                         r".*checksum mismatch.*regenerating it into your cache at "
                                         + str(user)):
        data.load("lhco", 2 * SMALL, process="signal", progress=False, jobs=1)
    assert data.main(["generate", "lhco", "--n", str(SMALL), "--process", "signal"]) == 0
    out = capsys.readouterr().out
    assert f"events ready in {data.cache_path('lhco', process='signal')}" in out
    assert str(user) not in out  # the events came from the shared directory


# ----------------------------------------------------------------------------- 12. mix and seeds


B = {"mjj": np.arange(100.0), "mj1": np.ones(100)}
S = {"mjj": np.full(10, 5.0), "mj1": np.zeros(10)}


@pytest.mark.parametrize("kwargs, message", [
    (dict(s_over_b=float("inf")), "s_over_b must be a finite"),
    (dict(s_over_b="0.1"), "s_over_b must be a finite"),
    (dict(s_over_b=True), "s_over_b must be a finite"),
    (dict(n_signal=True), "n_signal must be a non-negative integer"),
    (dict(n_signal=2.5), "n_signal must be a non-negative integer"),
    (dict(s_over_b=0.05, seed=None), "seed must be an integer"),
    (dict(background={"mjj": [[1.0, 2.0], [3.0]], "mj1": [1, 2]}, n_signal=1), "ragged"),
    (dict(background={"mjj": np.zeros(0), "mj1": np.zeros(0)}, n_signal=1), "has no events"),
    (dict(background={}, n_signal=1), "non-empty dict"),
    (dict(background={"mjj": np.zeros(5), "mj1": np.zeros(4)}, n_signal=1), "different numbers of events"),
    (dict(background={**B, "label": np.zeros(100)}, signal={**S, "label": np.ones(10)}, n_signal=1),
     "already have a 'label' key"),
])
def test_12_mix_refuses_bad_input_clearly(kwargs, message):
    args = {"background": B, "signal": S, **kwargs}
    with pytest.raises(ValueError, match=message):
        data.mix(args.pop("background"), args.pop("signal"), **args)


@pytest.mark.parametrize("seed", [2.7, -1, "0", True])
def test_12_seeds_must_be_non_negative_integers_everywhere(store, seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        data.load("lhco", SMALL, seed=seed, progress=False)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        data.cache_path("lhco", seed=seed)


# ----------------------------------------------------------------------------- 14. stdin


def test_14_a_script_from_stdin_with_workers_names_the_real_cause(store):
    done = _run_script("""
        try:
            data.load("lhco", 80, process="signal", progress=False, jobs=2)
        except data.DataError as exc:
            print(exc)
            sys.exit(3)
    """, store, stdin=True)
    assert done.returncode == 3, done.stderr[-2000:]
    assert "read from standard input" in done.stdout and "jobs=1" in done.stdout
    assert "__main__" not in done.stdout  # not the missing-guard message
    assert not Path(store).exists()
