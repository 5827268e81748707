"""A seeded torch training loop and a checkpoint cache.

The loss is always written by the notebook (it is the idea being taught) and passed in as
``loss_fn(model, batch) -> scalar tensor``; this module only does the plumbing: batching,
shuffling with a seeded generator, validation, early stopping, a progress bar, checkpoints.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import re
import time
from pathlib import Path

import numpy as np
import torch

from ._core import atomic_write, checkpoint_dir, finish_early, progress_bar

__all__ = ["fit", "train_or_load", "batched"]

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adadelta": torch.optim.Adadelta,
    "sgd": torch.optim.SGD,
}


def _as_tensors(data, device):
    """Turn an array, a tensor or a tuple of them into a tuple of float/int tensors."""
    if data is None:
        return None
    items = data if isinstance(data, (tuple, list)) else (data,)
    out = []
    for item in items:
        t = item if isinstance(item, torch.Tensor) else torch.as_tensor(np.asarray(item))
        if t.is_floating_point():
            t = t.float()
        out.append(t.to(device))
    n = len(out[0])
    if any(len(t) != n for t in out):
        raise ValueError(
            f"all arrays passed as one data set must have the same length along axis 0; got "
            f"{[len(t) for t in out]}"
        )
    return tuple(out)


def _unpack(batch):
    return batch[0] if len(batch) == 1 else batch


def batched(data, batch_size: int = 4096):
    """Yield consecutive slices of a tensor or tuple of tensors (no shuffling).

    Parameters
    ----------
    data : Tensor or tuple of Tensor
        Events along axis 0.
    batch_size : int

    Examples
    --------
    >>> [len(b) for b in batched(torch.zeros(10, 2), 4)]
    [4, 4, 2]
    """
    items = data if isinstance(data, tuple) else (data,)
    n = len(items[0])
    for i in range(0, n, batch_size):
        yield _unpack(tuple(t[i : i + batch_size] for t in items))


def _make_optimizer(optimizer, params, lr):
    if callable(optimizer) and not isinstance(optimizer, str):
        return optimizer(params)
    try:
        cls = _OPTIMIZERS[optimizer.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown optimizer {optimizer!r}; use one of {sorted(_OPTIMIZERS)} or pass a "
            "function params -> torch.optim.Optimizer"
        ) from None
    return cls(params, lr=lr)


def fit(
    model: torch.nn.Module,
    loss_fn,
    train,
    val=None,
    *,
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    optimizer="adam",
    patience: int | None = None,
    seed: int = 0,
    device="cpu",
    progress: bool = True,
    desc: str | None = None,
    on_epoch_end=None,
) -> dict:
    """Train ``model`` by minimising ``loss_fn`` with mini-batches.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place.
    loss_fn : callable
        ``loss_fn(model, batch) -> scalar tensor``, the mean loss over the batch. ``batch`` is
        a tensor, or a tuple of tensors if ``train`` is a tuple.
    train, val : array_like, Tensor, or tuple of them
        Training and validation data, events along axis 0.
    epochs : int
        Maximum number of epochs.
    batch_size : int
    lr : float
        Learning rate (ignored when ``optimizer`` is a callable).
    optimizer : {"adam", "adamw", "adadelta", "sgd"} or callable
        Name, or ``params -> torch.optim.Optimizer``.
    patience : int, optional
        Early stopping: stop when the validation loss has not improved for this many epochs
        and restore the best weights. Needs ``val``.
    seed : int
        Seeds the initial shuffles, so a run is reproducible on the CPU.
    device : str or torch.device
    progress : bool
        Show a tqdm bar over epochs.
    desc : str, optional
        Label of the progress bar.
    on_epoch_end : callable, optional
        ``on_epoch_end(model, history) -> bool | None``, called after each epoch; return
        ``True`` to stop training. It may append its own entries to ``history``.

    Returns
    -------
    dict
        ``train_loss`` and ``val_loss`` (per epoch), ``best_epoch`` (0-based), ``epochs``
        (run), ``seconds``.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    if patience is not None and val is None:
        raise ValueError("early stopping (patience=...) needs validation data: pass val=...")
    device = torch.device(device)
    model.to(device)
    train_t = _as_tensors(train, device)
    val_t = _as_tensors(val, device)
    n = len(train_t[0])
    if n == 0:
        raise ValueError("the training set is empty")
    opt = _make_optimizer(optimizer, model.parameters(), lr)
    gen = torch.Generator().manual_seed(int(seed))
    history = {"train_loss": [], "val_loss": [], "best_epoch": 0, "epochs": 0, "seconds": 0.0}
    best_loss, best_state, since_best = np.inf, None, 0
    start = time.perf_counter()
    bar = progress_bar(epochs, desc or type(model).__name__, unit="epoch", enabled=progress)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen).to(device)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            batch = _unpack(tuple(t[idx] for t in train_t))
            loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} at epoch {epoch}; lower the learning rate "
                    "or check the inputs for NaN/inf"
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history["train_loss"].append(total / n)
        if val_t is not None:
            history["val_loss"].append(evaluate_loss(model, loss_fn, val_t, batch_size=4096))
            current = history["val_loss"][-1]
        else:
            current = history["train_loss"][-1]
        history["epochs"] = epoch + 1
        if current < best_loss:
            best_loss, since_best = current, 0
            history["best_epoch"] = epoch
            if patience is not None:
                best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.4g}", val=f"{current:.4g}", refresh=False)
        bar.update(1)
        stop = bool(on_epoch_end(model, history)) if on_epoch_end is not None else False
        if stop or (patience is not None and since_best >= patience):
            if epoch + 1 < epochs:
                finish_early(bar, f"stopped early after {epoch + 1} of {epochs} epochs, best "
                                  f"epoch {history['best_epoch'] + 1}")
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    history["seconds"] = time.perf_counter() - start
    model.eval()
    return history


