"""Reliability tests of the checkpoint cache ``jetad_utils.training.train_or_load``.

A checkpoint must never be loaded when it is corrupt, belongs to another run or predates the
checksum; concurrent callers must train once; a full disk must leave nothing half-written.
Everything is tiny (a ``torch.nn.Linear``, a few hundred random points, two epochs) and written
to ``tmp_path`` only.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import time
import warnings
from pathlib import Path

import pytest
import torch

from jetad_utils._core import NoSpaceError
from jetad_utils.training import train_or_load

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_FEATURES = 4
FIT = dict(epochs=2, batch_size=64, lr=1e-2, seed=0, progress=False)


def mse_loss(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def make_data(n=300, n_features=N_FEATURES):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, n_features, generator=gen)
    y = x @ torch.randn(n_features, n_features, generator=gen)
    return (x[: n * 3 // 4], y[: n * 3 // 4]), (x[n * 3 // 4 :], y[n * 3 // 4 :])


def new_linear(n_features=N_FEATURES):
    torch.manual_seed(0)
    return torch.nn.Linear(n_features, n_features)


def run(directory, **overrides):
    """``train_or_load`` of a fresh, seeded ``Linear`` on the standard data."""
    train, val = make_data()
    kwargs = dict(name="lin", directory=directory, **FIT)
    kwargs.update(overrides)
    return train_or_load(new_linear(), mse_loss, train, val, **kwargs)


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def rewrite(path, change):
    """Load a checkpoint as plain data, let ``change(blob)`` edit it, save it back."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    change(blob)
    torch.save(blob, path)


def leftovers(directory):
    """Files in ``directory`` other than the (expected, empty) lock files."""
    return sorted(n for n in os.listdir(directory) if not n.endswith(".lock"))


# ----------------------------------------------------------------------------- integrity


def test_flipped_bit_is_detected_and_retrained(tmp_path):
    m1, h1 = run(tmp_path)
    assert h1["loaded"] is False

    def flip(blob):
        w = blob["state_dict"]["weight"]
        w.view(torch.int32)[0, 0] ^= 1 << 30  # the top exponent bit (0.3 -> about 1e38)

    rewrite(h1["path"], flip)
    flipped = torch.load(h1["path"], weights_only=True)["state_dict"]["weight"]
    assert flipped[0, 0] != m1.weight[0, 0] and torch.equal(flipped[1:], m1.weight[1:].detach())

    with pytest.warns(UserWarning, match="do not match their checksum") as record:
        m2, h2 = run(tmp_path)
    assert any(h1["path"] in str(w.message) and "retrained" in str(w.message) for w in record)
    assert h2["loaded"] is False and h2["path"] == h1["path"]
    assert all(torch.isfinite(v).all() for v in m2.state_dict().values())
    assert same_weights(m1, m2)  # the retrained model is the one a fresh training gives
    assert all(torch.isfinite(torch.as_tensor(v)) for v in h2["val_loss"])
    # the file was overwritten with a sound one, which loads without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        m3, h3 = run(tmp_path)
        assert h3["loaded"] is True and same_weights(m1, m3)
        # and retrain=True still ignores a sound checkpoint, silently
        m4, h4 = run(tmp_path, retrain=True)
        assert h4["loaded"] is False and h4["path"] == h1["path"] and same_weights(m1, m4)


def test_flipped_bit_in_the_file_is_detected(tmp_path):
    """The same, with the bit flipped in the file's bytes (as a bad disk or copy would)."""
    m1, h1 = run(tmp_path)
    raw = bytearray(Path(h1["path"]).read_bytes())
    weight_bytes = m1.weight.detach().contiguous().numpy().tobytes()
    at = raw.find(weight_bytes)
    assert at >= 0 and raw.find(weight_bytes, at + 1) < 0  # stored once, uncompressed
    raw[at + 3] ^= 0x40  # the top exponent bit of the first (little-endian) float32
    Path(h1["path"]).write_bytes(bytes(raw))

    with pytest.warns(UserWarning, match="checksum|unreadable"):
        m2, h2 = run(tmp_path)
    assert h2["loaded"] is False and same_weights(m1, m2)


