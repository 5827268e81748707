"""Tests of jetad_utils.exercise_checks.nb02: the checks of notebook 02's exercises.

Each check must pass the notebook's solution and other correct formulations (at several seeds
of the check's own draws), turn the stub into "not answered yet", and reject the wrong answers
students write with a message that names the cause.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import KFold, StratifiedKFold

from jetad_utils.exercise_checks import ExerciseError, nb02
from jetad_utils.toys import Gaussian, ar1_covariance, point_at_distance

D = 4
BACKGROUND = Gaussian(np.zeros(D), ar1_covariance(D, 0.8))
SIGNAL = Gaussian(point_at_distance(BACKGROUND, [1.0, -1.0, 0.5, 0.0], 2.0), 0.5**2 * np.eye(D))
N, F1, F2 = 5_000, 0.2, 0.0          # a smaller notebook: the checks also run its (n, f1, f2)


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise 2.x: the task")


def _passes(capsys, check, *args, **kwargs):
    check(*args, **kwargs)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Exercise 2.") and ": correct" in lines[0], lines


def _fails(check, *args, match, **kwargs):
    with pytest.raises(ExerciseError, match=match):
        check(*args, **kwargs)


# ============================================================================ Exercise 2.1

def mixed_exact(n, f1, f2, rng):
    """The notebook's solution: exact signal counts, M1 then M2, not shuffled."""
    n_s1, n_s2 = round(f1 * n), round(f2 * n)
    x = np.concatenate([SIGNAL.sample(n_s1, rng), BACKGROUND.sample(n - n_s1, rng),
                        SIGNAL.sample(n_s2, rng), BACKGROUND.sample(n - n_s2, rng)])
    y_mixed = np.r_[np.ones(n), np.zeros(n)]
    y_true = np.r_[np.ones(n_s1), np.zeros(n - n_s1), np.ones(n_s2), np.zeros(n - n_s2)]
    return x, y_mixed, y_true


def mixed_bernoulli(n, f1, f2, rng):
    """Each event is signal with probability f: a random number of signal events, shuffled."""
    xs, truth = [], []
    for f in (f1, f2):
        is_sig = rng.random(n) < f
        xs.append(np.where(is_sig[:, None], SIGNAL.sample(n, rng), BACKGROUND.sample(n, rng)))
        truth.append(is_sig)
    return np.concatenate(xs), np.r_[np.ones(n, int), np.zeros(n, int)], np.concatenate(truth)


def mixed_binomial_shuffled(n, f1, f2, rng):
    """Binomial signal counts, each sample shuffled within itself; boolean labels."""
    parts = []
    for f, label in ((f1, True), (f2, False)):
        n_s = rng.binomial(n, f)
        x = np.concatenate([SIGNAL.sample(n_s, rng), BACKGROUND.sample(n - n_s, rng)])
        t = np.r_[np.ones(n_s, bool), np.zeros(n - n_s, bool)]
        order = rng.permutation(n)
        parts.append((x[order], np.full(n, label), t[order]))
    return tuple(np.concatenate(a) for a in zip(*parts))


@pytest.mark.parametrize("answer", [mixed_exact, mixed_bernoulli, mixed_binomial_shuffled])
@pytest.mark.parametrize("seed", range(4))
def test_2_1_correct_answers_pass(capsys, answer, seed):
    _passes(capsys, nb02.exercise_2_1, answer, SIGNAL, BACKGROUND, N, F1, F2, seed=seed)


def test_2_1_bernoulli_passes_at_many_seeds(capsys):
    for seed in range(4, 16):
        _passes(capsys, nb02.exercise_2_1, mixed_bernoulli, SIGNAL, BACKGROUND, 2_000, F1, F2,
                seed=seed)


def test_2_1_notebook_size_passes(capsys):
    _passes(capsys, nb02.exercise_2_1, mixed_exact, SIGNAL, BACKGROUND, 20_000, 0.2, 0.0)


def test_2_1_stub_not_answered():
    _fails(nb02.exercise_2_1, stub, SIGNAL, BACKGROUND, N, F1, F2, match="not answered yet")


def labels_swapped(n, f1, f2, rng):
    x, y_mixed, y_true = mixed_exact(n, f1, f2, rng)
    return x, 1 - y_mixed, y_true


def fractions_swapped(n, f1, f2, rng):
    return mixed_exact(n, f2, f1, rng)


