"""A seeded torch training loop and a checkpoint cache.

The loss is always written by the notebook (it is the idea being taught) and passed in as
``loss_fn(model, batch) -> scalar tensor``; this module only does the plumbing: batching,
shuffling with a seeded generator, validation, early stopping, a progress bar, checkpoints.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import io
import json
import re
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from ._core import (
    NoSpaceError,
    check_free_space,
    checkpoint_dir,
    file_lock,
    finish_early,
    progress_bar,
    write_bytes_atomic,
)

__all__ = ["fit", "train_or_load", "batched", "evaluating", "predict", "evaluate_loss"]

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


@contextlib.contextmanager
def evaluating(model: torch.nn.Module):
    """Evaluation mode and no gradients inside the block; the model's own mode is restored after.

    Examples
    --------
    >>> net = torch.nn.Dropout(0.5).train()
    >>> with evaluating(net):
    ...     net.training, torch.is_grad_enabled()
    (False, False)
    >>> net.training
    True
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def _concat(parts):
    first = parts[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(parts)
    if isinstance(first, dict):
        return {k: torch.cat([p[k] for p in parts]) for k in first}
    return tuple(torch.cat(list(column)) for column in zip(*parts))


def predict(model: torch.nn.Module, fn, data, batch_size: int = 4096):
    """``fn(model, batch)`` over consecutive batches of ``data``, in :func:`evaluating` mode,
    concatenated along axis 0: the one batched inference loop of the package.

    Parameters
    ----------
    model : nn.Module
    fn : callable
        ``fn(model, batch) ->`` a tensor, a tuple of tensors or a dict of tensors per batch
        (events along axis 0); it moves the batch to the model's device if needed.
    data : Tensor or tuple of Tensor
        Events along axis 0 (a tuple is sliced together, as in :func:`batched`).
    batch_size : int

    Returns
    -------
    Tensor, tuple or dict of Tensor
        Like one call of ``fn``, with all events.

    Examples
    --------
    >>> net = torch.nn.Linear(2, 1)
    >>> predict(net, lambda m, x: m(x), torch.zeros(10, 2), batch_size=4).shape
    torch.Size([10, 1])
    """
    items = data if isinstance(data, tuple) else (data,)
    with evaluating(model):
        if len(items[0]) == 0:
            return fn(model, _unpack(items))
        return _concat([fn(model, batch) for batch in batched(data, batch_size)])


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


def evaluate_loss(model, loss_fn, data, batch_size: int = 4096) -> float:
    """Mean of ``loss_fn`` over ``data`` (in batches, no gradients, eval mode)."""
    items = data if isinstance(data, tuple) else (data,)
    n = len(items[0])
    total = 0.0
    with evaluating(model):
        for batch in batched(data, batch_size):
            first = batch[0] if isinstance(batch, tuple) else batch
            total += loss_fn(model, batch).item() * len(first)
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


#: the field of a checkpoint's ``meta`` that holds :func:`_weights_checksum` of its weights
_CHECKSUM_FIELD = "weights_sha256"


def _weights_checksum(state_dict) -> str:
    """sha256 over a state_dict: name, dtype, shape and raw bytes of each entry, sorted by name.

    >>> a = {"w": torch.ones(2, 3)}
    >>> _weights_checksum(a) == _weights_checksum({"w": torch.ones(2, 3)})
    True
    >>> _weights_checksum(a) == _weights_checksum({"w": torch.ones(3, 2)})
    False
    """
    h = hashlib.sha256()
    for name in sorted(state_dict):
        value = state_dict[name]
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            raw = t.reshape(-1).view(torch.uint8).numpy().tobytes()
            header = [name, str(t.dtype), list(t.shape), len(raw)]
        else:  # a module's "extra state" (rare): its repr stands for its bytes
            raw = repr(value).encode()
            header = [name, type(value).__qualname__, None, len(raw)]
        h.update(json.dumps(header).encode() + b"\n")
        h.update(raw)
    return h.hexdigest()


def _short(exc: BaseException, limit: int = 200) -> str:
    """``"Type: first line of the message"`` (its first sentence if long), at most ``limit``.

    >>> _short(ValueError("Weights only load failed. In PyTorch 2.6, we changed " + 99 * "x"))
    'ValueError: Weights only load failed'
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 100 and ". " in text:
        text = text.split(". ", 1)[0]
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_checkpoint(path: Path, key: str):
    """``(state_dict, history), None`` if ``path`` is a sound checkpoint of the run ``key``.

    Otherwise ``None, reason``: ``reason`` is ``None`` when there is no file, else a phrase
    saying what is wrong with it (unreadable, another run's key, no or a wrong checksum).
    """
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        return None, None
    except Exception as exc:  # noqa: BLE001 - any failure to read means a bad file
        return None, f"it is unreadable ({_short(exc)})"
    try:
        state, history, meta = blob["state_dict"], dict(blob["history"]), dict(blob["meta"])
        if not isinstance(state, dict):
            raise TypeError(f"its state_dict is a {type(state).__name__}")
    except Exception as exc:  # noqa: BLE001
        return None, f"it is unreadable (not a train_or_load checkpoint: {_short(exc)})"
    if meta.get("key") != key:
        return None, "it was written for another run (its key differs)"
    stored = meta.get(_CHECKSUM_FIELD)
    if stored is None:
        return None, "it has no checksum of its weights (written by an older jetad_utils)"
    try:
        actual = _weights_checksum(state)
    except Exception as exc:  # noqa: BLE001
        return None, f"it is unreadable (its weights cannot be checked: {_short(exc)})"
    if actual != stored:
        return None, "its weights do not match their checksum (corrupt file)"
    return (state, history), None


def _load_into(model: torch.nn.Module, state: dict) -> str | None:
    """Load ``state`` into ``model``; on failure leave ``model`` as it was and return why."""
    own = model.state_dict()
    if set(own) != set(state):
        missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        return f"it does not fit this model (missing {missing[:5]}, unexpected {extra[:5]})"
    for k, v in own.items():
        if getattr(v, "shape", None) != getattr(state[k], "shape", None):
            return (f"it does not fit this model ({k} has shape {tuple(state[k].shape)} instead of "
                    f"{tuple(v.shape)})")
    backup = copy.deepcopy(own)
    try:
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - restore the initial weights, then report
        model.load_state_dict(backup)
        return f"it does not fit this model ({_short(exc)})"
    return None


def _weights_nbytes(model: torch.nn.Module) -> int:
    """Bytes of ``model``'s tensors: a lower bound on the size of its checkpoint."""
    return sum(v.numel() * v.element_size() for v in model.state_dict().values()
               if isinstance(v, torch.Tensor))


def _lock_or_nothing(lock_path: Path):
    """:func:`file_lock` on ``lock_path``, or no lock if the file cannot be created there.

    A read-only directory (a shared set of trained checkpoints) can still be loaded from; a
    training there fails later, when the checkpoint is written, with a clear message.
    """
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(file_lock(lock_path))
    except OSError:
        pass
    return stack


def train_or_load(
    model: torch.nn.Module,
    loss_fn,
    train_data,
    /,
    val=None,
    *,
    name: str,
    settings: dict | None = None,
    retrain: bool = False,
    train: bool = True,
    directory=None,
    **fit_kwargs,
):
    """Train ``model`` with :func:`fit`, or load the checkpoint of an identical earlier run.

    The checkpoint key hashes everything that changes the result: ``name``, the model's
    architecture, the source of ``loss_fn``, the training and validation data, the
    :func:`fit` arguments and the free-form ``settings``. A rerun with the same key loads the
    weights in well under a second instead of training; any change retrains.

    A checkpoint cannot lie: it stores its full key and a sha256 checksum of its weights, and
    it is loaded only if both match. A file that is unreadable, corrupt (a flipped bit), written
    for another run (copied onto the path) or written before checksums existed is never loaded:
    a :class:`UserWarning` names the file and the reason, and the model is retrained and the
    file overwritten (or, with ``train=False``, a :class:`RuntimeError` is raised).

    Files are written atomically (the whole file is serialised in memory, then written to a
    temporary file and renamed), so an interrupted run or a full disk never leaves a half file.
    Processes asking for the same checkpoint at once wait for each other (a lock file
    ``<checkpoint>.lock`` next to it, left in place): one trains, the others load its result.

    Parameters
    ----------
    model : torch.nn.Module
        A freshly initialised model (its weights are replaced when a checkpoint is loaded, and
        left untouched when a checkpoint is rejected).
    loss_fn, train_data, val
        As ``loss_fn``, ``train`` and ``val`` in :func:`fit` (``model``, ``loss_fn`` and the
        training data are passed by position).
    name : str
        A short label (letters, digits, ``-_.``) used in the file name.
    settings : dict, optional
        Anything else that defines the run (e.g. ``{"beta": 0.1}``), recorded in the file.
    retrain : bool
        Ignore any existing checkpoint and train again (the file is overwritten).
    train : bool
        Whether training is allowed. With ``train=False`` a missing or bad checkpoint raises a
        :class:`RuntimeError` naming the file, the reason and the fix, instead of training
        (for code that must only use models trained before, e.g. a shared, pre-trained
        directory).
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

    Raises
    ------
    RuntimeError
        With ``train=False``, when there is no sound checkpoint for this run.
    NoSpaceError
        (an :class:`OSError`) When the disk has no room for the checkpoint; nothing is left.
    OSError
        When the checkpoint cannot be written for another reason.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise ValueError(
            f"name={name!r} must be a non-empty label of letters, digits, '-', '_' or '.'"
        )
    if not isinstance(train, (bool, np.bool_)):
        raise TypeError(
            f"train= is the yes/no switch 'may this call train' (got a {type(train).__name__}); "
            "pass the training data by position: "
            "train_or_load(model, loss_fn, train_data, val, ...)"
        )
    if retrain and not train:
        raise ValueError("retrain=True and train=False contradict each other; pass one of them")
    directory = Path(directory) if directory is not None else checkpoint_dir()
    key_fields = {
        "name": name,
        "model": str(model),
        "model_class": type(model).__qualname__,
        "loss_fn": _source_of(loss_fn),
        "train": _fingerprint_data(train_data),
        "val": _fingerprint_data(val),
        "fit": _jsonable({k: v for k, v in fit_kwargs.items() if k not in ("progress", "desc")}),
        "settings": _jsonable(settings or {}),
        "torch": torch.__version__.split("+")[0],
    }
    key = hashlib.sha256(json.dumps(key_fields, sort_keys=True).encode()).hexdigest()
    path = directory / f"{name}-{key[:16]}.pt"
    device = torch.device(fit_kwargs.get("device", "cpu"))

    def load():
        """``history, None`` if the checkpoint was loaded into ``model``, else ``None, reason``."""
        found, reason = _read_checkpoint(path, key)
        if found is None:
            return None, reason
        state, history = found
        reason = _load_into(model, state)
        if reason is not None:
            return None, reason
        model.to(device).eval()
        history.update(loaded=True, path=str(path))
        return history, None

    # a sound checkpoint needs no lock (files are replaced atomically, never rewritten in place)
    if not retrain and path.exists():
        history, _ = load()
        if history is not None:
            return model, history

    # train=False writes nothing, not even a lock file: it reports what the first look found
    lock_path = path.with_name(path.name + ".lock")
    with _lock_or_nothing(lock_path) if train else contextlib.nullcontext():
        reason = None
        if not retrain:  # again, under the lock: another process may just have written it
            history, reason = load()
            if history is not None:
                return model, history
        if not train:
            if reason is None:
                problem = f"there is no checkpoint {path} for this run"
                remedy = "run it once with training allowed (train=True) to create it"
            else:
                problem = f"checkpoint {path}: {reason}"
                remedy = ("run it with training allowed (train=True) to retrain it, or delete "
                          "the file")
            raise RuntimeError(f"{problem}; train_or_load(..., train=False) does not train: "
                               f"{remedy}")
        if reason is not None:
            warnings.warn(f"checkpoint {path}: {reason}; it is not loaded: the model is retrained "
                          "and the file overwritten", UserWarning, stacklevel=2)

        what = f"the checkpoint {path.name}"
        fix = "free some space or set JETAD_CHECKPOINTS to a directory on a disk with room"
        # fail before a long training, not after it, if the weights alone cannot fit
        check_free_space(directory, _weights_nbytes(model), what, fix)
        history = fit(model, loss_fn, train_data, val, **fit_kwargs)
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        blob = {
            "state_dict": state,
            "history": {k: v for k, v in history.items()},
            "meta": {"key": key, "name": name, "settings": json.dumps(key_fields["settings"]),
                     "fit": json.dumps(key_fields["fit"]), "torch": key_fields["torch"],
                     _CHECKSUM_FIELD: _weights_checksum(state)},
        }
        buffer = io.BytesIO()
        torch.save(blob, buffer)
        try:
            write_bytes_atomic(path, buffer.getvalue(), what=what, fix=fix)
        except NoSpaceError:
            raise
        except OSError as exc:
            raise OSError(
                f"cannot write checkpoint to {directory} ({exc.strerror or exc}); make it writable "
                "or set JETAD_CHECKPOINTS to a directory you own"
            ) from exc
    history.update(loaded=False, path=str(path))
    return model, history
