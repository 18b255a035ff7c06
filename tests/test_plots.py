"""Grilles, courbes et animation GIF : ce qui est dessiné (valeurs, légendes, lissage),
bons formats acceptés, mauvais formats refusés clairement, GIF écrit sans rien perdre."""

import math
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from utils import checkpoint, plots
from utils.evaluator import EvaluationReport

DIVERGED = "l'entraînement a divergé"
BAD_NROW = [0, -2, 2.5, "8", True, None]


def constant_images(*values):
    """Un lot d'images 28×28 (N, 1, 28, 28), chacune d'une seule valeur."""
    return torch.stack([torch.full((1, 28, 28), float(v)) for v in values])


def cell(grid, index):
    """Pixels de l'image ``index`` de la première ligne d'une grille (marge de 2 pixels)."""
    left = 2 + 30 * index
    return grid[:, 2:30, left:left + 28]


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


def test_grid_values_use_a_fixed_scale():
    """-1 → noir, 0 → gris, 1 → blanc ; un lot n'est jamais étiré (pas de min-max par lot)."""
    grid = plots.image_grid(constant_images(-1, 0, 1, 3), nrow=4)
    assert [cell(grid, i).unique().tolist() for i in range(4)] == [[0.0], [0.5], [1.0], [1.0]]
    pale = plots.image_grid(constant_images(-0.5, 0.5), nrow=2)    # valeurs de -0,5 à 0,5 seulement
    assert cell(pale, 0).unique().tolist() == [0.25] and cell(pale, 1).unique().tolist() == [0.75]
    raw = plots.image_grid(torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1).expand(2, 28, 28), nrow=2)
    assert cell(raw, 0).unique().tolist() == [0.0] and cell(raw, 1).unique().tolist() == [1.0]


def test_grid_border_is_white():
    grid = plots.image_grid(constant_images(-1, -1, -1), nrow=3)
    assert grid.shape == (3, 32, 92)
    border = torch.ones(grid.shape[1:], dtype=torch.bool)
    for i in range(3):
        border[2:30, 2 + 30 * i:30 + 30 * i] = False
    assert grid[:, border].unique().tolist() == [1.0]
    assert grid[:, ~border].unique().tolist() == [0.0]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_grid_refuses_a_diverged_batch(bad):
    images = constant_images(0, 0)
    images[1, 0, 5, 5] = bad
    with pytest.raises(ValueError, match=rf"NaN ou des infinis \(1 image\(s\) sur 2\).*{DIVERGED}"):
        plots.image_grid(images)
    with pytest.raises(ValueError, match=DIVERGED):
        plots.show_images(images)
    plt.close("all")


@pytest.mark.parametrize("nrow", BAD_NROW)
def test_grid_bad_nrow(nrow):
    message = r"nrow \(nombre d'images par ligne\) doit être un entier supérieur ou égal à 1"
    with pytest.raises(ValueError, match=message):
        plots.image_grid(constant_images(0, 0), nrow=nrow)
    with pytest.raises(ValueError, match=message):
        plots.show_images(constant_images(0, 0), nrow=nrow)
    plt.close("all")


def test_grid_accepts_a_numpy_integer_nrow():
    assert plots.image_grid(constant_images(0, 0, 0, 0), nrow=np.int64(2)).shape == (3, 62, 62)


def test_show_images_draws_the_grid(tmp_path):
    images = constant_images(-1, 1, 0)
    fig, ax = plt.subplots()
    assert plots.show_images(images, nrow=3, title="essai", ax=ax) is fig
    drawn = ax.images[0].get_array()
    assert np.array_equal(drawn, plots.image_grid(images, nrow=3).permute(1, 2, 0).numpy())
    assert ax.get_title() == "essai" and not ax.axison
    plt.close(fig)
    target = tmp_path / "dossier" / "grille.png"
    assert plots.show_images(images, save_to=target) is None
    with Image.open(target) as png:
        assert png.format == "PNG"
    plt.close("all")


# --- courbes d'entraînement ------------------------------------------------------

def drawn_curves(history, **kwargs):
    """Trace ``history`` et renvoie {légende: (x, y)} des lignes dessinées, et l'axe."""
    fig, ax = plt.subplots()
    assert plots.plot_history(history, ax=ax, **kwargs) is fig
    curves = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}
    plt.close(fig)
    return curves, ax


def same(values, expected):
    """Égalité de deux suites de nombres, NaN compris."""
    return np.allclose(np.asarray(values, float), np.asarray(expected, float), equal_nan=True)


def test_plot_history_draws_each_curve_and_the_reference():
    history = {"loss_d": [1.0, 0.9, 0.8, 0.7], "loss_g": [2.0, 1.5, 1.2, 1.1]}
    curves, ax = drawn_curves(history, reference={"équilibre": 0.5}, title="Pertes")
    assert list(curves) == ["loss_d", "loss_g", "équilibre"]
    assert curves["loss_d"] == ([0, 1, 2, 3], [1.0, 0.9, 0.8, 0.7])
    assert curves["loss_g"] == ([0, 1, 2, 3], [2.0, 1.5, 1.2, 1.1])
    assert curves["équilibre"][1] == [0.5, 0.5] and ax.lines[2].get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss_d", "loss_g", "équilibre"]
    assert ax.get_title() == "Pertes" and ax.get_xlabel() == "étape"


