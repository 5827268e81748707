"""Tests of jetad_utils.training: the seeded fit loop and the train_or_load checkpoint cache.

Everything is tiny (a few hundred events, a few epochs) and written to tmp_path only.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from jetad_utils import set_seed
from jetad_utils.models import DenseAutoencoder
from jetad_utils.training import batched, evaluate_loss, fit, train_or_load

N_FEATURES = 4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def mse_loss(model, batch):
    return ((model(batch) - batch) ** 2).mean()


def mae_loss(model, batch):
    return (model(batch) - batch).abs().mean()


@pytest.fixture(scope="module")
def gaussian_data():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(N_FEATURES, N_FEATURES))
    x = rng.normal(size=(400, N_FEATURES)) @ a.T
    return x[:300].astype(np.float32), x[300:].astype(np.float32)


def new_ae(seed=0):
    set_seed(seed)
    return DenseAutoencoder(N_FEATURES, 2, hidden=(16,))


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


# ----------------------------------------------------------------------------- fit


def test_fit_reduces_loss(gaussian_data):
    train, val = gaussian_data
    model = new_ae()
    val_t = torch.as_tensor(val)
    before = evaluate_loss(model, mse_loss, (val_t,))
    hist = fit(model, mse_loss, train, val, epochs=15, batch_size=32, lr=1e-2, progress=False)
    after = evaluate_loss(model, mse_loss, (val_t,))
    assert after < 0.5 * before
    assert hist["epochs"] == 15
    assert len(hist["train_loss"]) == 15 and len(hist["val_loss"]) == 15
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0]
    assert hist["val_loss"][-1] == pytest.approx(after, rel=1e-5)
    assert hist["seconds"] > 0
    assert not model.training  # returned in eval mode


def test_fit_is_deterministic_on_cpu(gaussian_data):
    train, val = gaussian_data
    m1, m2 = new_ae(3), new_ae(3)
    assert same_weights(m1, m2)  # same initialisation
    h1 = fit(m1, mse_loss, train, val, epochs=4, batch_size=32, seed=7, progress=False)
    h2 = fit(m2, mse_loss, train, val, epochs=4, batch_size=32, seed=7, progress=False)
    assert same_weights(m1, m2)
    assert h1["train_loss"] == h2["train_loss"]
    assert h1["val_loss"] == h2["val_loss"]


def test_fit_seed_changes_shuffling(gaussian_data):
    train, _ = gaussian_data
    m1, m2 = new_ae(3), new_ae(3)
    fit(m1, mse_loss, train, epochs=2, batch_size=32, seed=1, progress=False)
    fit(m2, mse_loss, train, epochs=2, batch_size=32, seed=2, progress=False)
    assert not same_weights(m1, m2)


def _slope_loss(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def _slope_problem():
    """``(model, x, xv)``: one weight w = 0 (``Linear(1, 1)``, no bias) and seeded inputs, 200 to
    train on and 100 to validate on (the tests pair them with y = 2 x and y = x)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 1, generator=gen)
    xv = torch.randn(100, 1, generator=gen)
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()
    return model, x, xv


def test_fit_early_stopping_restores_best():
    # one weight w, starts at 0; training pulls it to 2, validation prefers 1:
    # the validation loss falls, then rises once w passes 1
    model, x, xv = _slope_problem()
    train, val = (x, 2 * x), (xv, 1 * xv)
    patience, epochs = 3, 200
    hist = fit(
        model, _slope_loss, train, val,
        epochs=epochs, batch_size=50, lr=0.02, optimizer="sgd", patience=patience, progress=False,
    )
    vl = hist["val_loss"]
    assert hist["epochs"] < epochs
    assert hist["epochs"] == len(vl) == hist["best_epoch"] + 1 + patience
    assert hist["best_epoch"] == int(np.argmin(vl))
    assert vl[-1] > min(vl)  # it did get worse before stopping
    # the returned model is the best one, not the last one
    restored = evaluate_loss(model, _slope_loss, (xv, xv))
    assert restored == pytest.approx(min(vl), abs=1e-6)
    assert abs(model.weight.item() - 1.0) < 0.2


