"""Sauvegarde et rechargement des poids, et artefacts des générateurs entraînés.

* Les écritures sont atomiques : chaque fichier est d'abord écrit à côté sous un
  nom temporaire, puis renommé. Une coupure en pleine écriture ne laisse jamais un
  fichier à moitié écrit à la place de l'ancien.
* Les artefacts d'une exécution (``generator.pt`` et ``samples.pt``) forment une
  **seule version** : les deux fichiers sont remplacés ensemble, ou aucun. Une
  interruption (Ctrl-C, bouton « stop » de Jupyter) pendant l'écriture laisse la
  version d'avant en place, et aucun fichier temporaire.
* La lecture passe par ``torch.load(..., weights_only=True)`` : un fichier de
  poids ne peut pas exécuter de code.
* Rien de ce que vous avez enregistré n'est écrasé sans le demander :
  ``save_checkpoint`` refuse d'écraser sauf ``overwrite=True``, et une nouvelle
  version d'artefacts range l'ancienne dans ``precedent/<date-heure>/`` (les
  :data:`KEPT_VERSIONS` dernières versions sont gardées).
* Une exécution qui a divergé (NaN dans les poids ou les images) n'est pas
  enregistrée : elle ne chasse pas la bonne version.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO, Callable

import torch
from torch import nn

from .runtime import check_simple_name, is_quick_mode, repo_root

N_ARTIFACT_SAMPLES = 10_000

#: Nombre de versions précédentes gardées dans ``precedent/`` (les plus récentes).
KEPT_VERSIONS = 5

_VERSION_NAME = re.compile(r"^\d{8}-\d{6}(-\d+)?$")


def _write_error(folder: Path, error: OSError) -> OSError:
    """Erreur française pour un dossier où l'on ne peut pas écrire (droits, disque plein...)."""
    if isinstance(error, PermissionError):
        return PermissionError(
            f"Impossible d'écrire dans {folder} : accès refusé (dossier en lecture seule ?). "
            "Rien n'a été modifié. À faire : rendez le dossier modifiable (chmod u+w), ou "
            "travaillez dans une copie du dépôt qui vous appartient."
        )
    return OSError(f"Impossible d'écrire dans {folder} : {error.strerror or error}. Rien n'a été "
                   "modifié. À faire : libérez de la place sur le disque ou vérifiez le dossier.")


def _write_temp(folder: Path, name: str, write: Callable[[BinaryIO], None]) -> Path:
    """Écrit un fichier temporaire caché dans ``folder`` (même disque que la cible) et le renvoie.

    Le contenu est forcé sur le disque (``fsync``). En cas d'erreur ou
    d'interruption, le fichier temporaire est supprimé.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp crée en 0600 : droits usuels
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp_name)
        raise
    return Path(tmp_name)


@contextlib.contextmanager
def _interrupt_deferred():
    """Reporte un Ctrl-C reçu pendant le bloc à la fin du bloc (quelques renommages).

    Hors du fil principal, où l'on ne peut pas changer le gestionnaire de signal,
    ne fait rien.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def _new_version_dir(backup: Path) -> Path:
    """Crée ``precedent/<date-heure>/`` (avec un suffixe -2, -3... si le nom est déjà pris)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    same_second = [_version_key(v)[1] for v in previous_versions(backup.parent) if v.name[:15] == stamp]
    name = f"{stamp}-{max(same_second) + 1}" if same_second else stamp
    candidate = backup / name
    candidate.mkdir(parents=True)
    return candidate


def _version_key(path: Path):
    """Clé de tri d'une version : (date-heure, numéro dans la même seconde)."""
    return path.name[:15], int(path.name[16:] or 1)


def previous_versions(folder: str | Path, names=None) -> list[Path]:
    """Les versions précédentes gardées dans ``<folder>/precedent/``, de la plus ancienne à la plus récente.

    ``names`` (facultatif) : ne garder que les versions qui contiennent l'un de
    ces fichiers (par exemple ``["samples.pt"]``, ou ``["progression.gif"]``).
    """
    backup = Path(folder) / "precedent"
    if not backup.is_dir():
        return []
    versions = [p for p in backup.iterdir() if p.is_dir() and _VERSION_NAME.match(p.name)]
    if names is not None:
        versions = [p for p in versions if any((p / name).exists() for name in names)]
    return sorted(versions, key=_version_key)


