import numpy as np
import pytest
import scipy.linalg
import torch

from components.evaluation import metrics
from components.metric_specs import spec


def test_fid_of_a_set_against_itself_is_zero():
    x = torch.randn(2000, 16, generator=torch.Generator().manual_seed(0))
    s = metrics.fid_statistics(x)
    assert metrics.fid(s, s) == pytest.approx(0, abs=1e-6)


def test_fid_of_two_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    d, n = 4, 200_000
    mu1, mu2 = np.zeros(d), np.array([1.0, -0.5, 0.0, 2.0])
    a = rng.normal(size=(d, d))
    s1, s2 = np.eye(d), a @ a.T / d + 0.5 * np.eye(d)
    x1 = rng.multivariate_normal(mu1, s1, n)
    x2 = rng.multivariate_normal(mu2, s2, n)
    closed = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real))
    est = metrics.fid(metrics.fid_statistics(torch.from_numpy(x1)), metrics.fid_statistics(torch.from_numpy(x2)))
    assert est == pytest.approx(closed, rel=0.02)


def test_inception_score_of_one_hot_and_uniform_predictions():
    k, n = 10, 1000
    one_hot = torch.full((n, k), -1e4)
    one_hot[torch.arange(n), torch.arange(n) % k] = 0  # confident and evenly spread: IS = k
    mean, std = metrics.inception_score(one_hot, splits=1)  # one split: the marginal is exactly uniform
    assert mean == pytest.approx(k, rel=1e-6) and std == 0
    assert 9 < metrics.inception_score(one_hot)[0] <= k  # 10 shuffled splits: near k
    assert metrics.inception_score(torch.zeros(n, k))[0] == pytest.approx(1.0)  # uniform: IS = 1


def test_precision_recall_density_coverage():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(500, 8, generator=g)
    same = metrics.precision_recall(real, real, k=3)
    assert same["precision"] == 1 and same["recall"] == 1 and same["f1"] == pytest.approx(1, abs=1e-4)
    far = real + 100
    apart = metrics.precision_recall(far, real, k=3) | metrics.density_coverage(far, real, k=5)
    assert apart["precision"] == 0 and apart["recall"] == 0 and apart["coverage"] == 0 and apart["density"] == 0
    dc = metrics.density_coverage(real, real, k=5)
    assert dc["coverage"] == 1 and dc["density"] == pytest.approx(1, abs=0.2)


def test_sample_quality_names_the_feature_space_and_reports_kid_x1e3():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 4, generator=g), torch.randn(300, 4, generator=g)
    m = metrics.sample_quality(a, b, "classifier", prc_k=3, prdc_k=5, max_prdc=300)
    names = ("fid", "kid_x1e3", "precision", "recall", "f1", "density", "coverage")
    assert set(m) == {f"{k}_classifier" for k in names} | {"kid_x1e3_classifier_subset_std"}
    raw = metrics.kid(b, a, 1000, 100)
    assert m["kid_x1e3_classifier"] == pytest.approx(1e3 * raw["kid"], rel=1e-12) and raw["kid"] != 0
    assert m["kid_x1e3_classifier_subset_std"] == pytest.approx(1e3 * raw["kid_subset_std"], rel=1e-12)
    assert all(spec(name).space == "classifier" for name in m)


def test_inception_network_ships_offline_and_gives_pool_features():
    from components.evaluation.inception import InceptionFeatures

    net = InceptionFeatures()
    x = torch.rand(2, 1, 28, 28)
    f = net(x)
    assert f.shape == (2, 2048) and torch.isfinite(f).all()
    assert not torch.allclose(f[0], f[1])


def test_kid_is_zero_on_one_set_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 8, generator=g), torch.randn(400, 8, generator=g)
    same = metrics.kid(a, b, subset_size=200, subsets=50)
    shifted = metrics.kid(a + 0.5, b, subset_size=200, subsets=50)
    assert abs(same["kid"]) < 3 * same["kid_subset_std"] + 1e-3  # unbiased: no offset at small N, unlike FID
    assert shifted["kid"] > 10 * abs(same["kid"]) and shifted["kid"] > 5 * shifted["kid_subset_std"]
    assert metrics.kid(a[:50], b, subset_size=1000)["kid"] == metrics.kid(a[:50], b, subset_size=50)["kid"]


def test_kid_uses_the_kernel_it_is_given():
    """torch-fidelity 0.4 reads kid_kernel_poly_*: the degree, gamma and coef0 asked for must change the value."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 8, generator=g) + 0.3, torch.randn(300, 8, generator=g)
    cubic, square = metrics.kid(a, b, 200, 20), metrics.kid(a, b, 200, 20, degree=2)
    assert cubic["kid"] != pytest.approx(square["kid"], rel=1e-3)
    assert metrics.kid(a, b, 200, 20, gamma=0.5)["kid"] != pytest.approx(cubic["kid"], rel=1e-3)
    assert metrics.kid(a, b, 200, 20, coef0=2.0)["kid"] != pytest.approx(cubic["kid"], rel=1e-3)
    # by hand: the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^2 on one subset (all rows) equals the library's
    x, y = a[:200].double(), b[:200].double()
    k = lambda p, q: (p @ q.T / 8 + 1) ** 2  # noqa: E731
    m = 200
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    mmd = ((kxx.sum() - kxx.diag().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diag().sum()) / (m * (m - 1))
           - 2 * kxy.mean())
    assert metrics.kid(a[:200], b[:200], 200, 1, degree=2)["kid"] == pytest.approx(float(mmd), rel=1e-9)