def test_fit_without_patience_keeps_last_weights():
    model, x, xv = _slope_problem()
    hist = fit(model, _slope_loss, (x, 2 * x), (xv, xv), epochs=60, batch_size=50, lr=0.02,
               optimizer="sgd", progress=False)
    assert hist["epochs"] == 60
    assert evaluate_loss(model, _slope_loss, (xv, xv)) == pytest.approx(hist["val_loss"][-1], abs=1e-6)
    assert model.weight.item() > 1.5


def test_fit_patience_without_val(gaussian_data):
    train, _ = gaussian_data
    with pytest.raises(ValueError, match="needs validation data"):
        fit(new_ae(), mse_loss, train, patience=2, epochs=3, progress=False)


def test_fit_unknown_optimizer(gaussian_data):
    train, _ = gaussian_data
    with pytest.raises(ValueError) as info:
        fit(new_ae(), mse_loss, train, optimizer="lbfgs", epochs=1, progress=False)
    msg = str(info.value)
    assert "unknown optimizer 'lbfgs'" in msg
    for choice in ("adam", "adamw", "adadelta", "sgd"):
        assert repr(choice) in msg


def test_fit_optimizer_callable(gaussian_data):
    train, _ = gaussian_data
    seen = []

    def make(params):
        opt = torch.optim.SGD(params, lr=1e-3)
        seen.append(opt)
        return opt

    fit(new_ae(), mse_loss, train, optimizer=make, epochs=1, progress=False)
    assert len(seen) == 1


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"batch_size": 0}])
def test_fit_bad_sizes(gaussian_data, kwargs):
    train, _ = gaussian_data
    with pytest.raises(ValueError, match="must be positive"):
        fit(new_ae(), mse_loss, train, progress=False, **kwargs)


def test_fit_empty_train():
    with pytest.raises(ValueError, match="empty"):
        fit(new_ae(), mse_loss, np.zeros((0, N_FEATURES), np.float32), epochs=1, progress=False)


def test_fit_mismatched_tuple_lengths():
    with pytest.raises(ValueError, match="same length"):
        fit(torch.nn.Linear(1, 1), _slope_loss, (np.zeros((5, 1)), np.zeros((4, 1))), epochs=1,
            progress=False)


def test_fit_non_finite_loss(gaussian_data):
    train, _ = gaussian_data
    bad = train.copy()
    bad[0, 0] = np.nan
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(new_ae(), mse_loss, bad, epochs=1, batch_size=1000, progress=False)


def test_fit_on_epoch_end_can_stop(gaussian_data):
    train, _ = gaussian_data
    calls = []

    def stop_after_two(model, history):
        calls.append(history["epochs"])
        return history["epochs"] >= 2

    hist = fit(new_ae(), mse_loss, train, epochs=10, on_epoch_end=stop_after_two, progress=False)
    assert hist["epochs"] == 2 and calls == [1, 2]


def test_batched():
    sizes = [len(b) for b in batched(torch.zeros(10, 2), 4)]
    assert sizes == [4, 4, 2]
    pairs = list(batched((torch.arange(5), torch.arange(5) * 2), 2))
    assert len(pairs) == 3
    assert torch.equal(pairs[-1][1], torch.tensor([8]))


# ----------------------------------------------------------------------------- train_or_load

FIT = dict(epochs=3, batch_size=64, lr=1e-2, progress=False)


def _run(tmp_path, data, **overrides):
    kwargs = dict(name="ae", directory=tmp_path, **FIT)
    loss = overrides.pop("loss_fn", mse_loss)
    kwargs.update(overrides)
    train, val = data
    model = new_ae(0)
    return train_or_load(model, loss, train, val, **kwargs)


def _ckpt_files(directory):
    return sorted(p.name for p in directory.iterdir() if p.suffix == ".pt")


