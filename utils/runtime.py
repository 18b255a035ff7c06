"""Environnement d'exécution : graine, appareil (CPU/GPU), mode rapide, chemins du dépôt.

Rien ne se passe à l'import : chaque fonction fait une chose quand on l'appelle.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

#: Variable d'environnement du mode rapide. ``GANS_QUICK=1`` : entraînements
#: raccourcis (quelques secondes, pour les tests) ; absente ou ``0`` : vrai
#: entraînement. Le ``conftest.py`` à la racine la fixe à 1 pour pytest.
QUICK_ENV_VAR = "GANS_QUICK"


def is_quick_mode() -> bool:
    """Renvoie ``True`` si le mode rapide est demandé (``GANS_QUICK`` vaut 1, true, oui...)."""
    value = os.environ.get(QUICK_ENV_VAR, "").strip().lower()
    return value in {"1", "true", "yes", "oui", "on"}


def quick_or_full(quick, full):
    """Renvoie ``quick`` en mode rapide, ``full`` sinon.

    Exemple : ``n_epochs = quick_or_full(1, 8)``.
    """
    return quick if is_quick_mode() else full


def set_seed(seed: int = 0) -> None:
    """Fixe la graine de ``random``, NumPy et PyTorch (CPU et GPU).

    Entrée : un entier. Après l'appel, deux exécutions du même code sur la même
    machine tirent les mêmes nombres aléatoires.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"La graine doit être un entier (reçu : {seed!r}).")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """Choisit l'appareil de calcul : CUDA si présent, sinon MPS (Mac), sinon CPU.

    ``prefer`` (« cpu », « cuda », « mps ») force un choix ; la variable
    d'environnement ``GANS_DEVICE`` fait de même sans toucher au notebook.
    """
    choice = (prefer or os.environ.get("GANS_DEVICE", "")).strip().lower()
    if choice:
        if choice == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA est demandé mais aucun GPU NVIDIA n'est visible : "
                               "retirez ce choix pour utiliser le CPU.")
        if choice == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError("MPS est demandé mais n'est pas disponible sur cette machine.")
        if choice not in {"cpu", "cuda", "mps"}:
            raise ValueError(f"Appareil inconnu : {choice!r}. Choisissez 'cpu', 'cuda' ou 'mps'.")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def setup(seed: int = 0, device: str | None = None) -> torch.device:
    """Cellule de démarrage des notebooks : fixe la graine, choisit l'appareil
    et affiche l'appareil et le mode (rapide ou complet).

    ``device`` (« cpu », « cuda », « mps ») impose l'appareil, par exemple le CPU
    pour des réseaux si petits qu'un GPU ne les accélère pas.
    Dans un notebook, les figures sont aussi enregistrées en PNG compact
    (voir :func:`utils.plots.use_compact_figures`).
    Renvoie l'appareil choisi (``torch.device``).
    """
    from .plots import use_compact_figures

    use_compact_figures()
    set_seed(seed)
    device = get_device(device)
    mode = "rapide (entraînements raccourcis)" if is_quick_mode() else "complet (vrai entraînement)"
    print(f"Appareil : {device} | Mode : {mode} | Graine : {seed} | PyTorch {torch.__version__}")
    return device


def repo_root() -> Path:
    """Racine du dépôt du cours (le dossier qui contient ``data/`` et ``utils/``).

    Cherche d'abord à côté du paquet ``utils`` (installation en mode éditable),
    puis en remontant depuis le dossier courant.
    """
    candidates = [Path(__file__).resolve().parent.parent]
    here = Path.cwd().resolve()
    candidates += [here, *here.parents]
    for path in candidates:
        if (path / "utils").is_dir() and (path / "pyproject.toml").is_file():
            return path
    raise FileNotFoundError(
        "Impossible de trouver la racine du dépôt du cours (dossier contenant "
        "pyproject.toml et utils/). Ouvrez le notebook depuis le dépôt cloné et "
        "installez-le avec « pip install -r requirements.txt »."
    )