def truth_all_zeros(n, f1, f2, rng):
    x, y_mixed, y_true = mixed_exact(n, f1, f2, rng)
    return x, y_mixed, np.zeros_like(y_true)


def m2_from_f1(n, f1, f2, rng):
    return mixed_exact(n, f1, f1, rng)


def mixed_is_truth(n, f1, f2, rng):
    x, _, y_true = mixed_exact(n, f1, f2, rng)
    return x, y_true, y_true


def truth_out_of_order(n, f1, f2, rng):
    """Background drawn before signal, but y_true written signal first."""
    n_s1, n_s2 = round(f1 * n), round(f2 * n)
    x = np.concatenate([BACKGROUND.sample(n - n_s1, rng), SIGNAL.sample(n_s1, rng),
                        BACKGROUND.sample(n - n_s2, rng), SIGNAL.sample(n_s2, rng)])
    _, y_mixed, y_true = mixed_exact(n, f1, f2, rng)
    return x, y_mixed, y_true


def truth_independent_of_events(n, f1, f2, rng):
    """Right fractions, but the signal labels are drawn apart from the events."""
    x = BACKGROUND.sample(2 * n, rng)
    y_true = np.r_[rng.random(n) < f1, rng.random(n) < f2].astype(float)
    return x, np.r_[np.ones(n), np.zeros(n)], y_true


def fixed_seed(n, f1, f2, rng):
    return mixed_exact(n, f1, f2, np.random.default_rng(0))


def global_numpy(n, f1, f2, rng):
    return mixed_exact(n, f1, f2, np.random.default_rng(np.random.randint(1 << 30)))


def samples_interleaved(n, f1, f2, rng):
    """M1 and M2 shuffled together: contradicts 'M1 then M2' of the docstring."""
    x, y_mixed, y_true = mixed_exact(n, f1, f2, rng)
    order = rng.permutation(2 * n)
    return x[order], y_mixed[order], y_true[order]


def m2_first(n, f1, f2, rng):
    x, y_mixed, y_true = mixed_exact(n, f1, f2, rng)
    return np.r_[x[n:], x[:n]], np.r_[y_mixed[n:], y_mixed[:n]], np.r_[y_true[n:], y_true[:n]]


def two_outputs(n, f1, f2, rng):
    return mixed_exact(n, f1, f2, rng)[:2]


def column_labels(n, f1, f2, rng):
    x, y_mixed, y_true = mixed_exact(n, f1, f2, rng)
    return x, y_mixed[:, None], y_true


def x_per_sample(n, f1, f2, rng):
    x, y_mixed, y_true = mixed_exact(n, f1, f2, rng)
    return x.reshape(2, n, -1), y_mixed, y_true


@pytest.mark.parametrize("answer, cause", [
    (labels_swapped, "labels of M1 and M2 are swapped"),
    (fractions_swapped, "f1 and f2 are swapped"),
    (truth_all_zeros, "y_true has no signal event"),
    (m2_from_f1, "M2 got the signal fraction f1"),
    (mixed_is_truth, "y_mixed equals y_true"),
    (truth_out_of_order, "do not look like signal events"),
    (truth_independent_of_events, "do not look like signal events"),
    (fixed_seed, "use the argument rng"),
    (global_numpy, "same generator seed gave different events"),
    (samples_interleaved, "keep M1 before M2"),
    (m2_first, "M2 comes first"),
    (two_outputs, "return the three arrays"),
    (column_labels, r"y_mixed must be one label per event, shape \(2n,\)"),
    (x_per_sample, r"x must have shape \(2n, D\)"),
])
def test_2_1_wrong_answers_name_the_cause(answer, cause):
    _fails(nb02.exercise_2_1, answer, SIGNAL, BACKGROUND, N, F1, F2, match=cause)


def test_2_1_m2_fraction_wrong_when_f2_nonzero():
    """With f2 > 0 (the check's own case), M2 drawn without signal is caught too."""
    def m2_no_signal(n, f1, f2, rng):
        return mixed_exact(n, f1, 0.0, rng)
    _fails(nb02.exercise_2_1, m2_no_signal, SIGNAL, BACKGROUND, N, F1, F2,
           match=r"signal fraction .* in M2 \(expected 0.1")


# ============================================================================ Exercise 2.2

