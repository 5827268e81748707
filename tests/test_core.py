"""Tests of jetad_utils._core: seeds, fast mode, devices, cache directories, check_between."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import jetad_utils
from jetad_utils import _core, check_between, checkpoint_dir, data_dir, fast_mode, get_device, set_seed


@pytest.fixture
def clean_env(monkeypatch):
    """No JETAD_* variable leaks in from the environment running the tests."""
    for var in ("JETAD_FAST", "JETAD_DATA", "JETAD_CHECKPOINTS"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


# ----------------------------------------------------------------------------- set_seed


def _draws():
    return (
        random.random(),
        np.random.rand(4).copy(),
        torch.rand(4).clone(),
    )


def test_set_seed_same_seed_same_draws():
    gen_a = set_seed(123)
    py_a, np_a, torch_a = _draws()
    ga = gen_a.normal(size=5)
    gen_b = set_seed(123)
    py_b, np_b, torch_b = _draws()
    gb = gen_b.normal(size=5)
    assert py_a == py_b
    np.testing.assert_array_equal(np_a, np_b)
    assert torch.equal(torch_a, torch_b)
    np.testing.assert_array_equal(ga, gb)
    assert isinstance(gen_a, np.random.Generator)


def test_set_seed_different_seed_different_draws():
    set_seed(1)
    _, np_a, torch_a = _draws()
    set_seed(2)
    _, np_b, torch_b = _draws()
    assert not np.array_equal(np_a, np_b)
    assert not torch.equal(torch_a, torch_b)


def test_set_seed_accepts_numpy_integer_and_large_seed():
    a = set_seed(np.int64(7)).normal(size=3)
    b = set_seed(7).normal(size=3)
    np.testing.assert_array_equal(a, b)
    set_seed(2**40)  # larger than numpy's legacy 32-bit seed range: must not raise


@pytest.mark.parametrize("bad", [-1, 1.5, "3", None, True])
def test_set_seed_bad_seed(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        set_seed(bad)


# ----------------------------------------------------------------------------- fast_mode


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on", " On "])
def test_fast_mode_true(clean_env, value):
    clean_env.setenv("JETAD_FAST", value)
    assert fast_mode() is True


@pytest.mark.parametrize("value", ["0", "false", "False", "no", "off", ""])
def test_fast_mode_false(clean_env, value):
    clean_env.setenv("JETAD_FAST", value)
    assert fast_mode() is False


def test_fast_mode_unset_is_false(clean_env):
    assert fast_mode() is False


@pytest.mark.parametrize("value", ["maybe", "2", "fast"])
def test_fast_mode_invalid(clean_env, value):
    clean_env.setenv("JETAD_FAST", value)
    with pytest.raises(ValueError) as info:
        fast_mode()
    msg = str(info.value)
    assert "JETAD_FAST" in msg
    assert repr(value) in msg  # names the bad value
    assert "JETAD_FAST=1" in msg and "JETAD_FAST=0" in msg  # and the fix


# ----------------------------------------------------------------------------- get_device


def test_get_device_cpu():
    dev = get_device("cpu")
    assert isinstance(dev, torch.device)
    assert dev.type == "cpu"


def test_get_device_auto_returns_a_usable_device():
    dev = get_device("auto")
    assert dev.type in {"cpu", "cuda", "mps"}
    assert torch.zeros(2, device=dev).sum().item() == 0.0


@pytest.mark.parametrize("bad", ["gpu", "banana", "", 3.5])
def test_get_device_bad(bad):
    with pytest.raises(ValueError, match="unknown device"):
        get_device(bad)


def test_get_device_cuda_without_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        get_device("cuda")


# ----------------------------------------------------------------------------- directories


def test_data_dir_honours_env(clean_env, tmp_path):
    clean_env.setenv("JETAD_DATA", str(tmp_path / "shared"))
    assert data_dir() == (tmp_path / "shared").resolve()


def test_data_dir_expands_user(clean_env, tmp_path):
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.setenv("JETAD_DATA", "~/somewhere")
    assert data_dir() == (tmp_path / "somewhere").resolve()


def test_data_dir_default_is_repo_data(clean_env):
    repo_data = Path(__file__).resolve().parents[1] / "data"
    assert data_dir() == repo_data


def test_checkpoint_dir_under_writable_data(clean_env, tmp_path):
    clean_env.setenv("JETAD_DATA", str(tmp_path))
    assert checkpoint_dir() == tmp_path.resolve() / "checkpoints"


def test_checkpoints_env_wins(clean_env, tmp_path):
    clean_env.setenv("JETAD_DATA", str(tmp_path / "data"))
    clean_env.setenv("JETAD_CHECKPOINTS", str(tmp_path / "ckpt"))
    assert checkpoint_dir() == (tmp_path / "ckpt").resolve()


def test_checkpoints_env_wins_even_if_data_read_only(clean_env, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    clean_env.setenv("JETAD_DATA", str(blocker / "data"))
    clean_env.setenv("JETAD_CHECKPOINTS", str(tmp_path / "ckpt"))
    assert checkpoint_dir() == (tmp_path / "ckpt").resolve()


def test_writable_helper(tmp_path):
    assert _core._writable(tmp_path) is True
    assert _core._writable(tmp_path / "not" / "yet" / "created") is True
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert _core._writable(blocker) is False
    assert _core._writable(blocker / "child" / "grandchild") is False


def test_checkpoint_dir_falls_back_when_data_not_creatable(clean_env, tmp_path):
    """$JETAD_DATA under a regular file can never be created: works for root too."""
    home = tmp_path / "home"
    home.mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    clean_env.setenv("HOME", str(home))
    clean_env.setenv("JETAD_DATA", str(blocker / "shared"))
    assert checkpoint_dir() == home / ".cache" / "jetad" / "checkpoints"


def test_checkpoint_dir_falls_back_when_data_read_only(clean_env, tmp_path):
    """A shared read-only $JETAD_DATA (chmod 0o555) is never written to."""
    home = tmp_path / "home"
    home.mkdir()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o555)
    try:
        clean_env.setenv("HOME", str(home))
        clean_env.setenv("JETAD_DATA", str(shared))
        if os.access(shared, os.W_OK):
            # running as root: os.access ignores permission bits, so emulate what a normal
            # user sees (the real _writable is covered by the not-creatable test above)
            assert _core._writable(shared / "checkpoints") is True
            clean_env.setattr(_core, "_writable", lambda path: False)
        else:
            assert _core._writable(shared / "checkpoints") is False
        assert checkpoint_dir() == home / ".cache" / "jetad" / "checkpoints"
        assert not (shared / "checkpoints").exists()  # nothing created in the shared dir
    finally:
        shared.chmod(0o755)


def test_package_exports():
    for name in ("set_seed", "fast_mode", "get_device", "data_dir", "checkpoint_dir", "check_between"):
        assert name in jetad_utils.__all__
        assert callable(getattr(jetad_utils, name))


# ----------------------------------------------------------------------------- check_between


def test_check_between_passes_and_returns_float():
    assert check_between("AUC", 0.93, 0.9, 1.0) == 0.93
    assert check_between("AUC", 0.9, 0.9, 1.0) == 0.9  # inclusive bounds
    assert check_between("AUC", 1.0, 0.9, 1.0) == 1.0
    out = check_between("x", np.float32(2.5), 0, 3)
    assert isinstance(out, float) and out == 2.5
    assert check_between("t", torch.tensor(0.25), 0, 1) == 0.25
    assert check_between("one-sided", 1e9, 0, math.inf) == 1e9


@pytest.mark.parametrize("value", [0.42, 1.01, -math.inf])
def test_check_between_fails_with_name_and_range(value):
    with pytest.raises(AssertionError) as info:
        check_between("signal AUC", value, 0.9, 1.0)
    msg = str(info.value)
    assert "signal AUC" in msg
    assert "[0.9, 1]" in msg


def test_check_between_message_exact():
    with pytest.raises(AssertionError, match=r"AUC = 0\.42 is outside the expected range \[0\.9, 1\]"):
        check_between("AUC", 0.42, 0.9, 1.0)


def test_check_between_nan_fails():
    with pytest.raises(AssertionError, match="loss"):
        check_between("loss", float("nan"), -math.inf, math.inf)


def test_check_between_lo_above_hi():
    with pytest.raises(ValueError, match="lo=2 is larger than hi=1"):
        check_between("x", 1.5, 2, 1)


def test_check_between_logs_every_check_when_asked(monkeypatch, tmp_path):
    import json

    log = tmp_path / "checks.jsonl"
    monkeypatch.delenv("JETAD_CHECK_LOG", raising=False)
    check_between("not logged", 0.5, 0, 1)
    assert not log.exists()
    monkeypatch.setenv("JETAD_CHECK_LOG", str(log))
    check_between("AUC", 0.93, 0.9, 1.0)
    with pytest.raises(AssertionError):
        check_between("Z", -1.0, 0.0, math.inf)        # a failing check is logged too
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows == [{"name": "AUC", "value": 0.93, "lo": 0.9, "hi": 1.0},
                    {"name": "Z", "value": -1.0, "lo": 0.0, "hi": math.inf}]
