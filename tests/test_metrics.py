"""Les mesures de référence du jour 6 (utils.metrics), confrontées à deux bibliothèques tenues à
jour : pytorch-fid pour la distance de Fréchet, prdc (le code de Naeem et al.) pour la précision,
le rappel, la densité et la couverture."""

import contextlib
import io

import numpy as np
import pytest
import torch

from utils import metrics


def _clouds(n_real=300, n_fake=250, dim=16, shift=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n_real, dim, generator=g)
    fake = torch.randn(n_fake, dim, generator=g) * 1.3 + shift
    return real, fake


def _prdc(real, fake, k):
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):     # prdc affiche le nombre de points
        return compute_prdc(real.numpy(), fake.numpy(), nearest_k=k)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_matches_pytorch_fid(seed):
    from pytorch_fid.fid_score import calculate_frechet_distance

    real, fake = _clouds(400, 350, dim=12, seed=seed)
    fake = fake @ torch.randn(12, 12, generator=torch.Generator().manual_seed(seed))  # covariances non commutantes
    mu1, s1 = metrics.mean_cov(real)
    mu2, s2 = metrics.mean_cov(fake)
    expected = calculate_frechet_distance(mu1.numpy(), s1.numpy(), mu2.numpy(), s2.numpy())
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)
    assert metrics.fid(real, fake) == pytest.approx(expected, rel=1e-6)


def test_mean_cov_matches_numpy():
    real, _ = _clouds()
    mu, cov = metrics.mean_cov(real)
    assert np.allclose(mu.numpy(), real.double().numpy().mean(axis=0))
    assert np.allclose(cov.numpy(), np.cov(real.double().numpy(), rowvar=False))


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("shift", [0.0, 0.8])
def test_prdc_metrics_match_the_library(k, shift, monkeypatch):
    monkeypatch.setattr(metrics, "CHUNK", 64)     # les blocs ne changent rien au résultat
    real, fake = _clouds(shift=shift)
    expected = _prdc(real, fake, k)
    precision, recall = metrics.precision_recall(real, fake, k=k)
    density, coverage = metrics.density_coverage(real, fake, k=k)
    assert precision == pytest.approx(expected["precision"], abs=1e-9)
    assert recall == pytest.approx(expected["recall"], abs=1e-9)
    assert density == pytest.approx(expected["density"], abs=1e-9)
    assert coverage == pytest.approx(expected["coverage"], abs=1e-9)
    if shift:
        assert precision < 0.9 and coverage < 0.9     # le décalage se voit


def test_knn_radii_excludes_the_point_itself():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert metrics.knn_radii(points, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert metrics.knn_radii(points, 2).tolist() == [3.0, 2.0, 3.0, 6.0]
    with pytest.raises(ValueError, match="k doit être entre 1 et N - 1"):
        metrics.knn_radii(points, 4)


def test_nearest_distances_and_memorisation_ratio(monkeypatch):
    monkeypatch.setattr(metrics, "CHUNK", 7)
    g = torch.Generator().manual_seed(0)
    train = torch.randn(200, 10, generator=g)
    fresh = torch.randn(100, 10, generator=g)
    full = torch.cdist(fresh, train).min(dim=1).values
    assert torch.allclose(metrics.nearest_distances(fresh, train), full)
    inner = torch.cdist(train[:50], train)
    inner[torch.arange(50), torch.arange(50)] = float("inf")
    assert torch.allclose(metrics.nearest_distances(train[:50], train, exclude_self=True),
                          inner.min(dim=1).values)
    assert metrics.memorisation_ratio(train[100:150], train) == 0.0           # des copies
    assert 0.7 < metrics.memorisation_ratio(fresh, train) < 1.4               # des points neufs
    # Un cas calculé à la main : des images d'entraînement sur une droite, espacées de 1 (la plus
    # proche voisine d'une image d'entraînement est à 1), des échantillons à 0,25 de l'une d'elles.
    line = torch.arange(100.0).view(100, 1) * torch.tensor([[0.6, 0.8]])          # pas de longueur 1
    near = line[:40] + 0.25 * torch.tensor([[0.6, 0.8]])
    assert metrics.memorisation_ratio(near, line) == pytest.approx(0.25, rel=1e-4)
    assert metrics.memorisation_ratio(near, line, n_reference=50) == pytest.approx(0.25, rel=1e-4)


@pytest.mark.parametrize("bad", [torch.zeros(5), torch.zeros(1, 3), "texte"])
def test_bad_points_get_a_french_error(bad):
    with pytest.raises(ValueError, match="tenseur \\(N, D\\)|au moins deux points"):
        metrics.precision_recall(bad, torch.zeros(4, 3))


def test_features_of_real_digits():
    from utils import load_mnist_uint8

    images, _ = load_mnist_uint8("test")
    feats = metrics.features(images[:300])
    assert feats.shape == (300, 128) and feats.dtype == torch.float32
    assert torch.equal(metrics.features(images[:300].float().div(127.5).sub(1)), feats)


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("measure", [
    lambda a, b: metrics.precision_recall(a, b, k=3),
    lambda a, b: metrics.density_coverage(a, b, k=3),
    lambda a, b: metrics.memorisation_ratio(b, a),
    lambda a, b: metrics.fid(a, b),
    lambda a, b: metrics.knn_radii(b, 3),
], ids=["precision_recall", "density_coverage", "memorisation", "fid", "knn_radii"])
def test_nan_or_infinite_rows_are_refused_in_french(measure, bad_value):
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(40, 6, generator=g), torch.randn(40, 6, generator=g)
    fake[7, 2] = bad_value
    with pytest.raises(ValueError, match=r"1 ligne\(s\) contiennent NaN ou l'infini \(la première : n° 7\)"):
        measure(real, fake)


@pytest.mark.parametrize("measure", [
    lambda a, b: metrics.precision_recall(a, b),
    lambda a, b: metrics.density_coverage(a, b),
    lambda a, b: metrics.nearest_distances(b, a),
    lambda a, b: metrics.memorisation_ratio(b, a),
    lambda a, b: metrics.fid(a, b),
], ids=["precision_recall", "density_coverage", "nearest_distances", "memorisation", "fid"])
def test_feature_size_mismatch_is_named_in_french(measure):
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="ont [58] valeurs par point, .* [58] : comparez des caractéristiques de même taille"):
        measure(torch.randn(30, 8, generator=g), torch.randn(30, 5, generator=g))
