"""L'évaluateur : précision du classifieur livré, et scores de référence."""

import pytest
import torch
from helpers import global_rng_untouched

from utils import evaluator
from utils.data import load_mnist, load_mnist_uint8


@pytest.fixture(scope="module")
def test_set():
    return load_mnist("test")


@pytest.fixture(scope="module")
def test_predictions(test_set):
    """Caractéristiques (10000, 128) et probabilités (10000, 10) de l'évaluateur sur les images de
    test, calculées une fois pour les tests qui suivent (sans toucher à l'aléa global)."""
    with global_rng_untouched():
        return evaluator._predict(evaluator.load_classifier(), test_set[0])


def test_classifier_accuracy_at_least_99(test_set, test_predictions):
    predicted = test_predictions[1].argmax(1)
    accuracy = (predicted == test_set[1]).float().mean().item()
    assert accuracy >= 0.99, f"précision {accuracy:.4f}"


def test_real_digits_score_near_zero():
    train_images, _ = load_mnist_uint8("train")
    report = evaluator.evaluate_samples(train_images[:10000], name="vraies")
    assert report.fid < 10
    assert report.confident_share > 0.95
    assert report.all_digits_between(0.08, 0.12)


def test_test_set_against_itself_is_zero(test_set):
    report = evaluator.evaluate_samples(test_set[0])
    assert report.fid < 1e-6


@pytest.fixture(scope="module")
def fresh_reference(test_predictions):
    """La référence du FID-MNIST recalculée ici, sans le fichier livré : moyenne et covariance des
    caractéristiques des images de test."""
    return evaluator._mean_cov(test_predictions[0])


def test_compute_reference_stats_is_the_mean_and_covariance_of_the_test_features(
        monkeypatch, test_set, test_predictions, fresh_reference):
    # Ce que fait compute_reference_stats, sans refaire les 10 000 passages : les images qu'il
    # donne au classifieur sont celles du test, et il renvoie leur moyenne et leur covariance.
    seen = []

    def predict(model, images):
        seen.append(images)
        return test_predictions

    monkeypatch.setattr(evaluator, "_predict", predict)
    with global_rng_untouched():
        mu, cov = evaluator.compute_reference_stats("cpu")
    assert len(seen) == 1 and torch.equal(seen[0], test_set[0])
    assert torch.equal(mu, fresh_reference[0]) and torch.equal(cov, fresh_reference[1])
    assert mu.dtype == torch.float64 and cov.shape == (128, 128)


def test_shipped_reference_is_the_one_these_weights_give(fresh_reference):
    shipped = evaluator._shipped_reference_stats()
    assert shipped is not None, "mnist_reference_stats.pt absent ou d'autres poids : python tools/train_evaluator.py"
    (mu, cov), (fresh_mu, fresh_cov) = shipped, fresh_reference
    assert torch.allclose(mu, fresh_mu, rtol=1e-5, atol=1e-6)
    assert torch.allclose(cov, fresh_cov, rtol=1e-5, atol=1e-6)
    assert evaluator.frechet_distance(mu, cov, fresh_mu, fresh_cov) < 1e-6


def test_reference_is_recomputed_for_other_weights(tmp_path, monkeypatch, fresh_reference):
    # Des poids réentraînés (ici : une copie dont un octet de fin change l'empreinte) ou un fichier
    # abîmé : la référence livrée ne vaut plus, elle est recalculée.
    real_weights, weights = evaluator.WEIGHTS_PATH, tmp_path / "poids.pt"
    weights.write_bytes(evaluator.WEIGHTS_PATH.read_bytes())
    monkeypatch.setattr(evaluator, "WEIGHTS_PATH", weights)
    assert evaluator._shipped_reference_stats() is not None
    with open(weights, "ab") as stream:
        stream.write(b"\0")
    assert evaluator._shipped_reference_stats() is None
    broken = tmp_path / "stats.pt"
    broken.write_bytes(b"abime")
    monkeypatch.setattr(evaluator, "WEIGHTS_PATH", real_weights)
    monkeypatch.setattr(evaluator, "REFERENCE_STATS_PATH", broken)
    assert evaluator._shipped_reference_stats() is None
    evaluator._reference_stats.cache_clear()
    monkeypatch.setattr(evaluator, "compute_reference_stats", lambda device: fresh_reference)
    assert evaluator._reference_stats("cpu") is fresh_reference
    evaluator._reference_stats.cache_clear()


