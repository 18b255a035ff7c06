"""Grilles d'images et courbes d'entraînement (matplotlib).

Aucune configuration globale de matplotlib n'est modifiée. Chaque fonction
dessine une figure. Sans axe ``ax`` fourni, elle crée sa figure, l'affiche avec
``plt.show()`` et ne renvoie rien (pas de double affichage dans le notebook) ;
avec ``ax``, elle dessine dans cet axe et renvoie sa figure.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib.pyplot as plt
import torch


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


def image_grid(images, nrow: int = 8) -> torch.Tensor:
    """Assemble un lot d'images en une seule image (grille) dans [0, 1], de forme (3, H, W)."""
    from torchvision.utils import make_grid

    images = _as_image_batch(images)
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
    gris (32 : invisible à l'œil, et un fichier deux fois plus léger). Si ``path``
    existe déjà, l'ancien fichier est d'abord
    copié dans ``precedent/`` à côté de lui. Renvoie les octets du GIF, à afficher
    dans le notebook avec ``IPython.display.Image(data=...)``.
    """
    import shutil

    from PIL import Image, ImageDraw

    grids = list(grids)
    if not 2 <= gray_levels <= 256:
        raise ValueError(f"gray_levels doit être entre 2 et 256 (reçu : {gray_levels}).")
    if not grids:
        raise ValueError("Aucune grille à animer : la liste est vide (l'entraînement a-t-il tourné ?).")
    if labels is not None and len(labels) != len(grids):
        raise ValueError(f"{len(labels)} légendes pour {len(grids)} grilles : il en faut une par grille.")
    font = None
    if labels is not None:
        from matplotlib import font_manager
        from PIL import ImageFont

        font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 14)
    frames = []
    for index, images in enumerate(grids):
        levels = gray_levels - 1
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        backup = path.parent / "precedent"
        backup.mkdir(exist_ok=True)
        shutil.copy2(path, backup / path.name)
    temporary = path.with_name(path.name + ".tmp")
    frames[0].save(temporary, format="GIF", save_all=True, append_images=frames[1:],
                   duration=duration_ms, loop=0)
    temporary.replace(path)
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


def _smooth(values, window: int):
    values = torch.as_tensor(values, dtype=torch.float64)
    if window <= 1 or len(values) < window:
        return values
    kernel = torch.ones(window, dtype=torch.float64) / window
    return torch.nn.functional.conv1d(values.view(1, 1, -1), kernel.view(1, 1, -1)).view(-1)


def plot_history(history: dict, keys=None, smooth: int = 1, title: str | None = None,
                 reference: dict | None = None, ax=None, xlabel: str = "étape"):
    """Trace des courbes d'entraînement.

    Entrée : ``history``, un dictionnaire ``nom -> liste de valeurs`` (une valeur
    par étape) ; ``keys`` : les courbes à tracer (toutes par défaut) ;
    ``smooth`` : moyenne glissante sur ce nombre de points ; ``reference`` :
    lignes horizontales à tracer, ``{"légende": valeur}`` (par exemple l'équilibre 0,5).
    """
    if not isinstance(history, dict) or not history:
        raise ValueError("history doit être un dictionnaire non vide : {'loss_d': [...], ...}.")
    keys = list(keys or history.keys())
    unknown = [k for k in keys if k not in history]
    if unknown:
        raise KeyError(f"Courbes inconnues : {unknown}. Disponibles : {list(history)}.")
    own_figure = ax is None
    if own_figure:
        fig, ax = plt.subplots(figsize=(8, 3.5))
    else:
        fig = ax.figure
    for key in keys:
        values = _smooth(history[key], smooth)
        offset = (len(history[key]) - len(values)) // 2
        _ = ax.plot(range(offset, offset + len(values)), values.numpy(), label=key, linewidth=1.2)
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
