"""Sauvegarde et rechargement des poids, et artefacts des générateurs entraînés.

* Les écritures sont atomiques : le fichier est d'abord écrit à côté sous un nom
  temporaire, puis renommé. Une coupure en pleine écriture ne laisse jamais un
  fichier à moitié écrit à la place de l'ancien.
* La lecture passe par ``torch.load(..., weights_only=True)`` : un fichier de
  poids ne peut pas exécuter de code.
* Rien de ce que vous avez enregistré n'est écrasé sans le demander :
  ``save_checkpoint`` refuse d'écraser sauf ``overwrite=True``, et
  ``save_generator_artifacts`` garde la version précédente dans ``precedent/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from .runtime import is_quick_mode, repo_root

N_ARTIFACT_SAMPLES = 10_000


def _atomic_torch_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp crée en 0600 : droits usuels
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
        raise


def load_state_dict_file(path: str | Path) -> dict:
    """Lit un fichier de poids (``state_dict``) avec ``weights_only=True``.

    Erreurs claires : fichier absent, ou illisible (corrompu, tronqué, pas un
    fichier PyTorch). Le fichier n'est jamais modifié.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Fichier de poids introuvable : {path}. Vérifiez le chemin, "
                                "ou relancez l'entraînement qui le produit.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise RuntimeError(
            f"Impossible de lire {path} : le fichier est corrompu, tronqué ou n'est pas un fichier "
            "de poids PyTorch. Il n'a pas été modifié. Relancez l'entraînement pour en produire "
            f"un nouveau. (Détail : {type(error).__name__})"
        ) from None
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise RuntimeError(f"{path} ne contient pas de poids de modèle (state_dict) "
                           f"mais un objet de type {type(data).__name__}.")
    return data


def save_checkpoint(model: nn.Module, path: str | Path, overwrite: bool = False, **extra) -> Path:
    """Enregistre les poids de ``model`` dans ``path`` (écriture atomique).

    ``extra`` : valeurs simples à garder avec les poids (époque, hyperparamètres...).
    Refuse d'écraser un fichier existant, sauf si ``overwrite=True``.
    Renvoie le chemin écrit.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} existe déjà et n'a pas été touché. Choisissez un autre nom, "
                              "ou passez overwrite=True pour le remplacer.")
    _atomic_torch_save({"state_dict": model.state_dict(), **extra}, path)
    return path


def load_checkpoint(model: nn.Module, path: str | Path) -> nn.Module:
    """Charge dans ``model`` les poids enregistrés dans ``path`` et renvoie ``model``.

    Si les poids viennent d'une autre architecture, l'erreur dit quelles couches
    manquent, lesquelles sont en trop et lesquelles n'ont pas la bonne forme.
    """
    state = load_state_dict_file(path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} : fichier {tuple(state[k].shape)}, modèle {tuple(own[k].shape)}"
             for k in own if k in state and hasattr(state[k], "shape") and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        lines = [f"Les poids de {path} ne correspondent pas à l'architecture de "
                 f"{type(model).__name__}."]
        if missing:
            lines.append(f"  couches absentes du fichier : {', '.join(missing[:8])}")
        if unexpected:
            lines.append(f"  couches en trop dans le fichier : {', '.join(unexpected[:8])}")
        if wrong:
            lines.append("  formes différentes : " + " ; ".join(wrong[:8]))
        lines.append("À faire : recréez le modèle avec la même architecture (mêmes tailles de "
                     "couches, même z_dim) que lors de l'enregistrement, ou réentraînez-le.")
        raise ValueError("\n".join(lines))
    model.load_state_dict(state)
    return model


def artifacts_dir(name: str, quick: bool | None = None) -> Path:
    """Dossier des artefacts d'un notebook : ``outputs/<name>/`` à la racine du dépôt.

    En mode rapide (tests), ``outputs/rapide/<name>/`` : un essai de quelques
    secondes n'écrase jamais le résultat d'un vrai entraînement.
    """
    if not name or any(sep in name for sep in "/\\") or name.startswith("."):
        raise ValueError(f"Nom de notebook invalide pour les artefacts : {name!r} "
                         "(un nom simple, par exemple 'train_gan_images').")
    quick = is_quick_mode() if quick is None else quick
    base = repo_root() / "outputs"
    return base / "rapide" / name if quick else base / name


def to_uint8_images(images: torch.Tensor) -> torch.Tensor:
    """Convertit des images dans [-1, 1] en ``uint8`` (N, 28, 28) de 0 à 255."""
    images = images.detach().float().reshape(images.shape[0], 28, 28)
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def save_generator_artifacts(name: str, generator: nn.Module, samples: torch.Tensor) -> Path:
    """Enregistre ``generator.pt`` (poids) et ``samples.pt`` (10 000 chiffres en uint8 (10000, 28, 28)).

    Le dossier est :func:`artifacts_dir`. Si des artefacts y sont déjà, ils sont
    d'abord déplacés dans ``precedent/`` (la version d'avant reste disponible).
    Renvoie le dossier.
    """
    if samples.dtype != torch.uint8:
        samples = to_uint8_images(samples)
    if tuple(samples.shape) != (N_ARTIFACT_SAMPLES, 28, 28):
        raise ValueError(f"samples doit contenir {N_ARTIFACT_SAMPLES} chiffres de forme (28, 28) : "
                         f"forme attendue ({N_ARTIFACT_SAMPLES}, 28, 28), reçue {tuple(samples.shape)}.")
    folder = artifacts_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    previous = [folder / f for f in ("generator.pt", "samples.pt") if (folder / f).exists()]
    if previous:
        backup = folder / "precedent"
        backup.mkdir(exist_ok=True)
        for f in previous:
            shutil.copy2(f, backup / f.name)
    _atomic_torch_save(generator.state_dict(), folder / "generator.pt")
    _atomic_torch_save(samples.contiguous().cpu(), folder / "samples.pt")
    return folder


def load_samples(name: str, quick: bool | None = None) -> torch.Tensor:
    """Recharge les 10 000 échantillons enregistrés par le notebook ``name`` (uint8 (10000, 28, 28))."""
    path = artifacts_dir(name, quick) / "samples.pt"
    if not path.is_file():
        raise FileNotFoundError(f"Aucun échantillon enregistré pour « {name} » ({path} absent). "
                                f"Exécutez d'abord le notebook {name}.ipynb jusqu'au bout.")
    try:
        samples = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise RuntimeError(f"{path} est illisible (corrompu ou tronqué) ; il n'a pas été modifié. "
                           f"Réexécutez le notebook {name}.ipynb pour le régénérer.") from None
    if not isinstance(samples, torch.Tensor) or samples.dtype != torch.uint8 or samples.dim() != 3:
        raise RuntimeError(f"{path} ne contient pas des chiffres uint8 de forme (N, 28, 28).")
    return samples