def ratios_solution(x, f1, f2):
    p_s, p_b = np.exp(SIGNAL.logpdf(x)), np.exp(BACKGROUND.logpdf(x))
    direct = (f1 * p_s + (1 - f1) * p_b) / (f2 * p_s + (1 - f2) * p_b)
    lr = p_s / p_b
    return direct, (f1 * lr + 1 - f1) / (f2 * lr + 1 - f2)


def ratios_scipy_logspace(x, f1, f2):
    """Densities from scipy, the direct ratio in log space, L from the log densities."""
    log_s = stats.multivariate_normal(SIGNAL.mean, SIGNAL.cov).logpdf(x)
    log_b = stats.multivariate_normal(BACKGROUND.mean, BACKGROUND.cov).logpdf(x)
    with np.errstate(divide="ignore"):
        log_m1 = np.logaddexp(np.log(f1) + log_s, np.log(1 - f1) + log_b)
        log_m2 = np.logaddexp(np.log(f2) + log_s, np.log(1 - f2) + log_b)
    lr = np.exp(log_s - log_b)
    return np.exp(log_m1 - log_m2), (f1 * lr + (1 - f1)) / (f2 * lr + (1 - f2))


def ratios_list(x, f1, f2):
    return [a.tolist() for a in ratios_solution(x, f1, f2)]


def _x_test(n=1_000, seed=3):
    rng = np.random.default_rng(seed)
    return np.concatenate([SIGNAL.sample(n, rng), BACKGROUND.sample(n, rng)])


@pytest.mark.parametrize("answer", [ratios_solution, ratios_scipy_logspace, ratios_list])
def test_2_2_correct_answers_pass(capsys, answer):
    _passes(capsys, nb02.exercise_2_2, answer, SIGNAL, BACKGROUND, _x_test(), 0.2, 0.05)


def test_2_2_stub_not_answered():
    _fails(nb02.exercise_2_2, stub, SIGNAL, BACKGROUND, _x_test(), match="not answered yet")


def _densities(x):
    return np.exp(SIGNAL.logpdf(x)), np.exp(BACKGROUND.logpdf(x))


def densities_swapped_in_both(x, f1, f2):
    p_s, p_b = _densities(x)
    lr = p_b / p_s
    return ((f1 * p_b + (1 - f1) * p_s) / (f2 * p_b + (1 - f2) * p_s),
            (f1 * lr + 1 - f1) / (f2 * lr + 1 - f2))


def fractions_swapped_in_both(x, f1, f2):
    """The slide's f1 + (1 - f1) L, generalised: f and 1 - f swapped in both ratios."""
    p_s, p_b = _densities(x)
    lr = p_s / p_b
    return ((1 - f1) * p_s + f1 * p_b) / ((1 - f2) * p_s + f2 * p_b), \
        (f1 + (1 - f1) * lr) / (f2 + (1 - f2) * lr)


def slide_limit_at_f2_zero(x, f1, f2):
    direct, formula = ratios_solution(x, f1, f2)
    if f2 == 0:
        p_s, p_b = _densities(x)
        formula = f1 + (1 - f1) * p_s / p_b
    return direct, formula


def formula_with_log_ratio(x, f1, f2):
    direct, _ = ratios_solution(x, f1, f2)
    log_l = SIGNAL.logpdf(x) - BACKGROUND.logpdf(x)
    return direct, (f1 * log_l + 1 - f1) / (f2 * log_l + 1 - f2)


def inverse_in_both(x, f1, f2):
    return tuple(1 / a for a in ratios_solution(x, f1, f2))


def log_in_both(x, f1, f2):
    return tuple(np.log(a) for a in ratios_solution(x, f1, f2))


