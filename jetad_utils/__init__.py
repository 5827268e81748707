"""jetad_utils: the helpers shared by the jetad anomaly-detection notebooks.

One module per concern; a function lives in the module its name suggests:

``metrics``    ROC, AUC, SIC, efficiency at fixed rejection
``plotting``   ROC / SIC / score-histogram plots in one style
``training``   a seeded torch training loop, ``train_or_load`` (checkpoint cache) and the one
               batched inference loop (``predict``, ``evaluating``)
``models``     ``mlp``, ``reparameterise`` and the dense / image networks (the set networks
               live with their notebooks' code in ``sets`` and ``setvae``)
``losses``     the one KL to the prior, the reconstruction errors, the beta-VAE loss
``scans``      hyperparameter scans: cached grid points, tidy result tables, local processes
               or Dask (``python -m jetad_utils.scans``)
``ot``         optimal transport: energy mover's distances between jets (``emd``, ``emds``),
               k-medoids representatives
``sets``       deep sets on object lists: FSPool, the deep-set VAE, the Chamfer loss, SI / TI
``setvae``     Set-VAE and CLIP-VAE on jet constituents: class-conditioned decoder, the
               class-matched Chamfer loss, the clipped KL term, the N-subjettiness baseline
``latent``     the single-latent SELU VAE of the latent-space bump hunt, KL-peak stopping
``bumphunt``   dijet fit, sidebands, local significance
``data``       generated, cached data sets (``jetad-data``); ``gen_jets``, ``gen_events``,
               ``pythia_tools`` generate them, ``features`` derives images and ratios
``toys``       exactly known toy densities (Gaussian background and signals)
``widgets``    thin ipywidgets wrappers over the tested functions above
``exercises``  builds the student copies of the notebooks (``python -m jetad_utils.exercises``)
``book``       the static HTML book; keeps the notebooks ``make test`` executed for it
``nbtools``    notebook hygiene: stripped outputs, recorded check cells, the test kernel

Layers: a module imports only from the layers before its own (``tests/test_layout.py``):

1. ``_core``, ``features``, ``metrics``, ``losses`` (nothing of the package but ``_core``)
2. ``pythia_tools``, ``gen_jets``, ``gen_events``: event generation
3. ``data``: the cached data sets
4. ``training``, then ``models`` (``TorchMLPClassifier.fit`` calls ``training.fit``)
5. the modules of one method or notebook: ``scans``, ``sets``, ``setvae`` (uses ``sets``),
   ``latent``, ``bumphunt``, ``ot``, ``plotting``, ``toys``, ``widgets``
6. tooling beside the notebooks: ``nbtools``, ``exercises``, ``book``, ``exercise_checks``

Conventions used everywhere
---------------------------
* Events run along axis 0. Feature tables are ``(n_events, n_features)``; jet constituents
  are ``(n_jets, n_max, n_features)`` padded with a boolean ``mask`` of shape
  ``(n_jets, n_max)``; images are ``(n, 1, H, W)``.
* Energies and momenta in GeV, angles in radians.
* **Scores: higher = more anomalous (more signal-like).** Every function that returns a score
  says so, and every metric assumes it.
* ``JETAD_FAST=1`` switches the notebooks to their small, CI-sized settings (:func:`fast_mode`).
* Generated data and checkpoints live under :func:`data_dir` (``$JETAD_DATA`` or ``data/``).
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._core import (
    announce_mode,
    check_between,
    checkpoint_dir,
    data_dir,
    fast_mode,
    get_device,
    set_seed,
)

__all__ = [
    "__version__",
    "announce_mode",
    "check_between",
    "checkpoint_dir",
    "data_dir",
    "fast_mode",
    "get_device",
    "set_seed",
]
