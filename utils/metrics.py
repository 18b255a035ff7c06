"""Les mesures du jour 6, en version de référence : FID, précision et rappel, densité et
couverture, mémorisation.

Le jour 6 les fait écrire dans le notebook ; ce module sert de référence aux
auto-vérifications et au tableau du cours. Les tests les confrontent à deux
bibliothèques tenues à jour : ``pytorch-fid`` (distance de Fréchet) et ``prdc``
(précision, rappel, densité, couverture, de Naeem et al.).

* :func:`features` : les 128 caractéristiques de l'évaluateur du cours ;
* :func:`frechet_distance` (celle de :mod:`utils.evaluator`) et :func:`fid` ;
* :func:`knn_radii`, :func:`precision_recall` (Kynkäänniemi et al. 2019, k = 3),
  :func:`density_coverage` (Naeem et al. 2020, k = 5) ;
* :func:`nearest_distances` et :func:`memorisation_ratio` (distances en pixels).

Les distances se calculent par blocs : 10 000 × 60 000 distances tiennent en
mémoire sans jamais former la matrice entière.
"""

from __future__ import annotations

import torch

from .evaluator import _mean_cov, _predict, frechet_distance, load_classifier, to_evaluator_input

__all__ = ["density_coverage", "features", "fid", "frechet_distance", "knn_radii",
           "memorisation_ratio", "mean_cov", "nearest_distances", "precision_recall"]

#: Taille des blocs de lignes pour les distances (1 000 × 60 000 float32 = 240 Mo).
CHUNK = 1000


def features(images: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Les 128 caractéristiques de l'évaluateur (avant-dernière couche), float32 (N, 128).

    ``images`` : tout format accepté par l'évaluateur (uint8 de 0 à 255, ou
    flottants dans [-1, 1]).
    """
    images = to_evaluator_input(images)
    feats, _ = _predict(load_classifier(torch.device(device)), images)
    return feats.float()


def mean_cov(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Moyenne (D,) et covariance (D, D) empiriques (dénominateur N - 1), en float64."""
    _check_points(feats, "les caractéristiques")
    return _mean_cov(feats.double())


def fid(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """Distance de Fréchet entre les gaussiennes ajustées à deux nuages de caractéristiques."""
    _check_pair(feats_a, feats_b, "les premières caractéristiques", "les secondes")
    return frechet_distance(*mean_cov(feats_a), *mean_cov(feats_b))


def _check_points(points, what: str) -> None:
    if not isinstance(points, torch.Tensor) or points.dim() != 2:
        shape = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"{what} : il faut un tenseur (N, D), un point par ligne (reçu : {shape}). "
                         "Aplatissez les images avec .flatten(1).")
    if points.shape[0] < 2:
        raise ValueError(f"{what} : au moins deux points sont nécessaires (reçu : {points.shape[0]}).")
    if points.is_floating_point() and not bool(torch.isfinite(points).all()):
        rows = (~torch.isfinite(points)).any(dim=1).nonzero().flatten()
        raise ValueError(f"{what} : {rows.numel()} ligne(s) contiennent NaN ou l'infini (la première : "
                         f"n° {int(rows[0])}). Un générateur qui a divergé produit cela : "
                         "réentraînez-le, ou écartez ces échantillons, avant de mesurer.")


def _check_pair(a: torch.Tensor, b: torch.Tensor, what_a: str, what_b: str) -> None:
    """Deux nuages comparables : chacun valide, et des points de la même taille D."""
    _check_points(a, what_a)
    _check_points(b, what_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{what_a} ont {a.shape[1]} valeurs par point, {what_b} {b.shape[1]} : "
                         "comparez des caractéristiques de même taille (toutes issues de "
                         "metrics.features, ou toutes des images aplaties).")


def _blocks(queries: torch.Tensor, references: torch.Tensor):
    """Les distances euclidiennes, par blocs de :data:`CHUNK` lignes : (début, bloc)."""
    queries, references = queries.float(), references.float()
    for start in range(0, queries.shape[0], CHUNK):
        yield start, torch.cdist(queries[start:start + CHUNK], references)