@pytest.mark.parametrize("smooth, xs, ys", [
    (1, [0, 1, 2, 3, 4, 5], [0, 1, 4, 9, 16, 25]),
    (2, [0, 1, 2, 3, 4], [0.5, 2.5, 6.5, 12.5, 20.5]),
    (3, [1, 2, 3, 4], [5 / 3, 14 / 3, 29 / 3, 50 / 3]),     # centrée sur chaque point
    (10, [0, 1, 2, 3, 4, 5], [0, 1, 4, 9, 16, 25]),         # plus de points que la courbe : brute
])
def test_plot_history_smoothing(smooth, xs, ys):
    curves, _ = drawn_curves({"loss": [0, 1, 4, 9, 16, 25]}, smooth=smooth)
    assert curves["loss"][0] == xs and same(curves["loss"][1], ys)


def test_plot_history_keys_can_be_a_single_name():
    history = {"loss_d": [1.0, 0.5], "loss_g": [2.0, 1.0]}
    curves, _ = drawn_curves(history, keys="loss_d")
    assert list(curves) == ["loss_d"] and curves["loss_d"][1] == [1.0, 0.5]
    curves, _ = drawn_curves(history, keys=("loss_g",))
    assert list(curves) == ["loss_g"]


def test_plot_history_missing_values_leave_a_gap():
    curves, _ = drawn_curves({"loss_d": [1.0, None, 3.0, 5.0]})
    assert same(curves["loss_d"][1], [1.0, math.nan, 3.0, 5.0])
    curves, _ = drawn_curves({"loss_d": [1.0, None, 3.0, 5.0]}, smooth=2)
    assert same(curves["loss_d"][1], [1.0, 3.0, 4.0])         # la moyenne ignore le trou


def test_plot_history_names_a_diverged_run():
    history = {"loss_d": [0.7, 0.6, math.nan, math.nan], "loss_g": [1.0, math.inf, 1.0, 1.0],
               "d_real": torch.tensor([0.5, 0.5, 0.5, 0.5])}
    curves, _ = drawn_curves(history, smooth=2)
    assert list(curves) == ["loss_d — divergé (étape 2 : NaN ou infini)",
                            "loss_g — divergé (étape 1 : NaN ou infini)", "d_real"]
    assert same(curves["loss_d — divergé (étape 2 : NaN ou infini)"][1], [0.65, 0.6, math.nan])
    assert same(curves["loss_g — divergé (étape 1 : NaN ou infini)"][1], [1.0, 1.0, 1.0])
    assert curves["d_real"][1] == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("history, kwargs, error, message", [
    ({"loss_d": [1.0]}, {"keys": ["d_real"]}, KeyError, "Courbes inconnues"),
    ({}, {}, ValueError, "dictionnaire non vide"),
    ({"loss_d": []}, {}, ValueError, "La courbe 'loss_d' est vide"),
    ({"loss_d": 0.5}, {}, TypeError, "'loss_d' doit être une liste de nombres"),
    ({"loss_d": "0.5"}, {}, TypeError, "'loss_d' doit être une liste de nombres"),
    ({"loss_d": [1.0, "x"]}, {}, TypeError, "'loss_d' doit être une liste de nombres"),
    ({"loss_d": [1.0, 2.0]}, {"smooth": 0}, ValueError, "smooth .* entier supérieur ou égal à 1"),
    ({"loss_d": [1.0, 2.0]}, {"smooth": 2.5}, ValueError, "smooth .* entier supérieur ou égal à 1"),
])
def test_plot_history_errors(history, kwargs, error, message):
    with pytest.raises(error, match=message):
        plots.plot_history(history, **kwargs)
    plt.close("all")


def test_class_histogram_draws_one_bar_per_digit_and_model():
    shares_a = [0.1] * 10
    shares_b = [0.05, 0.15] * 5
    reports = [EvaluationReport(fid=1.0, confident_share=0.9, class_shares=shares, n_samples=10,
                                name=name) for shares, name in ((shares_a, "A"), (shares_b, "B"))]
    fig, ax = plt.subplots()
    assert plots.plot_class_histogram(reports, ax=ax) is fig
    bars_a, bars_b = ax.containers
    assert same([bar.get_height() for bar in bars_a], [10.0] * 10)
    assert same([bar.get_height() for bar in bars_b], [5.0, 15.0] * 5)
    assert same([bar.get_x() + bar.get_width() / 2 for bar in bars_a], [d - 0.2 for d in range(10)])
    assert same([bar.get_x() + bar.get_width() / 2 for bar in bars_b], [d + 0.2 for d in range(10)])
    band = ax.patches[0]
    assert (band.get_y(), band.get_height()) == (5, 10)        # la zone grise 5 %-15 %
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["zone 5 %–15 %", "A", "B"]
    plt.close(fig)
    with pytest.raises(ValueError, match="Aucun rapport à tracer"):
        plots.plot_class_histogram([])


