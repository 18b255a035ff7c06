"""Grilles d'images et courbes d'entraînement (matplotlib).

Aucune configuration globale de matplotlib n'est modifiée. Chaque fonction
dessine une figure. Sans axe ``ax`` fourni, elle crée sa figure, l'affiche avec
``plt.show()`` et ne renvoie rien (pas de double affichage dans le notebook) ;
avec ``ax``, elle dessine dans cet axe et renvoie sa figure.
"""

from __future__ import annotations

import base64
import io
import math
import numbers
from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from .checkpoint import _require_finite, write_version


def _as_image_batch(images) -> torch.Tensor:
    """Ramène des images au format float (N, 1, 28, 28) dans [-1, 1], avec une erreur claire sinon."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"Les images doivent être un tenseur PyTorch (reçu : {type(images).__name__}).")
    images = images.detach().cpu()
    if images.dtype == torch.uint8:
        images = images.float() / 127.5 - 1.0
    images = images.float()
    if images.dim() == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 1, 28, 28)
    elif images.dim() == 3:
        images = images.unsqueeze(1)
    elif images.dim() == 4 and images.shape[1] != 1 and images.shape[-1] == 1:
        images = images.permute(0, 3, 1, 2)
    if images.dim() != 4 or images.shape[1] != 1 or images.shape[0] == 0:
        raise ValueError(
            f"Forme d'images inattendue : {tuple(images.shape)}. Attendu : un lot d'images en niveaux "
            "de gris, (N, 1, H, W), (N, H, W) ou (N, 784) pour MNIST. Pour une seule image, "
            "ajoutez une dimension de lot : img.unsqueeze(0)."
        )
    return images


def _positive_int(value, name: str, meaning: str) -> int:
    """Renvoie ``value`` si c'est un entier au moins égal à 1, sinon lève une erreur française."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} ({meaning}) doit être un entier supérieur ou égal à 1 "
                         f"(reçu : {value!r}).")
    return int(value)


def image_grid(images, nrow: int = 8) -> torch.Tensor:
    """Assemble un lot d'images en une seule image (grille) dans [0, 1], de forme (3, H, W).

    Échelle fixe : -1 donne du noir (0), 1 du blanc (1), 0 du gris (0,5) ; les
    valeurs hors de [-1, 1] sont ramenées aux bornes, un lot n'est jamais étiré.
    Séparation blanche de 2 pixels entre les images. Des NaN ou des infinis
    (entraînement divergé) donnent une erreur au lieu d'images noires.
    """
    from torchvision.utils import make_grid

    nrow = _positive_int(nrow, "nrow", "nombre d'images par ligne")
    images = _as_image_batch(images)
    diverged = int((~torch.isfinite(images)).flatten(1).any(1).sum())
    _require_finite([(f"{diverged} image(s) sur {len(images)}", images)], "Le lot d'images", saving=False)
    return make_grid(images.clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1),
                     padding=2, pad_value=1.0)


def show_images(images, nrow: int = 8, title: str | None = None, ax=None, save_to: str | Path | None = None):
    """Affiche une grille d'images (valeurs dans [-1, 1], ou uint8 de 0 à 255).

    Entrée : un tenseur (N, 1, 28, 28), (N, 28, 28) ou (N, 784). ``save_to`` :
    chemin d'un PNG où enregistrer aussi la figure.
    """
    grid = image_grid(images, nrow=nrow)
    own_figure = ax is None
    if own_figure:
        size = min(2 + 0.9 * nrow, 10)
        fig, ax = plt.subplots(figsize=(size, size * grid.shape[1] / grid.shape[2]))
    else:
        fig = ax.figure
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if save_to is not None:
        Path(save_to).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(save_to, bbox_inches="tight")
    if own_figure:
        plt.show()
        return None
    return fig