def direct_without_background(x, f1, f2):
    p_s, _ = _densities(x)
    _, formula = ratios_solution(x, f1, f2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (f1 * p_s) / (f2 * p_s), formula


def one_array(x, f1, f2):
    return ratios_solution(x, f1, f2)[0]


def scalar_ratios(x, f1, f2):
    return tuple(float(np.mean(a)) for a in ratios_solution(x, f1, f2))


@pytest.mark.parametrize("answer, cause", [
    (densities_swapped_in_both, "each fraction multiplies the wrong density"),
    (fractions_swapped_in_both, "each fraction multiplies the wrong density"),
    (slide_limit_at_f2_zero, r"ratio_formula .* f2 = 0 .* slide's limit f1 \+ \(1 - f1\) L_S/B"),
    (formula_with_log_ratio, "ratio_formula .* not its logarithm"),
    (inverse_in_both, "ratio_direct .* p_M2 / p_M1"),
    (log_in_both, "ratio_direct .* logarithm of the ratio"),
    (direct_without_background, "ratio_direct .* compute both mixture densities"),
    (one_array, r"return the two arrays \(direct, formula\)"),
    (scalar_ratios, r"ratio_direct must be one ratio per event"),
])
def test_2_2_wrong_answers_name_the_cause(answer, cause):
    _fails(nb02.exercise_2_2, answer, SIGNAL, BACKGROUND, _x_test(), match=cause)


def test_2_2_a_consistent_mistake_is_not_missed():
    """Both returned ratios agree with each other, and are both wrong: caught."""
    direct, formula = densities_swapped_in_both(_x_test(), 0.2, 0.05)
    assert np.allclose(direct, formula)
    _fails(nb02.exercise_2_2, densities_swapped_in_both, SIGNAL, BACKGROUND, _x_test(),
           match="ratio_direct")


# ============================================================================ Exercise 2.3

def kfold_solution(make_model, x, y, k=5, seed=0):
    fold = np.random.default_rng(seed).permutation(len(x)) % k
    scores, models = np.empty(len(x)), []
    for i in range(k):
        model = make_model().fit(x[fold != i], y[fold != i])
        scores[fold == i] = model.predict_proba(x[fold == i])[:, 1]
        models.append(model)
    return scores, models


def kfold_sklearn(make_model, x, y, k=5, seed=0):
    scores, models = np.zeros(len(x)), []
    for train, test in KFold(k, shuffle=True, random_state=seed).split(x):
        model = make_model()
        model.fit(x[train], y[train])
        scores[test] = model.predict_proba(x[test])[:, 1]
        models.append(model)
    return scores, models


def kfold_stratified_clone(make_model, x, y, k=5, seed=0):
    """Stratified folds, models cloned from one prototype, a tuple of models."""
    prototype, scores, models = make_model(), np.full(len(x), np.nan), []
    for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y):
        model = clone(prototype).fit(x[train], y[train])
        scores[test] = model.predict_proba(x[test])[:, 1]
        models.append(model)
    return scores, tuple(models)


def kfold_array_split(make_model, x, y, k=5, seed=0):
    rng = np.random.default_rng(seed)
    scores, models = np.empty(len(x), dtype=np.float32), []
    for test in np.array_split(rng.permutation(len(x)), k):
        train = np.setdiff1d(np.arange(len(x)), test)
        models.append(make_model().fit(x[train], y[train]))
        scores[test] = models[-1].predict_proba(x[test])[:, 1]
    return scores, models


def kfold_random_fold_labels(make_model, x, y, k=5, seed=0):
    """Folds of random (unequal) sizes: still a partition."""
    fold = np.random.default_rng(seed).integers(0, k, size=len(x))
    scores, models = np.zeros(len(x)), []
    for i in range(k):
        model = make_model().fit(x[fold != i], y[fold != i])
        scores[fold == i] = model.predict_proba(x[fold == i])[:, 1]
        models.append(model)
    return scores, models