def test_another_runs_checkpoint_is_not_loaded(tmp_path):
    m1, h1 = run(tmp_path, settings={"beta": 0.0})
    m_other, h_other = run(tmp_path, settings={"beta": 1.0}, lr=5e-2)
    assert h_other["path"] != h1["path"] and not same_weights(m1, m_other)
    shutil.copyfile(h_other["path"], h1["path"])

    with pytest.warns(UserWarning, match="another run") as record:
        m2, h2 = run(tmp_path, settings={"beta": 0.0})
    assert any(h1["path"] in str(w.message) for w in record)
    assert h2["loaded"] is False and h2["path"] == h1["path"]
    assert same_weights(m1, m2)

    m3, h3 = run(tmp_path, settings={"beta": 0.0})
    assert h3["loaded"] is True and same_weights(m1, m3)


def test_checkpoint_without_checksum_is_retrained(tmp_path):
    m1, h1 = run(tmp_path)
    blob = torch.load(h1["path"], weights_only=True)
    checksum_fields = [k for k in blob["meta"] if "sha" in k.lower() or "checksum" in k.lower()]
    assert checksum_fields, f"no checksum in the checkpoint's meta: {sorted(blob['meta'])}"

    def drop_checksum(blob):
        for k in checksum_fields:
            del blob["meta"][k]

    rewrite(h1["path"], drop_checksum)
    with pytest.warns(UserWarning, match="no checksum") as record:
        m2, h2 = run(tmp_path)
    assert any(h1["path"] in str(w.message) for w in record)
    assert h2["loaded"] is False and same_weights(m1, m2)
    assert run(tmp_path)[1]["loaded"] is True


def test_unreadable_checkpoint_is_retrained(tmp_path):
    m1, h1 = run(tmp_path)
    Path(h1["path"]).write_bytes(b"\x00\x01garbage, not a torch file\xff" * 10)
    with pytest.warns(UserWarning, match="unreadable"):
        m2, h2 = run(tmp_path)
    assert h2["loaded"] is False and same_weights(m1, m2)
    assert run(tmp_path)[1]["loaded"] is True


# ----------------------------------------------------------------------------- train=False


def test_train_false_without_checkpoint_raises(tmp_path):
    with pytest.raises(RuntimeError) as info:
        run(tmp_path, train=False)
    msg = str(info.value)
    assert re.search(re.escape(str(tmp_path)) + r"/lin-[0-9a-f]{16}\.pt", msg), msg
    assert "train=True" in msg
    assert os.listdir(tmp_path) == []  # train=False writes nothing


def test_train_false_with_corrupt_checkpoint_raises(tmp_path):
    _, h1 = run(tmp_path)
    rewrite(h1["path"], lambda blob: blob["state_dict"]["weight"].mul_(2))
    before = Path(h1["path"]).read_bytes()
    with pytest.raises(RuntimeError) as info:
        run(tmp_path, train=False)
    msg = str(info.value)
    assert h1["path"] in msg
    assert "checksum" in msg
    assert "train=True" in msg and "delete the file" in msg
    assert Path(h1["path"]).read_bytes() == before  # not touched