# --- l'animation GIF des grilles (jour 3) ---------------------------------------

def gif_frames(path):
    with Image.open(path) as gif:
        return gif.n_frames


def test_grid_animation_writes_a_gif_and_keeps_previous_versions(tmp_path):
    grids = [constant_images(v, v, v, v) for v in (-1.0, 0.0, 1.0)]
    path = tmp_path / "anim" / "progression.gif"
    first = plots.save_grid_animation(grids, path, nrow=2, labels=["a", "b", "c"])
    assert first[:6] in (b"GIF87a", b"GIF89a") and path.read_bytes() == first
    assert gif_frames(path) == 3
    second = plots.save_grid_animation(grids[:2], path, nrow=2)
    third = plots.save_grid_animation(grids[:1], path, nrow=2)
    assert path.read_bytes() == third and gif_frames(path) == 1
    versions = checkpoint.previous_versions(path.parent)
    assert [(v / "progression.gif").read_bytes() for v in versions] == [first, second]
    assert sorted(p.name for p in path.parent.iterdir()) == ["precedent", "progression.gif"]


def test_grid_animation_keeps_only_the_last_versions(tmp_path):
    path = tmp_path / "progression.gif"
    saved = [plots.save_grid_animation([constant_images(v / 10)], path, scale=1)
             for v in range(checkpoint.KEPT_VERSIONS + 2)]
    versions = checkpoint.previous_versions(tmp_path)
    assert len(versions) == checkpoint.KEPT_VERSIONS
    assert [(v / "progression.gif").read_bytes() for v in versions] == saved[1:-1]


def only_the_gif_remains(folder, expected):
    """Le GIF d'avant est entier, et il n'y a ni fichier temporaire ni version vide."""
    assert (folder / "progression.gif").read_bytes() == expected
    files = [p.name for p in folder.rglob("*") if p.is_file()]
    assert files == ["progression.gif"], files
    assert checkpoint.previous_versions(folder) == []


def test_grid_animation_interrupted_while_writing_keeps_the_old_gif(tmp_path, monkeypatch):
    path = tmp_path / "progression.gif"
    old = plots.save_grid_animation([constant_images(0)], path)

    def interrupted_save(image, target, *args, **kwargs):
        """Un début de GIF (dans un fichier ouvert, ou à un chemin donné), puis Ctrl-C."""
        if isinstance(target, (str, os.PathLike)):
            Path(target).write_bytes(b"GIF89a moitie")
        else:
            target.write(b"GIF89a moitie")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        plots.save_grid_animation([constant_images(1)], path)
    only_the_gif_remains(tmp_path, old)


def test_grid_animation_interrupted_while_renaming_keeps_the_old_gif(tmp_path, monkeypatch):
    path = tmp_path / "progression.gif"
    old = plots.save_grid_animation([constant_images(0)], path)
    real_replace, calls = os.replace, []

    def interrupted_replace(source, target):
        calls.append(target)
        if os.fspath(target) == os.fspath(path) and calls.count(target) == 1:
            raise KeyboardInterrupt         # Ctrl-C au moment de mettre le nouveau GIF en place
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        plots.save_grid_animation([constant_images(1)], path)
    assert calls, "os.replace n'a pas été appelé"
    only_the_gif_remains(tmp_path, old)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_grid_animation_refuses_a_diverged_run(tmp_path, bad):
    path = tmp_path / "progression.gif"
    old = plots.save_grid_animation([constant_images(0)], path)
    diverged = constant_images(0, 0)
    diverged[0, 0, 0, 0] = bad
    with pytest.raises(ValueError, match=f"L'animation .*grille 2 sur 2, « b ».*{DIVERGED}"):
        plots.save_grid_animation([constant_images(0), diverged], path, labels=["a", "b"])
    only_the_gif_remains(tmp_path, old)


@pytest.mark.parametrize("grids, kwargs, message", [
    ([], {}, "vide"),
    ([constant_images(0)], {"labels": ["a", "b"]}, "une par grille"),
    ([torch.zeros(4, 3, 5, 5)], {}, "Forme d'images inattendue"),
    ([constant_images(0)], {"nrow": 0}, r"nrow \(nombre d'images par ligne\) doit être un entier"),
    ([constant_images(0)], {"nrow": 1.5}, r"nrow \(nombre d'images par ligne\) doit être un entier"),
    ([constant_images(0)], {"scale": 0}, r"scale \(agrandissement des pixels\) doit être un entier"),
])
def test_grid_animation_bad_input(tmp_path, grids, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plots.save_grid_animation(grids, tmp_path / "x.gif", **kwargs)
    assert not list(tmp_path.iterdir())


def test_grid_animation_refuses_a_folder(tmp_path):
    (tmp_path / "anim").mkdir()
    with pytest.raises(IsADirectoryError, match="est un dossier : donnez le chemin d'un fichier"):
        plots.save_grid_animation([constant_images(0)], tmp_path / "anim")
    assert [p.name for p in tmp_path.rglob("*")] == ["anim"]


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