@torch.no_grad()
def evaluate_loss(model, loss_fn, data, batch_size: int = 4096) -> float:
    """Mean of ``loss_fn`` over ``data`` (in batches, no gradients, eval mode)."""
    was_training = model.training
    model.eval()
    items = data if isinstance(data, tuple) else (data,)
    n = len(items[0])
    total = 0.0
    for i in range(0, n, batch_size):
        batch = _unpack(tuple(t[i : i + batch_size] for t in items))
        total += loss_fn(model, batch).item() * len(items[0][i : i + batch_size])
    model.train(was_training)
    return total / n


# ----------------------------------------------------------------------------- checkpoints


def _fingerprint_data(data) -> str:
    h = hashlib.sha256()
    if data is None:
        return "none"
    items = data if isinstance(data, (tuple, list)) else (data,)
    for item in items:
        arr = item.detach().cpu().numpy() if isinstance(item, torch.Tensor) else np.asarray(item)
        arr = np.ascontiguousarray(arr)
        h.update(str((arr.shape, arr.dtype.str)).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _source_of(fn) -> str:
    if fn is None:
        return ""
    if isinstance(fn, str):
        return fn
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        return code.co_code.hex() if code is not None else repr(fn)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if callable(value):
        return _source_of(value)
    return repr(value)


def train_or_load(
    model: torch.nn.Module,
    loss_fn,
    train,
    val=None,
    *,
    name: str,
    settings: dict | None = None,
    retrain: bool = False,
    directory=None,
    **fit_kwargs,
):
    """Train ``model`` with :func:`fit`, or load the checkpoint of an identical earlier run.

    The checkpoint key hashes everything that changes the result: ``name``, the model's
    architecture, the source of ``loss_fn``, the training and validation data, the
    :func:`fit` arguments and the free-form ``settings``. A rerun with the same key loads the
    weights in well under a second instead of training; any change retrains. Files are written
    atomically (temporary file, then rename), so an interrupted run never leaves a half file.

    Parameters
    ----------
    model : torch.nn.Module
        A freshly initialised model (its weights are replaced when a checkpoint is loaded).
    loss_fn, train, val
        As in :func:`fit`.
    name : str
        A short label (letters, digits, ``-_.``) used in the file name.
    settings : dict, optional
        Anything else that defines the run (e.g. ``{"beta": 0.1}``), recorded in the file.
    retrain : bool
        Ignore an existing checkpoint and train again.
    directory : path, optional
        Where checkpoints live; default :func:`jetad_utils.checkpoint_dir`.
    **fit_kwargs
        Passed to :func:`fit` (``epochs``, ``batch_size``, ``lr``, ``seed``, ...).

    Returns
    -------
    model : torch.nn.Module
        In eval mode.
    history : dict
        As returned by :func:`fit`, plus ``loaded`` (bool) and ``path``.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise ValueError(
            f"name={name!r} must be a non-empty label of letters, digits, '-', '_' or '.'"
        )
    directory = Path(directory) if directory is not None else checkpoint_dir()
    key_fields = {
        "name": name,
        "model": str(model),
        "model_class": type(model).__qualname__,
        "loss_fn": _source_of(loss_fn),
        "train": _fingerprint_data(train),
        "val": _fingerprint_data(val),
        "fit": _jsonable({k: v for k, v in fit_kwargs.items() if k not in ("progress", "desc")}),
        "settings": _jsonable(settings or {}),
        "torch": torch.__version__.split("+")[0],
    }
    key = hashlib.sha256(json.dumps(key_fields, sort_keys=True).encode()).hexdigest()
    path = directory / f"{name}-{key[:16]}.pt"
    device = torch.device(fit_kwargs.get("device", "cpu"))

    if path.exists() and not retrain:
        try:
            blob = torch.load(path, map_location=device, weights_only=True)
            model.load_state_dict(blob["state_dict"])
            history = dict(blob["history"])
        except Exception as exc:  # noqa: BLE001 - any failure to read means a bad file
            raise RuntimeError(
                f"checkpoint {path} is corrupt or was written by an incompatible model "
                f"({type(exc).__name__}: {exc}); delete the file or call train_or_load(..., "
                "retrain=True)"
            ) from exc
        model.to(device).eval()
        history.update(loaded=True, path=str(path))
        return model, history

    history = fit(model, loss_fn, train, val, **fit_kwargs)
    blob = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": {k: v for k, v in history.items()},
        "meta": {"key": key, "name": name, "settings": json.dumps(key_fields["settings"]),
                 "fit": json.dumps(key_fields["fit"]), "torch": key_fields["torch"]},
    }
    try:
        with atomic_write(path) as fh:
            torch.save(blob, fh)
    except OSError as exc:
        raise OSError(
            f"cannot write checkpoint to {directory} ({exc.strerror}); make it writable or set "
            "JETAD_CHECKPOINTS to a directory you own"
        ) from exc
    history.update(loaded=False, path=str(path))
    return model, history
