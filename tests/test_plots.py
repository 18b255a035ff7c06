"""Grilles, courbes et animation GIF : bons formats acceptés, mauvais formats refusés
clairement."""

import matplotlib.pyplot as plt
import pytest
import torch
from PIL import Image

from utils import plots
from utils.evaluator import EvaluationReport


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


# --- l'animation GIF des grilles (jour 3) ---------------------------------------

def test_grid_animation_writes_a_gif_and_keeps_the_previous_one(tmp_path):
    grids = [torch.full((4, 1, 28, 28), v) for v in (-1.0, 0.0, 1.0)]
    path = tmp_path / "anim" / "progression.gif"
    data = plots.save_grid_animation(grids, path, nrow=2, labels=["a", "b", "c"])
    assert data[:6] in (b"GIF87a", b"GIF89a") and path.read_bytes() == data
    with Image.open(path) as gif:
        assert gif.n_frames == 3
    plots.save_grid_animation(grids[:2], path, nrow=2)
    assert (path.parent / "precedent" / "progression.gif").read_bytes() == data
    with Image.open(path) as gif:
        assert gif.n_frames == 2
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize("grids, labels, message", [
    ([], None, "vide"),
    ([torch.zeros(4, 1, 28, 28)], ["a", "b"], "une par grille"),
    ([torch.zeros(4, 3, 5, 5)], None, "Forme d'images inattendue"),
])
def test_grid_animation_bad_input(tmp_path, grids, labels, message):
    with pytest.raises(ValueError, match=message):
        plots.save_grid_animation(grids, tmp_path / "x.gif", labels=labels)
    assert not (tmp_path / "x.gif").exists()


def test_grid_animation_uses_few_gray_levels(tmp_path):
    grids = [torch.rand(4, 1, 28, 28) * 2 - 1 for _ in range(2)]
    data = plots.save_grid_animation(grids, tmp_path / "a.gif", nrow=2, scale=1, gray_levels=8)
    with Image.open(tmp_path / "a.gif") as gif:
        values = set(torch.tensor(list(gif.convert("L").tobytes())).tolist())
    assert len(values) <= 8 and data[:6] == b"GIF89a"
    with pytest.raises(ValueError, match="gray_levels doit être entre 2 et 256"):
        plots.save_grid_animation(grids, tmp_path / "b.gif", gray_levels=1)


def test_compact_png_keeps_the_size_and_uses_a_palette():
    import base64
    import io

    from IPython.core.pylabtools import print_figure

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(torch.rand(28, 28).numpy(), cmap="gray")
    ax.set_title("une figure")
    encoded = plots._compact_png(fig)
    original = print_figure(fig, fmt="png", bbox_inches="tight")
    plt.close(fig)
    compact = base64.b64decode(encoded)
    with Image.open(io.BytesIO(compact)) as small, Image.open(io.BytesIO(original)) as full:
        assert small.mode == "P" and small.size == full.size
    assert len(compact) < len(original)
    empty = plt.figure()
    assert plots._compact_png(empty) is None       # une figure vide n'affiche rien, comme dans IPython
    plt.close(empty)


def test_compact_figures_do_nothing_outside_a_notebook():
    assert plots.use_compact_figures() is False