def _x_notebook(n=2_000, seed=5):
    return _x_test(n // 2, seed)


@pytest.mark.parametrize("answer", [kfold_solution, kfold_sklearn, kfold_stratified_clone,
                                    kfold_array_split, kfold_random_fold_labels])
@pytest.mark.parametrize("seed", [0, 3])
def test_2_3_correct_answers_pass(capsys, answer, seed):
    def boosted_trees(seed=seed):
        return HistGradientBoostingClassifier(max_iter=50, early_stopping=True,
                                              validation_fraction=0.2, random_state=seed)
    _passes(capsys, nb02.exercise_2_3, answer, boosted_trees, _x_notebook(), k=5, seed=seed)


def test_2_3_stub_not_answered():
    _fails(nb02.exercise_2_3, stub, HistGradientBoostingClassifier, _x_notebook(),
           match="not answered yet")


def _variant(fold_of, train_on, score_with=None):
    """A k-fold answer built from a fold assignment and a training-set rule."""
    def answer(make_model, x, y, k=5, seed=0):
        fold = fold_of(len(x), k, seed)
        scores, models = np.empty(len(x)), []
        for i in range(k):
            model = make_model().fit(x[train_on(fold, i)], y[train_on(fold, i)])
            test = fold == i if score_with is None else score_with(fold, i)
            scores[test] = model.predict_proba(x[test])[:, 1]
            models.append(model)
        return scores, models
    return answer


def _random(n, k, seed):
    return np.random.default_rng(seed).permutation(n) % k


def _contiguous(n, k, seed):
    return np.arange(n) * k // n


def _unseeded(n, k, seed):
    return np.random.permutation(n) % k


def _seed_ignored(n, k, seed):
    return np.random.default_rng(0).permutation(n) % k




def train_all_score_all(make_model, x, y, k=5, seed=0):
    models = [make_model().fit(x, y) for _ in range(k)]
    return np.mean([m.predict_proba(x)[:, 1] for m in models], axis=0), models


def same_model_object(make_model, x, y, k=5, seed=0):
    fold, model = _random(len(x), k, seed), make_model()
    scores, models = np.empty(len(x)), []
    for i in range(k):
        model.fit(x[fold != i], y[fold != i])
        scores[fold == i] = model.predict_proba(x[fold == i])[:, 1]
        models.append(model)
    return scores, models


def column_zero(make_model, x, y, k=5, seed=0):
    scores, models = kfold_solution(make_model, x, y, k, seed)
    return 1 - scores, models


def hard_labels(make_model, x, y, k=5, seed=0):
    fold = _random(len(x), k, seed)
    scores, models = np.empty(len(x)), []
    for i in range(k):
        models.append(make_model().fit(x[fold != i], y[fold != i]))
        scores[fold == i] = models[-1].predict(x[fold == i])
    return scores, models


def fold_order(make_model, x, y, k=5, seed=0):
    fold = _random(len(x), k, seed)
    parts, models = [], []
    for i in range(k):
        models.append(make_model().fit(x[fold != i], y[fold != i]))
        parts.append(models[-1].predict_proba(x[fold == i])[:, 1])
    return np.concatenate(parts), models


def last_fold_unscored(make_model, x, y, k=5, seed=0):
    fold = _random(len(x), k, seed)
    scores, models = np.zeros(len(x)), []
    for i in range(k):
        models.append(make_model().fit(x[fold != i], y[fold != i]))
        if i < k - 1:
            scores[fold == i] = models[-1].predict_proba(x[fold == i])[:, 1]
    return scores, models


def overlapping_folds(make_model, x, y, k=5, seed=0):
    """Held-out blocks of 2n/k events of a permutation, overlapping their neighbours."""
    order, m = np.random.default_rng(seed).permutation(len(x)), len(x) // k
    scores, models = np.empty(len(x)), []
    for i in range(k):
        test = order[np.arange(i * m, i * m + 2 * m) % len(x)]
        train = np.setdiff1d(np.arange(len(x)), test)
        models.append(make_model().fit(x[train], y[train]))
        scores[test] = models[-1].predict_proba(x[test])[:, 1]
    return scores, models


def integer_scores(make_model, x, y, k=5, seed=0):
    scores, models = kfold_solution(make_model, x, y, k, seed)
    return scores.astype(int), models


def models_first(make_model, x, y, k=5, seed=0):
    scores, models = kfold_solution(make_model, x, y, k, seed)
    return models, scores


def only_scores(make_model, x, y, k=5, seed=0):
    return kfold_solution(make_model, x, y, k, seed)[0]


def calls_with_seed(make_model, x, y, k=5, seed=0):
    return kfold_solution(lambda: make_model(seed), x, y, k, seed)


def mismatched_labels(make_model, x, y, k=5, seed=0):
    fold = _random(len(x), k, seed)
    scores, models = np.empty(len(x)), []
    for i in range(k):
        models.append(make_model().fit(x[fold != i], np.roll(y, 1)[fold != i]))
        scores[fold == i] = models[-1].predict_proba(x[fold == i])[:, 1]
    return scores, models


IN_SAMPLE = "scored by a model trained on them"


@pytest.mark.parametrize("answer, cause", [
    (train_all_score_all, IN_SAMPLE + r".*every model was trained on all events"),
    (_variant(_random, lambda f, i: slice(None)), IN_SAMPLE),            # the planted fault
    (_variant(_random, lambda f, i: f == i), IN_SAMPLE),                 # fold scored by its model
    (_variant(_random, lambda f, i: f != i, lambda f, i: f != i), IN_SAMPLE),
    (overlapping_folds, "left out of exactly one model's training"),
    (_variant(_contiguous, lambda f, i: f != i), "the folds are contiguous blocks"),
    (_variant(_unseeded, lambda f, i: f != i), "same seed gave different folds"),
    (_variant(_seed_ignored, lambda f, i: f != i), "different seeds gave the same folds"),
    (lambda make_model, x, y, k=5, seed=0: kfold_solution(make_model, x, y, 5, seed),
     "return the k = 3 models"),                                     # the global K_FOLDS, not k
    (same_model_object, "same model more than once"),
    (column_zero, r"predict_proba\(\.\.\.\)\[:, 0\]"),
    (hard_labels, "the scores come from predict"),
    (fold_order, "concatenated in fold order"),
    (last_fold_unscored, "no model gave them out-of-fold"),
    (integer_scores, "store them in a float array"),
    (models_first, r"return \(scores, models\): the scores first"),
    (only_scores, r"return \(scores, models\)"),
    (calls_with_seed, r"call make_model\(\) without arguments"),
    (mismatched_labels, "labels that are not those of the events passed"),
])
def test_2_3_wrong_answers_name_the_cause(answer, cause):
    _fails(nb02.exercise_2_3, answer, HistGradientBoostingClassifier, _x_notebook(), match=cause)


def test_2_3_in_sample_scores_caught_with_the_notebooks_model():
    """An answer that is honest only with the check's cheap model still fails with the real one."""
    def leaks_with_real_models(make_model, x, y, k=5, seed=0):
        if isinstance(make_model(), nb02._Memoriser):
            return kfold_solution(make_model, x, y, k, seed)
        return _variant(_random, lambda f, i: slice(None))(make_model, x, y, k, seed)

    def boosted_trees(seed=0):
        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, early_stopping=True,
                                              validation_fraction=0.2, random_state=seed)
    _fails(nb02.exercise_2_3, leaks_with_real_models, boosted_trees, _x_notebook(),
           match="random labels .* scored by models trained on them")