def knn_radii(points: torch.Tensor, k: int) -> torch.Tensor:
    """Distance de chaque point à son k-ième plus proche voisin dans le même nuage, lui exclu (N,)."""
    _check_points(points, "le nuage")
    if not 1 <= k < points.shape[0]:
        raise ValueError(f"k doit être entre 1 et N - 1 = {points.shape[0] - 1} (reçu : {k}).")
    radii = []
    for start, block in _blocks(points, points):
        rows = torch.arange(block.shape[0])
        block[rows, rows + start] = float("inf")       # un point n'est pas son propre voisin
        radii.append(block.kthvalue(k, dim=1).values)
    return torch.cat(radii)


def _inside(real: torch.Tensor, fake: torch.Tensor, radii_real: torch.Tensor):
    """Pour chaque faux point, le nombre de boules réelles qui le contiennent ; et pour chaque
    vrai point, s'il contient au moins un faux point dans sa boule."""
    counts = torch.zeros(fake.shape[0], dtype=torch.long, device=fake.device)
    covered = torch.zeros(real.shape[0], dtype=torch.bool, device=real.device)
    for start, block in _blocks(real, fake):
        inside = block < radii_real[start:start + block.shape[0], None]
        counts += inside.sum(dim=0)
        covered[start:start + block.shape[0]] = inside.any(dim=1)
    return counts, covered


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Précision et rappel par k plus proches voisins (Kynkäänniemi et al. 2019).

    Précision : part des faux points dans au moins une boule réelle (centre un
    vrai point, rayon la distance à son k-ième voisin réel). Rappel : part des
    vrais points dans au moins une boule fausse.
    """
    _check_pair(real, fake, "les vrais points", "les faux points")
    counts, _ = _inside(real, fake, knn_radii(real, k))
    reverse, _ = _inside(fake, real, knn_radii(fake, k))
    return float((counts > 0).double().mean()), float((reverse > 0).double().mean())


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> tuple[float, float]:
    """Densité et couverture (Naeem et al. 2020).

    Densité : nombre moyen de boules réelles (rayon : k-ième voisin) qui
    contiennent un faux point, divisé par k ; vaut environ 1 si les deux nuages
    suivent la même loi, peut dépasser 1. Couverture : part des vrais points
    dont la boule contient au moins un faux point.
    """
    _check_pair(real, fake, "les vrais points", "les faux points")
    counts, covered = _inside(real, fake, knn_radii(real, k))
    return float(counts.double().mean() / k), float(covered.double().mean())


def nearest_distances(queries: torch.Tensor, references: torch.Tensor,
                      exclude_self: bool = False) -> torch.Tensor:
    """Distance de chaque point de ``queries`` à son plus proche voisin dans ``references`` (N,).

    ``exclude_self=True`` : ``queries`` est le début de ``references`` (les
    ``len(queries)`` premières lignes) et un point n'est pas son propre voisin.
    """
    _check_pair(queries, references, "les points", "les références")
    out = []
    for start, block in _blocks(queries, references):
        if exclude_self:
            rows = torch.arange(block.shape[0])
            block[rows, rows + start] = float("inf")
        out.append(block.min(dim=1).values)
    return torch.cat(out)


def memorisation_ratio(samples: torch.Tensor, train: torch.Tensor, n_reference: int | None = None) -> float:
    """Rapport des médianes : distance d'un échantillon à l'image d'entraînement la plus proche,
    sur la distance d'une image d'entraînement à la plus proche des autres.

    ``samples`` (N, D) et ``train`` (M, D) : images aplaties, dans la même
    échelle. Les images de référence sont les ``n_reference`` premières de
    ``train`` (toutes si ``None``). Environ 1 pour des chiffres nouveaux, 0 pour
    des copies exactes.
    """
    reference = train if n_reference is None else train[:n_reference]
    to_train = nearest_distances(samples, train)
    within = nearest_distances(reference, train, exclude_self=True)
    return float(to_train.median() / within.median())