def test_train_or_load_trains_then_loads(tmp_path, gaussian_data):
    m1, h1 = _run(tmp_path, gaussian_data)
    assert h1["loaded"] is False
    assert os.path.exists(h1["path"])
    assert _ckpt_files(tmp_path) == [os.path.basename(h1["path"])]
    assert os.path.basename(h1["path"]).startswith("ae-")

    # the second call starts from a different initialisation, so loading must replace it
    set_seed(99)
    fresh = DenseAutoencoder(N_FEATURES, 2, hidden=(16,))
    assert not same_weights(fresh, m1)
    train, val = gaussian_data
    m2, h2 = train_or_load(fresh, mse_loss, train, val, name="ae", directory=tmp_path, **FIT)
    assert h2["loaded"] is True
    assert h2["path"] == h1["path"]
    assert same_weights(m1, m2)
    assert not m2.training
    with torch.no_grad():
        x = torch.as_tensor(val)
        assert torch.equal(m1(x), m2(x))
    assert h2["train_loss"] == h1["train_loss"]
    assert h2["val_loss"] == h1["val_loss"]
    assert _ckpt_files(tmp_path) == [os.path.basename(h1["path"])]


def test_progress_flag_does_not_change_key(tmp_path, gaussian_data):
    _, h1 = _run(tmp_path, gaussian_data)
    _, h2 = _run(tmp_path, gaussian_data, progress=True, desc="other label")
    assert h2["loaded"] is True and h2["path"] == h1["path"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"lr": 5e-3}, id="lr"),
        pytest.param({"epochs": 2}, id="epochs"),
        pytest.param({"seed": 1}, id="seed"),
        pytest.param({"settings": {"beta": 0.1}}, id="settings"),
        pytest.param({"loss_fn": mae_loss}, id="loss_fn"),
        pytest.param({"name": "ae2"}, id="name"),
        pytest.param({"data": "train"}, id="train-data"),
        pytest.param({"data": "val"}, id="val-data"),
    ],
)
def test_train_or_load_change_retrains(tmp_path, gaussian_data, change):
    _, h1 = _run(tmp_path, gaussian_data, settings={"beta": 0.0})
    change = dict(change)
    data = gaussian_data
    which = change.pop("data", None)
    if which == "train":
        data = (data[0] * 1.01, data[1])
    elif which == "val":
        data = (data[0], data[1][:-1])
    change.setdefault("settings", {"beta": 0.0})
    _, h2 = _run(tmp_path, data, **change)
    assert h2["loaded"] is False
    assert h2["path"] != h1["path"]
    assert len(_ckpt_files(tmp_path)) == 2
    # and the original run is still cached
    _, h3 = _run(tmp_path, gaussian_data, settings={"beta": 0.0})
    assert h3["loaded"] is True and h3["path"] == h1["path"]


def test_train_or_load_settings_dict_order_irrelevant(tmp_path, gaussian_data):
    _, h1 = _run(tmp_path, gaussian_data, settings={"a": 1, "b": 2})
    _, h2 = _run(tmp_path, gaussian_data, settings={"b": 2, "a": 1})
    assert h2["loaded"] is True and h2["path"] == h1["path"]


def test_train_or_load_corrupt_checkpoint(tmp_path, gaussian_data):
    _, h1 = _run(tmp_path, gaussian_data)
    with open(h1["path"], "wb") as fh:
        fh.write(b"\x00\x01garbage, not a torch file\xff" * 10)
    with pytest.raises(RuntimeError) as info:  # a call that may not train says what to do
        _run(tmp_path, gaussian_data, train=False)
    msg = str(info.value)
    assert h1["path"] in msg and "unreadable" in msg and "delete the file" in msg
    # one that may train warns, retrains and overwrites the bad file; loading then works again
    with pytest.warns(UserWarning, match="unreadable"):
        m2, h2 = _run(tmp_path, gaussian_data)
    assert h2["loaded"] is False and h2["path"] == h1["path"]
    m3, h3 = _run(tmp_path, gaussian_data)
    assert h3["loaded"] is True and same_weights(m2, m3)