# ============================================================================ all three

def test_checks_leave_the_global_random_state_alone(capsys):
    state = np.random.get_state()[1].copy()
    nb02.exercise_2_1(mixed_exact, SIGNAL, BACKGROUND, 2_000, F1, F2)
    nb02.exercise_2_2(ratios_solution, SIGNAL, BACKGROUND, _x_test(), 0.2, 0.05)
    nb02.exercise_2_3(kfold_solution, HistGradientBoostingClassifier, _x_notebook())
    assert np.array_equal(np.random.get_state()[1], state)
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


@pytest.mark.integration
def test_student_copy_stubs_fail_in_their_own_checks(tmp_path, monkeypatch):
    """In the generated student copy each stub fails as 'not answered yet' in its own check,
    and a missing answer to 2.1 does not break the checks of 2.2 and 2.3 (no NameError)."""
    from nbclient import NotebookClient
    from nbrun import use_test_kernel

    from jetad_utils.exercises import REPO_NOTEBOOKS, exercise_notebook

    kernel_name = use_test_kernel(tmp_path, monkeypatch)
    monkeypatch.setenv("JETAD_FAST", "1")
    nb = exercise_notebook(REPO_NOTEBOOKS / "02_cwola.ipynb")
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    last = next(i for i in code if "exercise_checks.exercise_2_3(" in nb.cells[i].source)
    nb.cells = nb.cells[:last + 1]                       # up to the check of Exercise 2.3
    NotebookClient(nb, kernel_name=kernel_name, timeout=600, allow_errors=True,
                   resources={"metadata": {"path": str(REPO_NOTEBOOKS)}}).execute()
    errors = {}
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors[i] = (out.ename, out.evalue)
    checks = {number: next(i for i in code if f"exercise_checks.exercise_{number}(" in
                           nb.cells[i].source) for number in ("2_1", "2_2", "2_3")}
    for number, i in checks.items():
        ename, evalue = errors.get(i, (None, ""))
        assert ename == "ExerciseError", (number, errors)
        assert f"Exercise {number.replace('_', '.')} is not answered yet" in evalue, evalue
    assert not any(ename == "NameError" for ename, _ in errors.values()), errors