def save_grid_animation(grids, path: str | Path, nrow: int = 8, labels=None, duration_ms: int = 500,
                        scale: int = 3, gray_levels: int = 32) -> bytes:
    """Enregistre une suite de lots d'images (par exemple une grille par époque) en GIF animé.

    ``grids`` : une liste de lots d'images (même format que :func:`show_images`) ;
    ``labels`` : un texte par image de l'animation (par exemple « époque 3 »),
    écrit en haut à gauche. Les pixels sont ramenés à ``gray_levels`` niveaux de
    gris (32 : invisible à l'œil, et un fichier deux fois plus léger).

    L'écriture passe par :func:`utils.checkpoint.write_version` : le GIF est écrit
    dans un fichier temporaire caché, puis mis à la place de l'ancien, qui part
    dans ``precedent/<date-heure>/`` à côté (les ``KEPT_VERSIONS`` dernières
    versions sont gardées). Une interruption (Ctrl-C) laisse l'ancien GIF entier
    et aucun fichier temporaire. Une grille qui contient des NaN (entraînement
    divergé) n'est pas enregistrée. Renvoie les octets du GIF, à afficher dans le
    notebook avec ``IPython.display.Image(data=...)``.
    """
    from PIL import Image, ImageDraw

    grids = list(grids)
    nrow = _positive_int(nrow, "nrow", "nombre d'images par ligne")
    scale = _positive_int(scale, "scale", "agrandissement des pixels")
    if not 2 <= gray_levels <= 256:
        raise ValueError(f"gray_levels doit être entre 2 et 256 (reçu : {gray_levels}).")
    if not grids:
        raise ValueError("Aucune grille à animer : la liste est vide (l'entraînement a-t-il tourné ?).")
    if labels is not None and len(labels) != len(grids):
        raise ValueError(f"{len(labels)} légendes pour {len(grids)} grilles : il en faut une par grille.")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} est un dossier : donnez le chemin d'un fichier, par exemple "
                                f"{path / 'progression.gif'}.")
    font = None
    if labels is not None:
        from matplotlib import font_manager
        from PIL import ImageFont

        font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 14)
    frames = []
    levels = gray_levels - 1
    for index, images in enumerate(grids):
        where = f"grille {index + 1} sur {len(grids)}"
        if labels is not None:
            where += f", « {labels[index]} »"
        images = _as_image_batch(images)
        _require_finite([(where, images)], "L'animation")
        grid = ((image_grid(images, nrow=nrow) * levels).round() * (255 / levels)).round().to(torch.uint8)
        frame = Image.fromarray(grid.permute(1, 2, 0).numpy()).convert("RGB")
        frame = frame.resize((frame.width * scale, frame.height * scale), Image.NEAREST)
        if font is not None:
            # Un bandeau blanc au-dessus de la grille, pour la légende (accents compris)
            framed = Image.new("RGB", (frame.width, frame.height + 22), (255, 255, 255))
            framed.paste(frame, (0, 22))
            ImageDraw.Draw(framed).text((6, 3), str(labels[index]), fill=(0, 0, 0), font=font)
            frame = framed
        frames.append(frame)

    def write_gif(handle):
        frames[0].save(handle, format="GIF", save_all=True, append_images=frames[1:],
                       duration=duration_ms, loop=0)

    write_version(path.parent, {path.name: write_gif})
    return path.read_bytes()