def test_train_or_load_retrain(tmp_path, gaussian_data):
    m1, h1 = _run(tmp_path, gaussian_data)
    mtime = os.stat(h1["path"]).st_mtime_ns
    m2, h2 = _run(tmp_path, gaussian_data, retrain=True)
    assert h2["loaded"] is False
    assert h2["path"] == h1["path"]
    assert same_weights(m1, m2)  # same seed, same data: the same model again
    assert os.stat(h1["path"]).st_mtime_ns >= mtime
    assert _ckpt_files(tmp_path) == [os.path.basename(h1["path"])]


def test_train_or_load_leaves_no_temporary_files(tmp_path, gaussian_data):
    _run(tmp_path, gaussian_data)
    _run(tmp_path, gaussian_data, lr=2e-2)
    _run(tmp_path, gaussian_data, retrain=True)
    names = os.listdir(tmp_path)
    assert not [n for n in names if n.endswith(".tmp")], names
    checkpoints = [n for n in names if not n.endswith(".pt.lock")]  # lock files stay, by design
    assert len(checkpoints) == 2 and all(n.endswith(".pt") for n in checkpoints), names


def test_train_or_load_creates_directory(tmp_path, gaussian_data):
    target = tmp_path / "nested" / "ckpt"
    _, h = _run(target, gaussian_data)
    assert h["loaded"] is False and os.path.dirname(h["path"]) == str(target)


def test_train_or_load_wrong_architecture(tmp_path, gaussian_data):
    _, h1 = _run(tmp_path, gaussian_data)
    # same key fields except the model: forge a checkpoint collision by copying the file
    other = torch.nn.Linear(N_FEATURES, N_FEATURES)
    train, val = gaussian_data
    _, h_other = train_or_load(other, mse_loss, train, val, name="ae", directory=tmp_path, **FIT)
    assert h_other["path"] != h1["path"]  # the architecture is part of the key
    os.replace(h1["path"], h_other["path"])  # now the Linear's file holds autoencoder weights
    with pytest.warns(UserWarning, match="another run"):
        _, h = train_or_load(torch.nn.Linear(N_FEATURES, N_FEATURES), mse_loss, train, val,
                             name="ae", directory=tmp_path, **FIT)
    assert h["loaded"] is False


@pytest.mark.parametrize("name", ["", "a/b", "../x", "with space", None, 3])
def test_train_or_load_bad_name(tmp_path, gaussian_data, name):
    with pytest.raises(ValueError, match="must be a non-empty label"):
        _run(tmp_path, gaussian_data, name=name)
    assert os.listdir(tmp_path) == []


def test_progress_bar_after_early_stop_is_complete_not_red(capsys, monkeypatch):
    """The bar of a training stopped early ends at the epochs run, not red at "53 % 32/60"."""
    monkeypatch.setenv("TQDM_MININTERVAL", "0")
    model, x, xv = _slope_problem()
    hist = fit(model, _slope_loss, (x, 2 * x), (xv, xv), epochs=200, batch_size=50, lr=0.02,
               optimizer="sgd", patience=3, progress=True, desc="slope")
    err = capsys.readouterr().err
    n = hist["epochs"]
    assert n < 200
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert f"{n}/{n}" in last and "100%" in last, last
    assert f"stopped early after {n} of 200 epochs, best epoch {hist['best_epoch'] + 1}" in last


def test_finish_early_keeps_a_notebook_bar_from_turning_red():
    from tqdm.notebook import tqdm as notebook_tqdm

    from jetad_utils._core import finish_early

    stopped, failed = notebook_tqdm(total=60, leave=True), notebook_tqdm(total=60, leave=True)
    for bar in (stopped, failed):
        bar.update(33)
    finish_early(stopped, "early stop")
    stopped.close(), failed.close()
    style = {b: b.container.children[1].bar_style for b in (stopped, failed)}
    assert style[failed] == "danger"  # what tqdm does to a bar closed short of its total
    assert style[stopped] == "success"
    assert stopped.container.children[1].max == 33