def test_evaluating_leaves_the_global_noise_alone(test_set):
    # Noter un générateur au milieu d'un entraînement ne doit pas changer la suite de l'entraînement
    # (le jour 3 note sa copie moyennée pendant l'entraînement, l'outil des 20 époques aussi).
    # Le calcul de la référence, lui, est vérifié par la fixture fresh_reference.
    evaluator._reference_stats.cache_clear()
    with global_rng_untouched():
        evaluator.evaluate_samples(test_set[0][:500])
    with global_rng_untouched():
        evaluator.load_classifier()


def test_noise_scores_far_away():
    gen = torch.Generator().manual_seed(0)
    report = evaluator.evaluate_samples(torch.rand(2000, 1, 28, 28, generator=gen) * 2 - 1)
    assert report.fid > 500
    # Le bruit n'est pas un chiffre : l'évaluateur ne doit pas le reconnaître « avec confiance ».
    assert report.confident_share < 0.05


def test_mode_collapse_visible_in_histogram():
    images, labels = load_mnist_uint8("test")
    ones = images[labels == 1][:1000]
    report = evaluator.evaluate_samples(ones)
    assert report.class_shares[1] > 0.95
    assert not report.all_digits_between()
    assert report.fid > 50


def test_frechet_distance_closed_form():
    mu1, mu2 = torch.zeros(3), torch.tensor([1.0, 2.0, 2.0])
    cov = torch.eye(3)
    assert evaluator.frechet_distance(mu1, cov, mu2, cov) == pytest.approx(9.0)
    # tr(4I + I - 2*2I) = 3 pour des covariances 4I et I
    assert evaluator.frechet_distance(mu1, 4 * cov, mu1, cov) == pytest.approx(3.0)


@pytest.mark.parametrize("shape", [(5, 784), (5, 28, 28), (5, 1, 28, 28)])
def test_accepted_formats(shape):
    x = evaluator.to_evaluator_input(torch.linspace(-1, 1, 5 * 784).reshape(shape))
    assert x.shape == (5, 1, 28, 28)
    assert torch.equal(x.flatten(), torch.linspace(-1, 1, 5 * 784))