def test_train_false_with_sound_checkpoint_loads(tmp_path):
    m1, _ = run(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        m2, h2 = run(tmp_path, train=False)
    assert h2["loaded"] is True and same_weights(m1, m2)


def test_train_false_and_retrain_contradict(tmp_path):
    with pytest.raises(ValueError, match="contradict"):
        run(tmp_path, train=False, retrain=True)


def test_train_keyword_is_not_the_data(tmp_path):
    train, val = make_data()
    with pytest.raises(TypeError, match="by position"):
        train_or_load(new_linear(), mse_loss, train, val, name="lin", directory=tmp_path,
                      train=train, **FIT)


# ----------------------------------------------------------------------------- concurrency


def slow_epoch(model, history):
    """``on_epoch_end`` that makes each epoch last 0.3 s longer (concurrency test)."""
    time.sleep(0.3)


def _concurrent_worker(directory, barrier, results, index):
    """One process of the concurrency test: wait for the others, then ask for the model."""
    import torch

    from jetad_utils.training import train_or_load

    torch.set_num_threads(1)
    train, val = make_data()
    model = new_linear()
    barrier.wait(timeout=40)  # all three start training at the same moment
    start = time.perf_counter()
    model, history = train_or_load(model, mse_loss, train, val, name="shared",
                                   directory=directory, on_epoch_end=slow_epoch,
                                   **dict(FIT, epochs=4))
    results.put((index, history["loaded"], time.perf_counter() - start,
                 {k: v.tolist() for k, v in model.state_dict().items()}))


@pytest.mark.integration
def test_concurrent_callers_train_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    n = 3
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_concurrent_worker, args=(str(tmp_path), barrier, results, i))
             for i in range(n)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 50  # the whole test stays under a minute
    try:
        got = [results.get(timeout=max(deadline - time.monotonic(), 0.1)) for _ in range(n)]
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    loaded = sorted(g[1] for g in got)
    assert loaded == [False, True, True], got
    trained_weights = got[0][3]
    assert all(g[3] == trained_weights for g in got)
    assert [p.exitcode for p in procs] == [0] * n
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".pt")]) == 1
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


# ----------------------------------------------------------------------------- full disk


def _big_run(directory):
    torch.manual_seed(0)
    model = torch.nn.Linear(200, 200)  # about 160 kB of weights
    x = torch.randn(300, 200, generator=torch.Generator().manual_seed(0))
    return train_or_load(model, mse_loss, (x, x), None, name="big", directory=directory, **FIT)


def test_full_disk_raises_and_leaves_nothing(tmpfs):
    tiny_tmpfs = tmpfs("64k")
    with pytest.raises(OSError) as info:
        _big_run(tiny_tmpfs)
    assert isinstance(info.value, NoSpaceError)
    msg = str(info.value)
    assert str(tiny_tmpfs) in msg and "JETAD_CHECKPOINTS" in msg
    assert leftovers(tiny_tmpfs) == []
    # and a small model still fits there afterwards
    _, h = run(tiny_tmpfs)
    assert h["loaded"] is False and leftovers(tiny_tmpfs) == [os.path.basename(h["path"])]


def test_no_free_space_raises_and_leaves_nothing(tmp_path, monkeypatch):
    from collections import namedtuple

    from jetad_utils import _core

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(_core.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 10, 10))
    with pytest.raises(NoSpaceError) as info:
        run(tmp_path)
    msg = str(info.value)
    assert str(tmp_path) in msg and "JETAD_CHECKPOINTS" in msg
    assert leftovers(tmp_path) == []


def test_write_failure_after_training_leaves_nothing(tmp_path, monkeypatch):
    """The space runs out while writing (the free-space check passed): NoSpaceError, no file;
    any other write error keeps its own message (make it writable, or JETAD_CHECKPOINTS)."""
    import errno

    from jetad_utils import _core

    def failing(err, text):
        def fail(*args, **kwargs):
            raise OSError(err, text)
        return fail

    with monkeypatch.context() as patch:
        patch.setattr(_core.os, "replace", failing(errno.ENOSPC, "No space left on device"))
        with pytest.raises(NoSpaceError) as info:
            run(tmp_path)
    msg = str(info.value)
    assert "JETAD_CHECKPOINTS" in msg and str(tmp_path) in msg and "half-written" in msg
    assert leftovers(tmp_path) == []

    with monkeypatch.context() as patch:
        patch.setattr(_core.tempfile, "mkstemp", failing(errno.EACCES, "Permission denied"))
        with pytest.raises(OSError) as info:
            run(tmp_path)
    assert not isinstance(info.value, NoSpaceError)
    msg = str(info.value)
    assert f"cannot write checkpoint to {tmp_path}" in msg and "JETAD_CHECKPOINTS" in msg
    assert "make it writable" in msg
    assert leftovers(tmp_path) == []
