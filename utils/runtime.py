"""Environnement d'exécution : graine, appareil (CPU/GPU), mode rapide, chemins du dépôt.

Rien ne se passe à l'import : chaque fonction fait une chose quand on l'appelle.
"""

from __future__ import annotations

import os
import random
import re
import unicodedata
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


#: Variable d'environnement qui impose l'appareil (« cpu », « cuda », « mps ») sans
#: toucher aux notebooks ; ``prefer`` de :func:`get_device` l'emporte sur elle.
DEVICE_ENV_VAR = "GANS_DEVICE"
_DEVICES = ("cpu", "cuda", "mps")


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """Choisit l'appareil de calcul : CUDA si présent, sinon MPS (Mac), sinon CPU.

    ``prefer`` (« cpu », « cuda », « mps », ou un ``torch.device``) force un choix ;
    la variable d'environnement ``GANS_DEVICE`` fait de même sans toucher au
    notebook. ``prefer`` l'emporte sur la variable ; majuscules et espaces
    autour sont sans effet.
    """
    if isinstance(prefer, torch.device):
        prefer = prefer.type
    if prefer is not None and not isinstance(prefer, str):
        raise TypeError(f"L'appareil doit être un texte ('cpu', 'cuda' ou 'mps') ou un "
                        f"torch.device (reçu : {type(prefer).__name__}).")
    if prefer and prefer.strip():
        choice, origin = prefer.strip().lower(), "demandé dans le notebook"
    else:
        choice = os.environ.get(DEVICE_ENV_VAR, "").strip().lower()
        origin = f"demandé par la variable d'environnement {DEVICE_ENV_VAR}"
    if not choice:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice not in _DEVICES:
        raise ValueError(f"Appareil inconnu : {choice!r} ({origin}). Choisissez 'cpu', 'cuda' ou "
                         "'mps', ou ne précisez rien pour un choix automatique.")
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"CUDA est {origin} mais aucun GPU NVIDIA n'est visible : retirez ce "
                           "choix pour utiliser le CPU.")
    if choice == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"MPS est {origin} mais n'est pas disponible sur cette machine : "
                           "retirez ce choix pour utiliser le CPU.")
    return torch.device(choice)


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


#: Ce qui désigne le dépôt du cours : le nom déclaré dans son ``pyproject.toml``,
#: et un fichier qu'aucun autre projet n'a.
PROJECT_NAME = "gans-par-la-pratique"
_PROJECT_NAME_LINE = re.compile(rf'^\s*name\s*=\s*["\']{re.escape(PROJECT_NAME)}["\']\s*$', re.MULTILINE)


def _is_course_repo(path: Path) -> bool:
    """``True`` si ``path`` est la racine d'un clone du cours (et pas un autre projet)."""
    try:
        text = (path / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return bool(_PROJECT_NAME_LINE.search(text)) and (path / "utils" / "course.py").is_file()


def repo_root() -> Path:
    """Racine du dépôt du cours (le dossier qui contient ``data/`` et ``utils/``).

    Cherche d'abord à côté du paquet ``utils`` (clone installé en mode éditable),
    puis en remontant depuis le dossier courant. Seul compte un dossier dont le
    ``pyproject.toml`` déclare ``name = "gans-par-la-pratique"`` et qui contient
    ``utils/course.py`` : un autre projet n'est jamais pris pour le cours (on n'y
    écrit ni ``outputs/`` ni ``runs/``).
    """
    package_parent = Path(__file__).resolve().parent.parent
    here = Path.cwd().resolve()
    for path in (package_parent, here, *here.parents):
        if _is_course_repo(path):
            return path
    raise FileNotFoundError(
        f"Impossible de trouver le dépôt du cours : ni {package_parent} (à côté du paquet utils), "
        f"ni le dossier courant {here}, ni ses parents ne contiennent un pyproject.toml nommé "
        f"« {PROJECT_NAME} » avec utils/course.py. À faire : ouvrez le notebook depuis le dépôt "
        "cloné, et installez-le depuis sa racine avec « pip install -r requirements.txt » "
        "(installation éditable)."
    )


def check_simple_name(name, what: str, example: str) -> str:
    """Renvoie ``name`` s'il est un nom de dossier simple, sinon lève une erreur française.

    Refusés : un non-texte, le vide, ``.``, ``..``, un nom commençant par ``.``,
    un séparateur (``/``, ``\\``) ou un caractère de contrôle. ``what`` dit à quoi
    sert le nom, ``example`` en donne un bon.
    """
    if not isinstance(name, str):
        raise TypeError(f"Le nom {what} doit être un texte (reçu : {type(name).__name__}), "
                        f"par exemple {example!r}.")
    if (not name.strip() or name.startswith(".") or any(sep in name for sep in "/\\")
            or any(unicodedata.category(char) == "Cc" for char in name)):
        raise ValueError(f"Nom {what} invalide : {name!r}. Il faut un nom simple, sans « / », "
                         f"« \\ », point au début ni caractère de contrôle, par exemple {example!r}.")
    return name