def _prune_versions(folder: Path, names) -> None:
    """Ne garde que les :data:`KEPT_VERSIONS` versions précédentes les plus récentes de ces fichiers."""
    for old in previous_versions(folder, names)[:-KEPT_VERSIONS]:
        shutil.rmtree(old, ignore_errors=True)


def write_version(folder: str | Path, writers: dict[str, Callable[[BinaryIO], None]]) -> Path:
    """Écrit plusieurs fichiers de ``folder`` comme une seule version : tous, ou aucun.

    ``writers`` associe à chaque nom de fichier une fonction qui écrit son contenu
    dans un fichier binaire ouvert (par exemple ``lambda f: torch.save(obj, f)``).

    1. Chaque fichier est écrit sous un nom temporaire, à côté (la partie longue :
       une interruption ici supprime les temporaires, rien d'autre ne change).
    2. Les fichiers actuels du même nom partent dans ``precedent/<date-heure>/``,
       puis les nouveaux prennent leur place, par simples renommages, pendant
       lesquels un Ctrl-C est reporté à la fin ; une erreur remet tout comme avant.
    3. Seules les :data:`KEPT_VERSIONS` versions précédentes les plus récentes de ces
       fichiers sont gardées (les versions d'autres fichiers du dossier ne comptent pas).

    Renvoie ``folder``.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_error(folder, error) from None
    staged: dict[str, Path] = {}
    try:
        for name, write in writers.items():
            staged[name] = _write_temp(folder, name, write)
        _swap_in(folder, staged)
    except OSError as error:
        raise _write_error(folder, error) from None
    finally:
        for tmp in staged.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
    _prune_versions(folder, list(writers))
    return folder


def _swap_in(folder: Path, staged: dict[str, Path]) -> None:
    """Range les fichiers actuels dans une nouvelle version précédente, puis met ``staged`` à leur place."""
    current = [name for name in staged if (folder / name).exists()]
    with _interrupt_deferred():
        backup = _new_version_dir(folder / "precedent") if current else None
        moved, placed = [], []
        try:
            for name in current:
                os.replace(folder / name, backup / name)
                moved.append(name)
            for name, tmp in staged.items():
                os.replace(tmp, folder / name)
                placed.append(name)
        except BaseException:
            for name in placed:            # défaire : les nouveaux fichiers redeviennent temporaires
                os.replace(folder / name, staged[name])
            for name in moved:             # et les anciens reviennent à leur place
                os.replace(backup / name, folder / name)
            if backup is not None:
                with contextlib.suppress(OSError):
                    backup.rmdir()
            raise


def _atomic_torch_save(obj, path: Path) -> None:
    """Écrit ``obj`` dans ``path`` par un fichier temporaire renommé (sans version précédente)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _write_temp(path.parent, path.name, lambda handle: torch.save(obj, handle))
    except OSError as error:
        raise _write_error(path.parent, error) from None
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
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


_SIMPLE_TYPES = (bool, int, float, str, type(None))


