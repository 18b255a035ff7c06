"""Suivi de l'entraînement : barre de progression et journal TensorBoard.

Pour ouvrir TensorBoard, depuis la racine du dépôt : ``tensorboard --logdir runs``
puis http://localhost:6006 ; ou dans un notebook : ``%load_ext tensorboard`` et
``%tensorboard --logdir ../../runs``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import torch

from .runtime import check_simple_name, is_quick_mode, repo_root


def progress(iterable=None, total: int | None = None, desc: str = "", **kwargs):
    """Barre de progression adaptée aux notebooks (``tqdm.auto``).

    S'utilise comme ``tqdm`` : ``for step in progress(range(n), desc="GAN"):``.
    On peut mettre à jour le texte de droite avec ``bar.set_postfix(loss_d=...)``.
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, **kwargs)


def tensorboard_dir(name: str) -> Path:
    """Dossier du journal TensorBoard d'une exécution du notebook ``name``.

    Mode complet : ``runs/<name>/<date-heure>`` (une exécution = une courbe,
    pour comparer les essais). Mode rapide : ``runs/rapide/<name>``, vidé à
    chaque fois. ``name`` doit être un nom simple (ni vide, ni ``..``, ni
    séparateur) : le journal ne sort jamais de ``runs/``.
    """
    check_simple_name(name, "du journal TensorBoard", "train_gan_images")
    base = repo_root() / "runs"
    if is_quick_mode():
        return base / "rapide" / name
    return base / name / time.strftime("%Y%m%d-%H%M%S")


def _remove_quick_log(folder: Path) -> None:
    """Vide le journal d'un essai rapide, seulement s'il est bien un dossier sous ``runs/rapide/``.

    Le chemin est résolu (liens et ``..`` suivis) avant la vérification : rien
    d'autre (journaux du mode complet, reste du dépôt) ne peut être supprimé.
    """
    quick_root = (repo_root() / "runs" / "rapide").resolve()
    target = folder.resolve()
    if (folder.is_symlink() or not target.is_dir() or target == quick_root
            or not target.is_relative_to(quick_root)):
        raise RuntimeError(
            f"Refus de supprimer {folder} : seul un dossier situé sous {quick_root} (journaux du "
            "mode rapide) peut être vidé. Rien n'a été supprimé. À faire : donnez au journal "
            "un autre nom simple, par exemple 'train_gan_images', ou déplacez vous-même ce "
            "dossier s'il ne sert plus."
        )
    shutil.rmtree(target)


class TensorBoardLogger:
    """Journal TensorBoard minimal : courbes (``log_scalars``) et grilles d'images (``log_images``).

    Exemple ::

        tb = TensorBoardLogger("train_gan_images")
        tb.log_scalars(step, loss_d=0.7, loss_g=1.2)
        tb.log_images("echantillons", fake_images, step)
        tb.close()
    """

    def __init__(self, name: str):
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = tensorboard_dir(name)
        if is_quick_mode() and self.log_dir.exists():
            _remove_quick_log(self.log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def log_scalars(self, step: int, **values: float) -> None:
        """Ajoute un point à chaque courbe nommée (``loss_d=...``, ``d_real=...``)."""
        for key, value in values.items():
            self.writer.add_scalar(key, float(value), step)

    def log_images(self, tag: str, images: torch.Tensor, step: int, nrow: int = 8) -> None:
        """Ajoute une grille d'images (valeurs dans [-1, 1]) sous l'onglet IMAGES."""
        from .plots import image_grid

        self.writer.add_image(tag, image_grid(images, nrow=nrow), step)

    def close(self) -> None:
        """Écrit tout sur le disque et ferme le journal."""
        self.writer.flush()
        self.writer.close()
