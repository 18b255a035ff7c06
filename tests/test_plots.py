"""Grilles et courbes : bons formats acceptés, mauvais formats refusés clairement."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils import plots  # noqa: E402
from utils.evaluator import EvaluationReport  # noqa: E402


@pytest.mark.parametrize("shape", [(16, 1, 28, 28), (16, 28, 28), (16, 784), (16, 28, 28, 1)])
def test_grid_accepts_mnist_shapes(shape):
    grid = plots.image_grid(torch.rand(shape) * 2 - 1, nrow=8)
    assert grid.shape[0] == 3 and grid.min() >= 0 and grid.max() <= 1


def test_grid_accepts_uint8():
    grid = plots.image_grid(torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8), nrow=2)
    assert grid.shape == (3, 62, 62)


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(28, 28)[None, None, None], "Forme d'images inattendue"),
    (torch.zeros(3, 3, 28, 28), "Forme d'images inattendue : \\(3, 3, 28, 28\\)"),
    (torch.zeros(784), "Pour une seule image"),
    ("pas un tenseur", "tenseur PyTorch"),
])
def test_grid_bad_shapes(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        plots.image_grid(bad)


def test_show_images_saves_png(tmp_path):
    target = tmp_path / "grille.png"
    assert plots.show_images(torch.zeros(8, 1, 28, 28), save_to=target) is None
    assert target.stat().st_size > 0
    plt.close("all")


def test_plot_history_and_errors():
    history = {"loss_d": [1.0, 0.9, 0.8, 0.7], "loss_g": [2.0, 1.5, 1.2, 1.1]}
    fig, ax = plt.subplots()
    assert plots.plot_history(history, smooth=2, ax=ax, reference={"équilibre": 0.5}) is fig
    with pytest.raises(KeyError, match="Courbes inconnues"):
        plots.plot_history(history, keys=["d_real"])
    with pytest.raises(ValueError, match="dictionnaire non vide"):
        plots.plot_history({})
    plt.close("all")


def test_class_histogram():
    report = EvaluationReport(fid=1.0, confident_share=0.9, class_shares=[0.1] * 10, n_samples=10)
    fig, ax = plt.subplots()
    assert plots.plot_class_histogram([report, report], ax=ax) is fig
    plt.close("all")