def test_uint8_scale():
    x = evaluator.to_evaluator_input(torch.tensor([0, 255], dtype=torch.uint8).repeat(392).reshape(1, 784))
    assert x.flatten()[:2].tolist() == [-1.0, 1.0]


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(5, 3, 32, 32), "Forme d'images inattendue : \\(5, 3, 32, 32\\)"),
    (torch.full((5, 784), 3.0), "hors de \\[-1, 1\\]"),
    (torch.full((5, 784), float("nan")), "NaN.*divergé"),
    (torch.full((5, 784), float("-inf")), "NaN ou des infinis"),
    ([[0.0]], "tenseur PyTorch"),
    (torch.rand(5, 784), "semblent être dans \\[0, 1\\].*images \\* 2 - 1"),
    (torch.randint(0, 2, (5, 784), dtype=torch.uint8), "ne valent que 0 ou 1.*Multipliez par 255"),
    (torch.zeros(5, 784, dtype=torch.int64), "type torch.int64"),
])
def test_bad_input_messages(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        evaluator.to_evaluator_input(bad)


def test_report_summary_in_french():
    report = evaluator.EvaluationReport(fid=12.345, confident_share=0.8, class_shares=[0.1] * 10,
                                        n_samples=10000, name="essai")
    text = report.summary()
    assert "FID-MNIST" in text and "12.35" in text and "80.0 %" in text
    assert report.as_row()["FID-MNIST"] == 12.35


def test_compare_reports_table():
    a = evaluator.EvaluationReport(fid=12.345, confident_share=0.8, class_shares=[0.1] * 10,
                                   n_samples=10, name="A")
    b = evaluator.EvaluationReport(fid=3.0, confident_share=0.95, class_shares=[0.05] + [0.95 / 9] * 9,
                                   n_samples=10, name="modèle B")
    lines = evaluator.compare_reports([a, b]).splitlines()
    assert len(lines) == 4 and lines[0].startswith("modèle") and "FID-MNIST" in lines[0]
    assert "12.35" in lines[2] and "modèle B" in lines[3] and "5.0" in lines[3]
    with pytest.raises(ValueError, match="Aucun rapport"):
        evaluator.compare_reports([])


def test_digits_in_zero_one_are_refused_not_scored():
    """Des vrais chiffres dans [0, 1] obtenaient un FID de 1 188 et 0 % de confiance, sans un mot."""
    images, _ = load_mnist("test")
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        evaluator.evaluate_samples((images[:1000] + 1) / 2)
    report = evaluator.evaluate_samples(images[:1000])     # les mêmes dans [-1, 1] : près de 0
    assert report.fid < 25 and report.confident_share > 0.9   # 17,5 à 1 000 échantillons (biais du FID)


@pytest.mark.parametrize("n", [1, 3, evaluator.MIN_FID_SAMPLES - 1])
def test_too_few_samples_for_a_fid(test_set, n):
    with pytest.raises(ValueError, match=f"{n} échantillon\\(s\\) : trop peu pour un FID.*au moins 256"):
        evaluator.evaluate_samples(test_set[0][:n])


def test_minimum_number_of_samples_is_accepted(test_set):
    report = evaluator.evaluate_samples(test_set[0][:evaluator.MIN_FID_SAMPLES])
    assert report.n_samples == evaluator.MIN_FID_SAMPLES and report.warning == ""


def test_blank_images_are_named_divergence_not_mode_collapse():
    """Des images toutes noires (NaN devenus 0) ne se lisent pas « 1 : 100 % » sans avertissement."""
    black = torch.zeros(1000, 28, 28, dtype=torch.uint8)
    report = evaluator.evaluate_samples(black)
    assert report.uniform_share == 1.0
    assert report.summary().startswith("⚠️ 100 % des images sont unies")
    assert "divergé" in report.warning and "pas un effondrement de mode" in report.warning
    grey = evaluator.evaluate_samples(torch.full((1000, 784), -0.2))
    assert grey.uniform_share == 1.0 and grey.warning


def test_real_collapse_has_no_blank_warning():
    images, labels = load_mnist_uint8("test")
    report = evaluator.evaluate_samples(images[labels == 1][:1000])
    assert report.uniform_share == 0.0 and "⚠️" not in report.summary()


def test_report_summary_row_and_table_exact():
    """Le texte entier du résumé, de la ligne de tableau et du tableau comparatif."""
    shares = [0.05, 0.15] + [0.1] * 8
    report = evaluator.EvaluationReport(fid=12.345, confident_share=0.8, class_shares=shares,
                                        n_samples=10000, name="essai")
    assert report.summary() == (
        "Évaluation de essai (10000 échantillons)\n"
        "  FID-MNIST (plus bas = mieux, 0 = données réelles) : 12.35\n"
        "  part confiante (proba >= 0.9) : 80.0 %\n"
        "  chiffres prédits : 0:5.0% 1:15.0% 2:10.0% 3:10.0% 4:10.0% 5:10.0% 6:10.0% 7:10.0% "
        "8:10.0% 9:10.0%\n"
        "  chiffre le plus rare : 5.0 %, le plus fréquent : 15.0 %")
    assert str(report) == report.summary()
    assert evaluator.EvaluationReport(fid=1, confident_share=1, class_shares=shares,
                                      n_samples=5).summary().startswith("Évaluation (5 échantillons)")
    assert report.as_row() == {"modèle": "essai", "FID-MNIST": 12.35, "part confiante (%)": 80.0,
                               "chiffre le plus rare (%)": 5.0, "chiffre le plus fréquent (%)": 15.0}
    assert report.all_digits_between(0.05, 0.15) and not report.all_digits_between(0.06, 0.15)
    assert not report.all_digits_between(0.05, 0.14)
    other = evaluator.EvaluationReport(fid=3.0, confident_share=0.95, class_shares=[0.1] * 10,
                                       n_samples=10, name="B")
    assert evaluator.compare_reports([report, other]).split("\n") == [
        "modèle | FID-MNIST | part confiante (%) | chiffre le plus rare (%) | chiffre le plus fréquent (%)",
        "-------+-----------+--------------------+--------------------------+-----------------------------",
        "essai  | 12.35     | 80.0               | 5.0                      | 15.0                        ",
        "B      | 3.0       | 95.0               | 10.0                     | 10.0                        ",
    ]