def _plain_value(value, where: str):
    """Ramène une métadonnée à un type que ``torch.load(weights_only=True)`` sait relire.

    Les scalaires et tableaux NumPy deviennent des nombres Python et des tenseurs ;
    les listes, tuples et dictionnaires sont parcourus ; le reste est refusé
    clairement, avant toute écriture.
    """
    import numpy as np

    if isinstance(value, np.generic):        # avant float : np.float64 est aussi un float
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if type(value) in _SIMPLE_TYPES or isinstance(value, torch.Tensor):
        return value
    for simple in (bool, int, float, str):   # sous-classes (IntEnum...) : le type de base
        if isinstance(value, simple):
            return simple(value)
    if isinstance(value, (list, tuple)):
        items = [_plain_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: _plain_value(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(
        f"La valeur {where} est de type {type(value).__name__}, qu'un fichier de poids ne peut pas "
        "relire sans risque. Rien n'a été écrit. À faire : enregistrez plutôt un nombre, un texte, "
        "une liste ou un dictionnaire de ceux-ci (par exemple str(chemin) pour un chemin)."
    )


def _require_finite(tensors, what: str, saving: bool = True) -> None:
    """Refuse des poids ou des images contenant des NaN ou des infinis (exécution divergée).

    ``saving`` : l'erreur précise que rien n'a été enregistré (sinon : rien n'est affiché).
    """
    consequence = ("Rien n'a été enregistré ; la version précédente reste en place." if saving
                   else "Il n'y a rien à afficher.")
    for name, tensor in tensors:
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(
                f"{what} contient des NaN ou des infinis ({name}) : l'entraînement a divergé. "
                f"{consequence} À faire : relancez l'entraînement (taux d'apprentissage plus "
                "petit, autre graine) et regardez les courbes de pertes pour voir où il part."
            )


def save_checkpoint(model: nn.Module, path: str | Path, overwrite: bool = False, **extra) -> Path:
    """Enregistre les poids de ``model`` dans ``path`` (écriture atomique).

    ``extra`` : valeurs simples à garder avec les poids (époque, hyperparamètres...) :
    nombres, textes, listes et dictionnaires de ceux-ci, tenseurs ; les nombres et
    tableaux NumPy sont convertis. Refuse d'écraser un fichier existant, sauf si
    ``overwrite=True``. Renvoie le chemin écrit.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} existe déjà et n'a pas été touché. Choisissez un autre nom, "
                              "ou passez overwrite=True pour le remplacer.")
    if "state_dict" in extra:
        raise ValueError("« state_dict » est réservé aux poids du modèle : choisissez un autre nom "
                         "pour cette valeur.")
    extra = {key: _plain_value(value, repr(key)) for key, value in extra.items()}
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
    check_simple_name(name, "de notebook pour les artefacts", "train_gan_images")
    quick = is_quick_mode() if quick is None else quick
    base = repo_root() / "outputs"
    return base / "rapide" / name if quick else base / name


def to_uint8_images(images: torch.Tensor) -> torch.Tensor:
    """Convertit des images dans [-1, 1] en ``uint8`` (N, 28, 28) de 0 à 255.

    Des NaN ou des infinis (entraînement divergé) donnent une erreur au lieu
    d'images noires.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"Les images doivent être un tenseur PyTorch (reçu : {type(images).__name__}).")
    if images.dim() == 0 or images[0].numel() != 28 * 28:
        raise ValueError(f"Forme d'images inattendue : {tuple(images.shape)}. Attendu : des chiffres "
                         "28×28, (N, 1, 28, 28), (N, 28, 28) ou (N, 784).")
    images = images.detach().float()
    _require_finite([("images", images)], "Le lot d'images")
    images = images.reshape(images.shape[0], 28, 28)
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def save_generator_artifacts(name: str, generator: nn.Module, samples: torch.Tensor) -> Path:
    """Enregistre ``generator.pt`` (poids) et ``samples.pt`` (10 000 chiffres en uint8 (10000, 28, 28)).

    Le dossier est :func:`artifacts_dir`. Les deux fichiers forment une seule
    version (voir :func:`write_version`) : la version d'avant part dans
    ``precedent/<date-heure>/``. Un générateur ou des images qui contiennent des
    NaN ne sont pas enregistrés (l'entraînement a divergé). Renvoie le dossier.
    """
    _require_finite(list(generator.state_dict().items()), "Le générateur")
    if samples.dtype != torch.uint8:
        samples = to_uint8_images(samples)
    if tuple(samples.shape) != (N_ARTIFACT_SAMPLES, 28, 28):
        raise ValueError(f"samples doit contenir {N_ARTIFACT_SAMPLES} chiffres de forme (28, 28) : "
                         f"forme attendue ({N_ARTIFACT_SAMPLES}, 28, 28), reçue {tuple(samples.shape)}.")
    state = {key: value.detach().cpu() for key, value in generator.state_dict().items()}
    samples = samples.contiguous().cpu()
    return write_version(artifacts_dir(name), {
        "generator.pt": lambda handle: torch.save(state, handle),
        "samples.pt": lambda handle: torch.save(samples, handle),
    })


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