def _compact_png(figure) -> str | None:
    """La figure en PNG à palette (256 couleurs, fond blanc), encodé en base64 pour le notebook."""
    from IPython.core.pylabtools import print_figure
    from PIL import Image

    raw = print_figure(figure, fmt="png", bbox_inches="tight")
    if raw is None:  # figure vide : rien à afficher, comme le fait IPython
        return None
    image = Image.open(io.BytesIO(raw))
    if image.mode in ("RGBA", "LA"):
        opaque = Image.new("RGB", image.size, (255, 255, 255))
        opaque.paste(image, mask=image.getchannel("A"))
        image = opaque
    image = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def use_compact_figures() -> bool:
    """Dans un notebook, enregistre les figures matplotlib en PNG à palette de 256 couleurs.

    Même taille, même résolution, mêmes couleurs à l'œil, mais des fichiers deux
    à trois fois plus légers : les notebooks qui gardent leurs sorties s'ouvrent
    plus vite. Appelée par :func:`utils.setup` ; ne fait rien hors d'un noyau
    IPython. Renvoie ``True`` si le réglage est en place.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    import matplotlib
    from matplotlib.figure import Figure

    if "matplotlib_inline" in str(matplotlib.rcParams["backend"]):
        # Charger le backend maintenant : à son chargement, il installe son propre format PNG,
        # qui remplacerait sinon celui-ci à la première figure.
        import matplotlib_inline.backend_inline  # noqa: F401
    shell.display_formatter.formatters["image/png"].for_type(Figure, _compact_png)
    return True


def _series(history: dict, key) -> tuple[torch.Tensor, int | None]:
    """Les valeurs de la courbe ``key`` en float64, et l'indice de la première NaN ou infinie.

    Une valeur ``None`` (étape non mesurée) devient un trou dans la courbe ; une
    NaN ou un infini aussi, mais signale en plus un entraînement divergé.
    """
    values = history[key]
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().reshape(-1).tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"La courbe {key!r} doit être une liste de nombres, une valeur par étape "
                        f"(reçu : {type(values).__name__}).")
    points, diverged = [], None
    for index, value in enumerate(values):
        try:
            if isinstance(value, (str, bytes)):
                raise TypeError
            point = math.nan if value is None else float(value)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"La courbe {key!r} doit être une liste de nombres, une valeur par "
                            f"étape : la valeur n° {index} est {value!r}.") from None
        if value is not None and diverged is None and not math.isfinite(point):
            diverged = index
        points.append(point)
    if not points:
        raise ValueError(f"La courbe {key!r} est vide : aucune valeur enregistrée "
                         "(l'entraînement a-t-il tourné ?).")
    series = torch.tensor(points, dtype=torch.float64)
    return series.nan_to_num(nan=math.nan, posinf=math.nan, neginf=math.nan), diverged


def _smooth(values: torch.Tensor, window: int) -> torch.Tensor:
    """Moyenne glissante sur ``window`` points (sans bords : ``len - window + 1`` valeurs).

    Les trous (NaN) sont ignorés : chaque moyenne porte sur les valeurs présentes
    de sa fenêtre, et reste un trou si la fenêtre n'en contient aucune. Moins de
    ``window`` valeurs : la courbe est rendue telle quelle.
    """
    if window <= 1 or len(values) < window:
        return values
    present = ~values.isnan()
    kernel = torch.ones(1, 1, window, dtype=torch.float64)
    sums = torch.nn.functional.conv1d(values.nan_to_num(0.0).view(1, 1, -1), kernel).view(-1)
    counts = torch.nn.functional.conv1d(present.double().view(1, 1, -1), kernel).view(-1)
    return torch.where(counts > 0, sums / counts.clamp(min=1), math.nan)


def plot_history(history: dict, keys=None, smooth: int = 1, title: str | None = None,
                 reference: dict | None = None, ax=None, xlabel: str = "étape"):
    """Trace des courbes d'entraînement.

    Entrée : ``history``, un dictionnaire ``nom -> liste de valeurs`` (une valeur
    par étape) ; ``keys`` : la courbe ou la liste des courbes à tracer (toutes
    par défaut) ; ``smooth`` : moyenne glissante sur ce nombre de points (1 : pas
    de lissage), centrée sur chaque point ; ``reference`` : lignes horizontales à
    tracer, ``{"légende": valeur}`` (par exemple l'équilibre 0,5).

    Une valeur ``None`` laisse un trou. Une NaN ou un infini aussi, et la
    légende de la courbe dit alors à partir de quel point l'entraînement a divergé.
    """
    if not isinstance(history, dict) or not history:
        raise ValueError("history doit être un dictionnaire non vide : {'loss_d': [...], ...}.")
    if isinstance(keys, str):
        keys = [keys]
    keys = list(keys) if keys else list(history)
    unknown = [k for k in keys if k not in history]
    if unknown:
        raise KeyError(f"Courbes inconnues : {unknown}. Disponibles : {list(history)}.")
    smooth = _positive_int(smooth, "smooth", "nombre de points de la moyenne glissante, 1 pour aucune")
    curves = {key: _series(history, key) for key in keys}
    own_figure = ax is None
    if own_figure:
        fig, ax = plt.subplots(figsize=(8, 3.5))
    else:
        fig = ax.figure
    for key, (series, diverged) in curves.items():
        values = _smooth(series, smooth)
        offset = (len(series) - len(values)) // 2
        label = key if diverged is None else f"{key} — divergé ({xlabel} {diverged} : NaN ou infini)"
        _ = ax.plot(range(offset, offset + len(values)), values.numpy(), label=label, linewidth=1.2)
    for label, value in (reference or {}).items():
        _ = ax.axhline(value, color="gray", linestyle="--", linewidth=1, label=label)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    _ = ax.legend()
    if title:
        ax.set_title(title)
    if own_figure:
        plt.tight_layout()
        plt.show()
        return None
    return fig


def plot_class_histogram(reports, ax=None, title: str = "Chiffres prédits par l'évaluateur"):
    """Histogramme des chiffres prédits pour un ou plusieurs rapports de l'évaluateur.

    Entrée : un :class:`~utils.evaluator.EvaluationReport` ou une liste. La bande
    grise marque la zone 5 %-15 % (10 % = couverture parfaite).
    """
    if not isinstance(reports, (list, tuple)):
        reports = [reports]
    if not reports:
        raise ValueError("Aucun rapport à tracer : passez un rapport de l'évaluateur ou une liste non vide.")
    own_figure = ax is None
    if own_figure:
        fig, ax = plt.subplots(figsize=(8, 3))
    else:
        fig = ax.figure
    width = 0.8 / len(reports)
    _ = ax.axhspan(5, 15, color="gray", alpha=0.15, label="zone 5 %–15 %")
    for i, report in enumerate(reports):
        xs = [d + (i - (len(reports) - 1) / 2) * width for d in range(10)]
        _ = ax.bar(xs, [100 * s for s in report.class_shares], width=width,
                   label=report.name or f"modèle {i + 1}")
    ax.set_xticks(range(10))
    ax.set_xlabel("chiffre prédit")
    ax.set_ylabel("% des échantillons")
    ax.set_title(title)
    _ = ax.legend(fontsize=8)
    if own_figure:
        plt.tight_layout()
        plt.show()
        return None
    return fig
