"""Tests of the scan engine jetad_utils.scans on tiny synthetic images (seconds).

Background: centred one-prong blobs; "signals": two-prong images and wide blobs. Every test
writes checkpoints and tables to its own temporary directory.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from jetad_utils import scans
from jetad_utils.scans import GridPoint, ScanTable, make_grid, run_scan

SIZE = 8
TRAINING = {"epochs": 3, "batch_size": 64, "lr": 3e-3, "patience": 2}
NUMERIC = ["val_loss", "val_recon", "val_kl", "val_mse", "epochs", "best_epoch",
           "auc_two_prong_recon", "auc_two_prong_kl", "auc_two_prong_loss",
           "auc_wide_recon", "auc_wide_kl", "auc_wide_loss", "sic_two_prong_recon"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _blobs(n, rng, centres, width):
    ax = np.arange(SIZE) - (SIZE - 1) / 2
    yy, xx = np.meshgrid(ax, ax, indexing="ij")
    img = np.zeros((n, SIZE, SIZE))
    for cy, cx in centres:
        y0 = cy + rng.normal(0, 0.3, (n, 1, 1))
        x0 = cx + rng.normal(0, 0.3, (n, 1, 1))
        img += np.exp(-((yy - y0) ** 2 + (xx - x0) ** 2) / (2 * width**2))
    img /= img.sum(axis=(1, 2), keepdims=True)
    return img[:, None].astype(np.float32)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {"train": _blobs(256, rng, [(0, 0)], 0.8), "val": _blobs(64, rng, [(0, 0)], 0.8),
            "test_background": _blobs(100, rng, [(0, 0)], 0.8),
            "signals": {"two_prong": _blobs(100, rng, [(2, 0), (-2, 0)], 0.6),
                        "wide": _blobs(100, rng, [(0, 0)], 2.5)}}


GRID = make_grid([1, 3], [0.0, 1e-3], ["mse"]) + make_grid([2], [1e-2], ["bce"])


def numbers(table):
    return np.array([[row[c] for c in NUMERIC] for row in table], dtype=float)


def test_grid_validation_errors_are_clear():
    with pytest.raises(ValueError, match="unknown reconstruction metric 'emd'"):
        make_grid([2], [0.1], ["emd"])
    with pytest.raises(ValueError, match="latent sizes must be positive"):
        make_grid([4, -1], [0.1])
    with pytest.raises(ValueError, match="latent sizes must be positive"):
        make_grid([2.5], [0.1])
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        make_grid([2], [1e-3, 2.0])
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        make_grid([2], [-0.1])
    with pytest.raises(ValueError, match="betas is empty"):
        make_grid([2], [])
    with pytest.raises(ValueError, match="metrics must be a list"):
        make_grid([2], [0.1], "mse")
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        run_scan([GridPoint(2, 5.0, "mse")], {})
    assert len(make_grid([2, 2, 4], [0.1], ["MSE", "mse"])) == 2   # duplicates removed


def test_bad_data_raises(tmp_path, data):
    with pytest.raises(KeyError, match="test_background"):
        run_scan(GRID[:1], {"train": data["train"], "val": data["val"], "signals": data["signals"]},
                 directory=tmp_path, progress=False)
    bad = dict(data, val=data["val"][:, :, :4, :4])
    with pytest.raises(ValueError, match="same shape"):
        run_scan(GRID[:1], bad, directory=tmp_path, progress=False)


@pytest.mark.integration
def test_table_rerun_and_parallel(tmp_path, data):
    serial = run_scan(GRID, data, training=TRAINING, directory=tmp_path / "a", progress=False)
    # one row per point, in grid order, with the required columns
    assert len(serial) == len(GRID)
    assert [(r["latent"], r["beta"], r["metric"]) for r in serial] == [(p.latent, p.beta, p.metric) for p in GRID]
    for col in ["latent", "beta", "metric", "val_loss", "epochs", "seconds", "train_seconds", "loaded",
                "checkpoint", *NUMERIC]:
        assert col in serial.columns
    assert not any(serial.column("loaded"))
    aucs = numbers(serial)[:, 6:12]
    assert np.all((aucs >= 0) & (aucs <= 1))
    # physics of the toy: two-prong images are anomalous for every trained point's recon score
    assert serial.column("auc_two_prong_recon").min() > 0.7
    assert serial.path.exists() and serial.path.parent == tmp_path / "a" / "scans"

    # the saved table is read back unchanged (same types)
    back = ScanTable.read_csv(serial.path)
    assert back.rows == serial.rows

    # a rerun of the identical scan returns the saved table ...
    again = run_scan(GRID, data, training=TRAINING, directory=tmp_path / "a", progress=False)
    assert again.from_saved_table and again.rows == serial.rows
    # ... and without the table, every point loads its checkpoint instead of training
    reloaded = run_scan(GRID, data, training=TRAINING, directory=tmp_path / "a", progress=False,
                        reuse_table=False)
    assert all(reloaded.column("loaded"))
    np.testing.assert_array_equal(numbers(reloaded), numbers(serial))
    assert reloaded.column("train_seconds").tolist() == serial.column("train_seconds").tolist()

    # two local processes, fresh checkpoints: the same numbers
    parallel = run_scan(GRID, data, training=TRAINING, directory=tmp_path / "b", workers=2,
                        threads=1, progress=False)
    assert not any(parallel.column("loaded"))
    np.testing.assert_allclose(numbers(parallel), numbers(serial), rtol=1e-5, atol=1e-6)


def test_dask_local_cluster_gives_the_same_numbers(tmp_path, data):
    distributed = pytest.importorskip("distributed")
    serial = run_scan(GRID[:2], data, training=TRAINING, directory=tmp_path / "s", progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        on_dask = run_scan(GRID[:2], data, training=TRAINING, directory=tmp_path / "d", dask=client,
                           progress=False)
    assert not any(on_dask.column("loaded"))
    np.testing.assert_allclose(numbers(on_dask), numbers(serial), rtol=1e-5, atol=1e-6)


def test_load_point_and_latent_means(tmp_path, data):
    table = run_scan(GRID[:2], data, training=TRAINING, directory=tmp_path, progress=False)
    row = table.best("auc_two_prong_recon")
    model = scans.load_point(row, directory=tmp_path)
    assert model.latent_dim == row["latent"]
    # the reloaded model reproduces the table's numbers
    s = scans.image_scores(model, data["val"], row["beta"], row["metric"])
    assert s["loss"].mean() == pytest.approx(row["val_loss"], rel=1e-6)
    z = scans.latent_means(model, data["val"][:10])
    assert z.shape == (10, row["latent"])
    with pytest.raises(FileNotFoundError, match="rerun the scan"):
        scans.load_point(dict(row, checkpoint="missing.pt"), directory=tmp_path)


def test_table_helpers():
    rows = [{"latent": n, "beta": b, "metric": "mse", "auc": n * 0.1 + b} for n in (2, 4) for b in (0.01, 0.1)]
    t = ScanTable(rows)
    iv, cv, grid = t.pivot("auc")
    assert iv == [2, 4] and cv == [0.01, 0.1]
    np.testing.assert_allclose(grid, [[0.21, 0.3], [0.41, 0.5]])
    assert t.best("auc") == rows[-1] and t.best("auc", maximize=False) == rows[0]
    assert len(t.select(beta=0.1)) == 2
    with pytest.raises(KeyError, match="no column 'AUC'"):
        t.column("AUC")
    with pytest.raises(ValueError, match="same columns"):
        ScanTable([{"a": 1}, {"b": 2}])


def test_command_line_help():
    out = subprocess.run([sys.executable, "-m", "jetad_utils.scans", "image-vae", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for option in ("--fast", "--workers", "--dask-scheduler", "--latents", "--betas", "--metrics"):
        assert option in out.stdout


def test_selection_and_evaluation_halves(tmp_path, data):
    """The split columns are the AUCs of the two disjoint halves of the test jets, recomputed here."""
    from jetad_utils.metrics import roc_auc

    halves = scans.split_test_jets(101)
    assert halves["sel"] == slice(0, 50) and halves["eval"] == slice(50, 101)
    with pytest.raises(ValueError, match="at least 2"):
        scans.split_test_jets(1)
    table = run_scan(GRID[:1], data, training=TRAINING, directory=tmp_path, progress=False)
    row = table[0]
    model = scans.load_point(row, directory=tmp_path)
    bkg = scans.image_scores(model, data["test_background"], row["beta"], row["metric"])
    for name, images in data["signals"].items():
        sig = scans.image_scores(model, images, row["beta"], row["metric"])
        for split, part in scans.split_test_jets(len(images)).items():
            b, s = bkg["recon"][part], sig["recon"][part]
            expected = roc_auc(np.r_[np.zeros(len(b)), np.ones(len(s))], np.r_[b, s])
            assert row[f"auc_{split}_{name}_recon"] == pytest.approx(expected, abs=1e-12)
        # the full-sample AUC lies between the two halves' AUCs up to their mixing term
        assert min(row[f"auc_sel_{name}_recon"], row[f"auc_eval_{name}_recon"]) - 0.05 \
            <= row[f"auc_{name}_recon"] <= max(row[f"auc_sel_{name}_recon"], row[f"auc_eval_{name}_recon"]) + 0.05


def test_table_version_is_in_the_cache_key(data, monkeypatch):
    """A saved table of an older column layout is never read back: the version enters the key."""
    path = scans.table_path("image-vae", GRID, data)
    monkeypatch.setattr(scans, "TABLE_VERSION", scans.TABLE_VERSION - 1)
    assert scans.table_path("image-vae", GRID, data) != path
