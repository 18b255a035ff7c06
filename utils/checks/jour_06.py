"""Jour 6 : évaluer un générateur honnêtement, et contrôler ce qu'il dessine.

Lab d'évaluation : la distance de Fréchet, les rayons des k plus proches
voisins, la précision et le rappel, la densité et la couverture, le rapport de
mémorisation. Chaque fonction est comparée à la référence de
:mod:`utils.metrics` sur de petits nuages de points construits pour que chaque
erreur classique donne une valeur différente, reconnue et expliquée.

Lab du GAN conditionnel : le générateur et le discriminateur qui reçoivent
l'étiquette, et le pas d'entraînement. Des réseaux « espions » notent ce qu'on
leur passe : le pas est rejoué par la référence avec le même bruit et les mêmes
étiquettes, et les poids obtenus sont comparés.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import numbers

import torch
from torch import nn

from .. import metrics
from .core import (
    _activation_variants,
    _bce,
    _call,
    _check_argument_order,
    _check_behaves_like,
    _check_finite,
    _check_function,
    _check_gradients,
    _check_module,
    _check_pure_forward,
    _fail,
    _linear_in_call_order,
    _ok,
    _ReferenceMLP,
    _untouched,
)

__all__ = ["check_cgan_step", "check_conditional_discriminator", "check_conditional_generator",
           "check_density_coverage", "check_frechet_distance", "check_knn_radii",
           "check_memorisation_ratio", "check_precision_recall"]


def _keeps_rng(check):
    """Les vérifications tirent leurs propres nombres : l'aléa du notebook est rendu intact."""
    @functools.wraps(check)
    def wrapped(*args, **kwargs):
        __tracebackhide__ = True
        with torch.random.fork_rng():
            return check(*args, **kwargs)
    return wrapped


def _close(a: float, b: float, rel: float = 1e-4, abs_: float = 1e-6) -> bool:
    return math.isfinite(a) and abs(a - b) <= max(abs_, rel * abs(b))


def _number(value, what: str, python: bool = False) -> float:
    """Un résultat numérique (float, entier, tenseur d'une valeur) converti en float.

    ``python`` : seul un nombre Python est accepté (le tableau du cours arrondit des ``float``)."""
    __tracebackhide__ = True
    if python and isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        _fail(f"{what} est un tenseur ({value!r}) : renvoyez un nombre Python, avec .item() "
              "(le tableau de la section 5 arrondit des nombres, pas des tenseurs).")
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            _fail(f"{what} doit être un seul nombre ; reçu un tenseur de forme {tuple(value.shape)}. "
                  "Une moyenne ou une somme oubliée ?")
        if value.is_complex():
            _fail(f"{what} est un nombre complexe ({value.item()}). torch.linalg.eigvals renvoie des "
                  "valeurs propres complexes : gardez leur partie réelle (.real). (torch.linalg.eigvalsh "
                  "ne convient qu'à une matrice symétrique, ce que S1 S2 n'est pas ; S1^½ S2 S1^½, si.)")
        value = value.item()
    if hasattr(value, "item") and getattr(value, "size", 1) == 1:   # un scalaire ou tableau NumPy
        value = value.item()
    if isinstance(value, complex):
        _fail(f"{what} est un nombre complexe ({value}) : gardez sa partie réelle.")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(f"{what} doit être un seul nombre (float), reçu un {type(value).__name__}.")
    return float(value)


def _pair(value, what: str, names: str) -> tuple[float, float]:
    __tracebackhide__ = True
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        _fail(f"{what} doit renvoyer deux nombres, {names} (return a, b) ; reçu : "
              f"{type(value).__name__}.")
    return _number(value[0], f"{what}[0]", python=True), _number(value[1], f"{what}[1]", python=True)


# --- exercice 1 : la distance de Fréchet -------------------------------------------------

def _psd(dim: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=gen, dtype=torch.float64)
    return a @ a.T / dim + 0.1 * torch.eye(dim, dtype=torch.float64)


def _trace_sqrt_naive(s1, s2) -> float:
    """Tr(√S1 √S2) : juste si S1 et S2 commutent (diagonales), faux en général."""
    def root(m):
        values, vectors = torch.linalg.eigh(m)
        return (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    return float(torch.trace(root(s1) @ root(s2)))


def check_frechet_distance(frechet_distance) -> None:
    """Vérifie ``frechet_distance(mu1, sigma1, mu2, sigma2)`` = ‖mu1 − mu2‖² + Tr(S1 + S2 − 2 (S1 S2)^½)."""
    __tracebackhide__ = True
    _check_function(frechet_distance, "frechet_distance")
    _check_argument_order(frechet_distance, ["mu1", "sigma1", "mu2", "sigma2"], "frechet_distance")
    dim = 6
    gen = torch.Generator().manual_seed(0)
    mu1 = torch.randn(dim, generator=gen, dtype=torch.float64)
    mu2 = mu1 + torch.randn(dim, generator=gen, dtype=torch.float64)
    s1, s2 = _psd(dim, 1), _psd(dim, 2) * 2.0

    def run(*args, what="frechet_distance(mu1, sigma1, mu2, sigma2)"):
        return _number(_call(frechet_distance, *args, what=what), what)   # _call refuse les entrées modifiées

    mean_term = float((mu1 - mu2).pow(2).sum())
    tr1, tr2 = float(torch.trace(s1)), float(torch.trace(s2))
    expected = metrics.frechet_distance(mu1, s1, mu2, s2)
    cross = (tr1 + tr2 - expected + mean_term) / 2           # Tr((S1 S2)^½)
    got = run(mu1, s1, mu2, s2)
    if math.isnan(got):
        _fail("frechet_distance renvoie NaN. La racine carrée élément par élément (torch.sqrt) d'une "
              "matrice qui a des coefficients négatifs donne des NaN : il faut la racine de la MATRICE. "
              "Sa trace est la somme des racines des valeurs propres de S1 S2 (réelles, positives).")
    if not _close(got, expected):
        mistakes = {
            math.sqrt(expected): "la racine de la distance : le FID est d² lui-même, sans racine finale.",
            math.sqrt(mean_term) + tr1 + tr2 - 2 * cross:
                "le terme des moyennes doit être la norme AU CARRÉ, ‖mu1 − mu2‖².",
            tr1 + tr2 - 2 * cross: "le terme des moyennes ‖mu1 − mu2‖² manque.",
            mean_term: "les termes de covariance Tr(S1 + S2 − 2 (S1 S2)^½) manquent.",
            mean_term + tr1 + tr2 - cross: "le facteur 2 du terme croisé −2 Tr((S1 S2)^½) manque.",
            mean_term + tr1 + tr2 + 2 * cross: "le terme croisé doit être SOUSTRAIT : −2 Tr((S1 S2)^½).",
            mean_term + tr1 + tr2 - 2 * float(torch.trace(s1 @ s2)):
                "la racine carrée de S1 S2 manque dans le terme croisé : Tr((S1 S2)^½), pas Tr(S1 S2).",
            mean_term + tr1 + tr2 - 2 * float(torch.sqrt(s1 @ s2).diagonal().sum()):
                "torch.sqrt prend la racine élément par élément ; il faut la racine de la MATRICE S1 S2. "
                "Sa trace est la somme des racines de ses valeurs propres (réelles, positives).",
            mean_term + tr1 + tr2 - 2 * float(torch.linalg.eigvalsh(s1 @ s2).clamp(min=0).sqrt().sum()):
                "torch.linalg.eigvalsh suppose une matrice SYMÉTRIQUE, et S1 S2 ne l'est pas : il ne lit "
                "qu'un de ses triangles. Prenez torch.linalg.eigvals(S1 @ S2).real, ou les valeurs propres "
                "de la matrice symétrique S1^½ S2 S1^½, qui sont les mêmes.",
            mean_term + tr1 + tr2 - 2 * _trace_sqrt_naive(s1, s2):
                "Tr(√S1 √S2) n'est égal à Tr((S1 S2)^½) que si S1 et S2 commutent (des covariances "
                "diagonales, par exemple) : prenez la racine du PRODUIT S1 S2.",
        }
        for value, reason in mistakes.items():
            if _close(got, value, rel=1e-3):
                _fail(f"frechet_distance renvoie {got:.4f} au lieu de {expected:.4f} : {reason}")
        _fail(f"frechet_distance renvoie {got:.4f} au lieu de {expected:.4f} (gaussiennes de dimension "
              f"{dim}, covariances pleines). Vérifiez chaque terme : ‖mu1 − mu2‖² = {mean_term:.4f}, "
              f"Tr(S1) = {tr1:.4f}, Tr(S2) = {tr2:.4f}, Tr((S1 S2)^½) = {cross:.4f}.")
    same = run(mu1, s1, mu1.clone(), s1.clone(), what="frechet_distance(mu, sigma, mu, sigma)")
    if not abs(same) < 1e-5:
        _fail(f"Deux gaussiennes identiques doivent être à distance 0 ; votre fonction renvoie {same:.6g}. "
              "Le terme croisé est -2 Tr((S1 S2)^½) : pour S1 = S2 = S, (S S)^½ = S et tout s'annule.")
    swapped = run(mu2, s2, mu1, s1, what="frechet_distance(mu2, sigma2, mu1, sigma1)")
    if not _close(swapped, expected, rel=1e-3):
        _fail(f"La distance doit être symétrique : d(A, B) = {got:.4f} mais d(B, A) = {swapped:.4f}.")
    _ok(f"frechet_distance correcte : {expected:.4f} sur deux gaussiennes de dimension {dim} aux "
        "covariances pleines, 0 pour deux gaussiennes identiques.")


# --- exercice 2 : les rayons des k plus proches voisins ----------------------------------

def _cloud(n: int, dim: int, seed: int, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=gen) * scale + shift


def _vector(value, n: int, what: str) -> torch.Tensor:
    __tracebackhide__ = True
    if not isinstance(value, torch.Tensor):
        _fail(f"{what} doit renvoyer un tenseur (une distance par point), reçu {type(value).__name__}.")
    if value.dtype in (torch.int64, torch.int32):
        _fail(f"{what} renvoie des entiers : des indices de voisins (argsort, topk(...).indices) ? "
              "On attend les DISTANCES (.values).")
    if tuple(value.shape) != (n,):
        _fail(f"{what} doit renvoyer un tenseur de forme ({n},), une distance par point ; reçu "
              f"{tuple(value.shape)}.")
    return value.detach().double()


def check_knn_radii(knn_radii) -> None:
    """Vérifie ``knn_radii(points, k)`` : distance de chaque point à son k-ième voisin, lui exclu."""
    __tracebackhide__ = True
    _check_function(knn_radii, "knn_radii")
    _check_argument_order(knn_radii, ["points", "k"], "knn_radii")
    line = torch.tensor([[0.0], [1.0], [3.0], [7.0], [15.0]])
    for k in (1, 2):
        got = _vector(_call(knn_radii, line.clone(), k, what=f"knn_radii(points, k={k})"), 5,
                      f"knn_radii(points, k={k})")
        expected = metrics.knn_radii(line, k).double()
        if torch.allclose(got, expected):
            continue
        described = (f"Sur les points 0, 1, 3, 7 et 15 d'une droite, avec k = {k}, on attend "
                     f"{expected.tolist()} ; reçu {[round(v, 4) for v in got.tolist()]}.")
        if k == 1 and torch.allclose(got, torch.zeros(5, dtype=torch.float64)):
            _fail(f"{described} Chaque point est à distance 0 de lui-même : excluez-le (mettez la "
                  "diagonale de la matrice des distances à l'infini) avant de chercher le k-ième voisin.")
        if k == 2 and torch.allclose(got, metrics.knn_radii(line, 1).double()):
            _fail(f"{described} C'est le (k-1)-ième voisin : le point lui-même (distance 0) a été compté "
                  "comme son premier voisin. Excluez-le.")
        if torch.allclose(got, expected.pow(2)):
            _fail(f"{described} Ce sont les distances au carré : prenez la distance euclidienne "
                  "(torch.cdist), sans carré.")
        if k == 1 and torch.allclose(got, metrics.knn_radii(line, 2).double()):
            _fail(f"{described} C'est le (k+1)-ième voisin : une exclusion de trop (le point lui-même "
                  "est déjà écarté, ne sautez pas en plus le premier voisin).")
        _fail(f"{described} Pour exclure le point lui-même, indexez la diagonale de la matrice des "
              "distances (fill_diagonal_) plutôt que de chercher les zéros : torch.cdist calcule par "
              "produits de matrices, et la distance d'un point à lui-même n'y vaut pas toujours "
              "exactement 0.")
    cloud = _cloud(120, 5, 0)
    got = _vector(_call(knn_radii, cloud, 3, what="knn_radii(points, k=3)"), 120, "knn_radii(points, 3)")
    if not torch.allclose(got, metrics.knn_radii(cloud, 3).double(), rtol=1e-4, atol=1e-5):
        _fail("knn_radii est juste sur une droite mais pas sur un nuage de 120 points en dimension 5 : "
              "calculez la distance euclidienne sur toutes les coordonnées (torch.cdist(points, points)).")
    _ok("knn_radii correcte : la distance au k-ième voisin, le point lui-même exclu.")


# --- exercices 3 et 4 : précision et rappel, densité et couverture -----------------------

def _prdc_clouds():
    """Un nuage réel et un faux nuage plus serré et décalé : précision, rappel, densité et
    couverture y prennent des valeurs toutes différentes."""
    real = _cloud(300, 4, 10)
    fake = _cloud(250, 4, 11, scale=0.6, shift=0.4)
    fake[:25] = _cloud(25, 4, 12, scale=0.5, shift=5.0)     # des faux points loin de tout vrai point
    return real, fake


def _ball_counts(real, fake, radii):
    return (torch.cdist(real, fake) < radii[:, None])


def _pair_answer(fn, name: str, k: int, names: str):
    """Appelle ``fn(real, fake, k=k)`` sur les nuages de test : (real, fake, réponse, libellé)."""
    __tracebackhide__ = True
    _check_function(fn, name)
    _check_argument_order(fn, ["real", "fake", "k"], name)
    real, fake = _prdc_clouds()
    what = f"{name}(real, fake, k={k})"
    got = _pair(_call(fn, real, fake, k=k, what=what), what, names)
    return real, fake, got, what


def _check_other_k(fn, name: str, k: int, reference, names: str) -> None:
    """La même mesure avec un autre k : la fonction doit se servir de son argument ``k``."""
    __tracebackhide__ = True
    # Un faux nuage plus étalé que le vrai : les quatre mesures y changent avec k (de 2 à 8).
    real, fake = _cloud(200, 2, 30), _cloud(200, 2, 31, scale=1.6, shift=0.7)
    what = f"{name}(real, fake, k={k})"
    got = _pair(_call(fn, real, fake, k=k, what=what), what, names)
    expected = reference(real, fake, k=k)
    if not (_close(got[0], expected[0], abs_=1e-6) and _close(got[1], expected[1], abs_=1e-6)):
        _fail(f"{what} renvoie ({got[0]:.4f}, {got[1]:.4f}) au lieu de ({expected[0]:.4f}, "
              f"{expected[1]:.4f}) : juste pour la valeur par défaut de k, faux pour k={k}. Utilisez "
              "l'argument k partout (knn_radii(real, k)...), sans valeur écrite en dur.")


def check_precision_recall(precision_recall) -> None:
    """Vérifie ``precision_recall(real, fake, k=3)`` (Kynkäänniemi et al. 2019)."""
    __tracebackhide__ = True
    real, fake, got, what = _pair_answer(precision_recall, "precision_recall", 3, "la précision et le rappel")
    precision, recall = metrics.precision_recall(real, fake, k=3)
    if _close(got[0], precision, abs_=1e-6) and _close(got[1], recall, abs_=1e-6):
        _check_other_k(precision_recall, "precision_recall", 4, metrics.precision_recall, "la précision et le rappel")
        _ok(f"precision_recall correcte : précision {precision:.3f}, rappel {recall:.3f} pour un faux "
            "nuage plus serré que le vrai (fidèle, mais pas assez divers).")
        return
    head = (f"{what} renvoie ({got[0]:.4f}, {got[1]:.4f}) au lieu de ({precision:.4f}, {recall:.4f}) "
            "sur un faux nuage plus serré que le vrai.")
    if _close(got[0], recall) and _close(got[1], precision):
        _fail(f"{head} Les deux valeurs sont inversées : la précision regarde les FAUX points (sont-ils "
              "dans les boules réelles ?), le rappel les VRAIS points (sont-ils dans les boules fausses ?).")
    r_real, r_fake = metrics.knn_radii(real, 3), metrics.knn_radii(fake, 3)
    wrong_balls = (_ball_counts(fake, real, r_fake).any(dim=1).double().mean().item(),
                   _ball_counts(real, fake, r_real).any(dim=1).double().mean().item())
    if _close(got[0], wrong_balls[0]) or _close(got[1], wrong_balls[1]):
        _fail(f"{head} Les boules ne sont pas centrées sur le bon nuage : pour la précision, des boules "
              "autour des VRAIS points (rayon : k-ième voisin réel), dans lesquelles on cherche les faux "
              "points ; pour le rappel, l'inverse.")
    self_counted = metrics.knn_radii(real, 2), metrics.knn_radii(fake, 2)
    p2 = _ball_counts(real, fake, self_counted[0]).any(dim=0).double().mean().item()
    r2 = _ball_counts(fake, real, self_counted[1]).any(dim=0).double().mean().item()
    if _close(got[0], p2) or _close(got[1], r2):
        _fail(f"{head} Les rayons sont ceux du (k-1)-ième voisin : le point lui-même a été compté. "
              "Utilisez votre knn_radii (exercice 2).")
    _fail(f"{head} Précision : part des faux points à l'intérieur d'au moins une boule réelle ; rappel : "
          "part des vrais points à l'intérieur d'au moins une boule fausse (.any, puis la moyenne).")


def check_density_coverage(density_coverage) -> None:
    """Vérifie ``density_coverage(real, fake, k=5)`` (Naeem et al. 2020)."""
    __tracebackhide__ = True
    real, fake, got, what = _pair_answer(density_coverage, "density_coverage", 5,
                                         "la densité et la couverture")
    density, coverage = metrics.density_coverage(real, fake, k=5)
    if _close(got[0], density, abs_=1e-6) and _close(got[1], coverage, abs_=1e-6):
        _check_other_k(density_coverage, "density_coverage", 3, metrics.density_coverage,
                       "la densité et la couverture")
        _ok(f"density_coverage correcte : densité {density:.3f}, couverture {coverage:.3f} pour un faux "
            "nuage serré au cœur du vrai (densité au-dessus de 1, couverture incomplète).")
        return
    head = (f"{what} renvoie ({got[0]:.4f}, {got[1]:.4f}) au lieu de ({density:.4f}, {coverage:.4f}) "
            "sur un faux nuage serré au cœur du vrai.")
    if _close(got[0], coverage) and _close(got[1], density):
        _fail(f"{head} Les deux valeurs sont inversées : densité d'abord, couverture ensuite.")
    inside = _ball_counts(real, fake, metrics.knn_radii(real, 5))
    if _close(got[0], density * 5):
        _fail(f"{head} La densité n'est pas divisée par k : c'est le nombre moyen de boules réelles qui "
              "contiennent un faux point, DIVISÉ PAR k (1 environ pour deux nuages de même loi).")
    if _close(got[0], inside.any(dim=0).double().mean().item()):
        _fail(f"{head} C'est la précision, pas la densité : comptez TOUTES les boules réelles qui "
              "contiennent chaque faux point (.sum), pas seulement s'il y en a une (.any) ; puis divisez "
              "par k.")
    inside_4 = _ball_counts(real, fake, metrics.knn_radii(real, 4))
    if _close(got[0], inside_4.sum(dim=0).double().mean().item() / 5) or _close(
            got[1], inside_4.any(dim=1).double().mean().item()):
        _fail(f"{head} Les rayons sont ceux du (k-1)-ième voisin : le point lui-même a été compté. "
              "Vérifiez votre knn_radii (exercice 2).")
    fake_radii = metrics.knn_radii(fake, 5)
    if _close(got[1], _ball_counts(fake, real, fake_radii).any(dim=0).double().mean().item()):
        _fail(f"{head} La couverture utilise des boules autour des faux points : c'est le rappel. La "
              "couverture n'utilise QUE les boules réelles : part des vrais points dont la boule contient "
              "au moins un faux point.")
    if _close(got[1], inside.any(dim=0).double().mean().item()):
        _fail(f"{head} C'est la précision, pas la couverture : la couverture compte les VRAIS points "
              "(part des boules réelles qui contiennent au moins un faux point), .any sur les faux.")
    _fail(f"{head} Densité : (1/k) × nombre moyen de boules réelles contenant un faux point ; "
          "couverture : part des vrais points dont la boule (rayon : k-ième voisin réel) contient au "
          "moins un faux point.")


# --- exercice 5 : le rapport de mémorisation ---------------------------------------------

def _edge_cloud(d999: float, d1000: float) -> torch.Tensor:
    """1 001 points sur une grille (pas de 4) et, pour chacun, une voisine décalée d'une distance qui
    n'appartient qu'à lui (de 0,5 à 1,5) ; les points 999 et 1 000 reçoivent les distances données."""
    n = 1001
    grid = torch.tensor(list(itertools.product(range(11), range(11), range(9))), dtype=torch.float32)[:n] * 4
    shift = 0.5 + torch.arange(n) / n
    shift[999], shift[1000] = d999, d1000
    return torch.cat([grid, grid + torch.stack([shift, torch.zeros(n), torch.zeros(n)], dim=1)])


def check_memorisation_ratio(memorisation_ratio) -> None:
    """Vérifie ``memorisation_ratio(samples, train, n_reference=None)``."""
    __tracebackhide__ = True
    _check_function(memorisation_ratio, "memorisation_ratio")
    _check_argument_order(memorisation_ratio, ["samples", "train", "n_reference"], "memorisation_ratio")
    train = _cloud(201, 8, 20)                       # des tailles impaires : une seule médiane
    train[:5] *= 6                                   # quelques images très éloignées des autres
    fresh = _cloud(91, 8, 21)
    fresh[:30] *= 4                                  # une moyenne et une médiane bien différentes

    def run(samples, n_reference, label):
        what = f"memorisation_ratio({label}, train, n_reference={n_reference})"
        value = _number(_call(memorisation_ratio, samples, train, n_reference, what=what), what, python=True)
        return value, what

    copied, what = run(train[40:91].clone(), None, "copies")
    if math.isnan(copied) or math.isinf(copied):
        _fail(f"{what} renvoie {copied} : la distance d'une image d'entraînement à la plus proche des "
              "AUTRES est nulle si elle se compte elle-même, d'où une division par zéro. Excluez-la : "
              "dans la matrice des distances reference × train, mettez la case (i, i) à l'infini.")
    if not abs(copied) < 1e-3:
        _fail(f"{what} renvoie {copied:.4f} pour des copies exactes d'images d'entraînement : on attend "
              "0, car chaque copie est à distance 0 de son original.")
    expected = metrics.memorisation_ratio(fresh, train)
    got, what = run(fresh, None, "samples")
    if math.isinf(got) or math.isnan(got):
        _fail(f"{what} renvoie {got} : le dénominateur est nul. Une image d'entraînement s'est comptée "
              "comme sa propre voisine : excluez-la.")
    if not _close(got, expected, rel=1e-3):
        d_s = metrics.nearest_distances(fresh, train)
        d_t = metrics.nearest_distances(train, train, exclude_self=True)
        mistakes = {
            float(d_s.mean() / d_t.mean()): "des moyennes. Prenez les MÉDIANES (torch.median), que "
                                             "quelques images isolées ne déplacent pas.",
            expected ** 2: "des distances au carré. Prenez la distance euclidienne.",
            1 / expected: "le rapport à l'envers. Il faut la distance des échantillons, divisée par la distance "
                          "entre images d'entraînement.",
        }
        for value, reason in mistakes.items():
            if _close(got, value, rel=1e-3):
                _fail(f"{what} renvoie {got:.4f} au lieu de {expected:.4f}. Cause probable : {reason}")
        _fail(f"{what} renvoie {got:.4f} au lieu de {expected:.4f}. Numérateur : médiane, sur les "
              "échantillons, de la distance à l'image d'entraînement la plus proche ; dénominateur : "
              "médiane, sur les images de référence, de la distance à la plus proche des AUTRES images "
              "d'entraînement.")
    expected_part = metrics.memorisation_ratio(fresh, train, n_reference=9)
    got_part, what = run(fresh, 9, "samples")
    if not _close(got_part, expected_part, rel=1e-3):
        _fail(f"{what} renvoie {got_part:.4f} au lieu de {expected_part:.4f} : les images de référence "
              "sont les n_reference PREMIÈRES de train (train[:n_reference]), chacune comparée à TOUTES "
              "les autres images d'entraînement.")
    big_train = _cloud(2301, 3, 22)                  # plus de 1 000 images (impair : une seule médiane)
    big_fresh = _cloud(301, 3, 23, scale=1.3)
    expected_big = metrics.memorisation_ratio(big_fresh, big_train)
    what = "memorisation_ratio(samples, train, n_reference=None) sur 2 301 images d'entraînement"
    got_big = _number(_call(memorisation_ratio, big_fresh, big_train, None, what=what), what, python=True)
    if not _close(got_big, expected_big, rel=1e-5):
        _fail(f"{what} renvoie {got_big:.6f} au lieu de {expected_big:.6f}, alors que le résultat est juste "
              "sur 201 images : le calcul par blocs de 1 000 lignes se trompe au-delà du premier bloc. "
              "Dans le bloc qui commence à start, la ligne i est l'image start + i : c'est la case "
              "(i, start + i) à mettre à l'infini, et chaque bloc doit couvrir ses lignes sans en sauter.")
    # Aux bords des deux premiers blocs (images 999 et 1 000), un bloc qui saute une image ou en
    # compte une deux fois déplace la médiane d'un rang, si chaque image a sa propre distance à la
    # plus proche (pas d'ex aequo) : chaque image de référence a une voisine à elle, à une distance
    # qui n'appartient qu'à elle. Deux cas : les images des bords au-dessus de la médiane (une
    # image sautée se voit), puis en dessous (une image comptée deux fois se voit).
    for edge in ((1.6, 1.7), (1.6, 0.3)):
        edge_train = _edge_cloud(*edge)
        expected_edge = metrics.memorisation_ratio(big_fresh, edge_train, n_reference=1001)
        what = "memorisation_ratio(samples, train, n_reference=1001)"
        got_edge = _number(_call(memorisation_ratio, big_fresh, edge_train, 1001, what=what), what,
                           python=True)
        if not _close(got_edge, expected_edge, rel=2e-4):
            _fail(f"{what} renvoie {got_edge:.6f} au lieu de {expected_edge:.6f} : une image de référence au "
                  "bord d'un bloc de 1 000 est sautée ou comptée deux fois. Les blocs doivent se suivre sans "
                  "trou ni recouvrement : for start in range(0, n, 1000), puis reference[start:start + 1000].")
    _ok(f"memorisation_ratio correcte : 0 pour des copies, {expected:.3f} pour des points neufs.")


# --- GAN conditionnel : exercice 1, le générateur ----------------------------------------

def _first_linear(model: nn.Module, *inputs) -> nn.Linear | None:
    """La première couche Linear appelée par ``forward`` (sans entrées : la première créée)."""
    return next(iter(_linear_in_call_order(model, *inputs)), None)


def _label_width(model: nn.Module, n_classes: int) -> tuple[int, str]:
    """Combien de valeurs l'étiquette ajoute à l'entrée : n_classes (one-hot), ou la taille d'un
    plongement ``nn.Embedding(n_classes, d)``."""
    embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    if embeddings:
        return embeddings[0].embedding_dim, f"le plongement ({embeddings[0].embedding_dim} valeurs)"
    return n_classes, f"le vecteur one-hot ({n_classes} valeurs)"


def _check_hidden_argument(model, out_features: int, name: str, inputs: tuple = ()) -> None:
    """Les couches cachées suivent l'argument ``hidden`` de la classe : autant de couches que sa
    valeur par défaut, et d'autres tailles quand on en donne d'autres."""
    __tracebackhide__ = True
    try:
        default = inspect.signature(type(model)).parameters["hidden"].default
    except (TypeError, ValueError, KeyError):
        return
    widths = [m.out_features for m in _linear_in_call_order(model, *inputs)]
    if isinstance(default, (tuple, list)) and widths != [*default, out_features]:
        _fail(f"{name} : couches de tailles {widths}, au lieu de {[*default, out_features]} : une couche "
              f"cachée par valeur de hidden={tuple(default)}, puis la couche de sortie ({out_features}).")
    call = f"{type(model).__name__}(hidden=(32, 48))"
    with torch.random.fork_rng():
        other = _call(type(model), hidden=(32, 48), what=call)
    widths = [m.out_features for m in _linear_in_call_order(other, *inputs)]
    if widths != [32, 48, out_features]:
        _fail(f"{call} crée des couches de tailles {widths} au lieu de [32, 48, {out_features}] : dans "
              "__init__, construisez les couches cachées à partir de l'argument hidden (une boucle "
              "for width in hidden), sans tailles écrites en dur.")


def _check_all_labels_seen(model, x, n_classes: int, what: str) -> None:
    """Un lot sans le chiffre 9 (comme beaucoup de petits lots) doit passer aussi :
    ``F.one_hot(labels)`` sans ``num_classes`` n'y crée que 9 colonnes."""
    __tracebackhide__ = True
    labels = torch.arange(x.shape[0], device=x.device) % (n_classes - 1)

    def explain(error):
        if "shapes cannot be multiplied" in str(error) or "size" in str(error):
            return (f"Sur un lot sans le chiffre {n_classes - 1}, le one-hot n'a pas {n_classes} colonnes : "
                    f"F.one_hot(labels) sans nombre de classes n'en crée que max(labels) + 1. Écrivez "
                    f"F.one_hot(labels, self.n_classes) (ou num_classes={n_classes}).")
        return _labels_hint(error)
    model.eval()
    with torch.no_grad():
        _call(model, x, labels, what=f"{what} sur un lot sans le chiffre {n_classes - 1}", explain=explain)


def _check_forward_arity(model: nn.Module, name: str, args: str) -> None:
    __tracebackhide__ = True
    try:
        params = list(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return
    if len(params) < 2:
        _fail(f"{name} : forward doit recevoir deux arguments, forward(self, {args}) ; la vôtre n'en "
              f"reçoit qu'un ({', '.join(params) or 'aucun'}). L'étiquette est une entrée du réseau.")


def _labels_hint(error):
    text = str(error)
    if "one_hot" in text or "index" in text.lower() or "Long" in text or "Int" in text:
        return ("Les étiquettes arrivent comme des entiers de 0 à 9, de forme (N,) : convertissez-les "
                "dans forward, F.one_hot(labels, n_classes).float() (ou passez-les à un nn.Embedding).")
    if "same number of dimensions" in text:
        return ("Les deux morceaux concaténés n'ont pas le même nombre de dimensions : torch.cat([...], "
                "dim=1) veut deux tenseurs (N, ...) à plat. Les images arrivent en (N, 1, 28, 28) : "
                "aplatissez-les (images.flatten(1), 784 valeurs) ; les étiquettes arrivent en entiers (N,) : "
                "F.one_hot(labels, n_classes).float() en fait des vecteurs (N, n_classes).")
    if "shapes cannot be multiplied" in text:
        return ("La première couche ne reçoit pas la bonne taille : elle doit accepter l'entrée ET "
                "l'étiquette concaténées (torch.cat([..., one_hot], dim=1)).")
    return None


class _ConditionalReference(_ReferenceMLP):
    """Le réseau de l'énoncé, conditionnel : l'étiquette en one-hot (ou par le plongement de
    l'étudiant, s'il en a un) concaténée à l'autre entrée aplatie, après elle (``label_first`` :
    avant elle, juste aussi)."""

    def __init__(self, sizes, hidden, n_classes, embedding=None, label_first=False, **options):
        super().__init__(sizes, hidden, **options)
        self.n_classes = n_classes
        self.embedding = None if embedding is None else nn.Embedding(*embedding)
        self.label_first = label_first
        self.prepare = self._prepare

    def _prepare(self, x, labels):
        code = (nn.functional.one_hot(labels, self.n_classes).float() if self.embedding is None
                else self.embedding(labels))
        parts = [code, x.flatten(1)] if self.label_first else [x.flatten(1), code]
        return torch.cat(parts, dim=1)


def _check_conditional_behaviour(model, inputs, n_classes, name, recipe, batchnorm, dropout, final,
                                 out_shape, first_in):
    """Le réseau conditionnel de l'étudiant comparé, poids copiés, à celui de l'énoncé."""
    __tracebackhide__ = True
    embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    embedding = (embeddings[0].num_embeddings, embeddings[0].embedding_dim) if embeddings else None
    widths = [m.out_features for m in _linear_in_call_order(model, *inputs)]

    def build(hidden=lambda: nn.LeakyReLU(0.2), final=final, label_first=False, dropout=dropout):
        return _ConditionalReference([first_in] + widths, hidden, n_classes, embedding, label_first,
                                     batchnorm=batchnorm, dropout=dropout, final=final,
                                     out_shape=out_shape)
    variants = _activation_variants("nn.LeakyReLU(0.2)", "une tanh" if final is nn.Tanh else "une sigmoïde")
    if dropout:
        variants["aucun Dropout après les activations cachées"] = {"dropout": 0.0}
    _check_behaves_like(model, build, inputs, name, recipe, variants, accepted=({"label_first": True},))


@_keeps_rng
def check_conditional_generator(generator: nn.Module, z_dim: int = 64, n_classes: int = 10) -> None:
    """Vérifie le générateur conditionnel : ``generator(z, labels)`` → images (N, 1, 28, 28) dans
    [-1, 1], l'étiquette (one-hot ou plongement) concaténée au bruit, et qui change l'image."""
    __tracebackhide__ = True
    _check_module(generator, "le générateur conditionnel")
    _check_forward_arity(generator, "Le générateur conditionnel", "z, labels")
    device = next(generator.parameters()).device
    probe = (torch.zeros(4, z_dim, device=device), torch.arange(4, device=device) % n_classes)
    first = _first_linear(generator, *probe)
    width, described = _label_width(generator, n_classes)
    if first is not None and first.in_features == z_dim + 1:
        _fail(f"La première couche reçoit {z_dim} + 1 valeurs : l'étiquette entre comme un seul nombre "
              "(2 serait « deux fois » 1, 9 « plus grand » que 4). Donnez-la en one-hot, "
              f"F.one_hot(labels, {n_classes}).float(), {n_classes} valeurs concaténées au bruit.")
    if first is not None and first.in_features != z_dim + width:
        _fail(f"La première couche du générateur reçoit {first.in_features} valeurs ; on attend le bruit "
              f"({z_dim}) et {described} concaténés, soit {z_dim + width}.")
    device = next(generator.parameters()).device
    with _untouched(generator):
        generator.eval()
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(20, z_dim, generator=gen).to(device)
        labels = (torch.arange(20) % n_classes).to(device)
        out = _call(generator, z, labels, what="generator(z, labels)", explain=_labels_hint)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (20, 1, 28, 28):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"generator(z, labels) doit renvoyer des images (20, 1, 28, 28) pour 20 bruits ; reçu "
                  f"{shape}. Remettez les 784 pixels en forme avec .view(-1, 1, 28, 28).")
        _check_finite(out, "les images du générateur conditionnel", generator)
        if out.min() < -1 or out.max() > 1 or out.min() >= 0:
            _fail(f"Les images doivent être dans [-1, 1] (sortie Tanh, comme au jour 1) ; reçu de "
                  f"{out.min().item():.2f} à {out.max().item():.2f}.")
        one_z = z[:1].expand(n_classes, z_dim)
        per_label = _call(generator, one_z, torch.arange(n_classes, device=device), what="generator(z, labels)")
        spread = (per_label - per_label[:1]).abs().flatten(1).amax(dim=1)[1:]
        if not (spread > 1e-6).all():
            _fail("Avec le même bruit, le générateur dessine la même image quelle que soit l'étiquette : "
                  "l'étiquette n'entre pas dans le calcul. Concaténez-la au bruit dans forward : "
                  "torch.cat([z, F.one_hot(labels, n_classes).float()], dim=1).")
        last = _linear_in_call_order(generator, *probe)[-1]
        kept = [t.detach().clone() for t in (last.weight, last.bias) if t is not None]
        with torch.no_grad():
            for t in (last.weight, last.bias):
                if t is not None:
                    t.mul_(1000)
        big = _call(generator, z, labels, what="generator(z, labels)")
        with torch.no_grad():
            for t, k in zip([t for t in (last.weight, last.bias) if t is not None], kept):
                t.copy_(k)
        if big.abs().max() > 1 + 1e-4:
            _fail("Le générateur n'a pas de Tanh en sortie : ses pixels ne sont pas bornés à [-1, 1] "
                  f"(jusqu'à {big.abs().max().item():.3g} quand la dernière couche grandit). Ajoutez "
                  "nn.Tanh() après la dernière couche Linear, comme au jour 1.")
        _check_hidden_argument(generator, 784, "Le générateur conditionnel", (z, labels))
        _check_all_labels_seen(generator, z, n_classes, "generator(z, labels)")
        _check_pure_forward(generator, (z, labels), "Le générateur conditionnel")
        _check_conditional_behaviour(
            generator, (z, labels), n_classes, "Le générateur conditionnel",
            "le bruit et le one-hot concaténés, puis pour chaque couche cachée nn.Linear, "
            "nn.BatchNorm1d, nn.LeakyReLU(0.2) ; enfin nn.Linear vers 784, nn.Tanh(), forme (N, 1, 28, 28)",
            batchnorm=True, dropout=0.0, final=nn.Tanh, out_shape=(1, 28, 28), first_in=first.in_features if first else 0)
        generator.train()
        out = _call(generator, z, labels, what="generator(z, labels)")
        _check_gradients(generator, out, "Le générateur conditionnel")
    _ok(f"Générateur conditionnel correct : bruit ({z_dim}) + {described} → image 1×28×28 dans [-1, 1], "
        "et l'étiquette change le dessin.")


# --- GAN conditionnel : exercice 2, le discriminateur ------------------------------------

@_keeps_rng
def check_conditional_discriminator(discriminator: nn.Module, n_classes: int = 10) -> None:
    """Vérifie le discriminateur conditionnel : ``discriminator(images, labels)`` → une probabilité
    (N, 1) par image, l'étiquette concaténée à l'image aplatie, et qui change le verdict."""
    __tracebackhide__ = True
    _check_module(discriminator, "le discriminateur conditionnel")
    _check_forward_arity(discriminator, "Le discriminateur conditionnel", "images, labels")
    device = next(discriminator.parameters()).device
    probe = (torch.zeros(4, 1, 28, 28, device=device), torch.arange(4, device=device) % n_classes)
    first = _first_linear(discriminator, *probe)
    width, described = _label_width(discriminator, n_classes)
    if first is not None and first.in_features == 784 + 1:
        _fail("La première couche reçoit 784 + 1 valeurs : l'étiquette entre comme un seul nombre. "
              f"Donnez-la en one-hot, F.one_hot(labels, {n_classes}).float().")
    if first is not None and first.in_features != 784 + width:
        _fail(f"La première couche du discriminateur reçoit {first.in_features} valeurs ; on attend "
              f"l'image aplatie (784) et {described} concaténés, soit {784 + width}.")
    device = next(discriminator.parameters()).device
    with _untouched(discriminator):
        discriminator.eval()
        gen = torch.Generator().manual_seed(1)
        images = (torch.rand(20, 1, 28, 28, generator=gen) * 2 - 1).to(device)
        labels = (torch.arange(20) % n_classes).to(device)
        out = _call(discriminator, images, labels, what="discriminator(images, labels)",
                    explain=_labels_hint)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (20, 1):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"discriminator(images, labels) doit renvoyer une probabilité par image, forme (20, 1) ; "
                  f"reçu {shape}.")
        _check_finite(out, "les verdicts du discriminateur conditionnel", discriminator)
        last = _linear_in_call_order(discriminator, *probe)[-1]
        kept = last.weight.detach().clone()
        with torch.no_grad():
            last.weight.mul_(1000)
        big = _call(discriminator, images, labels, what="discriminator(images, labels)")
        with torch.no_grad():
            last.weight.copy_(kept)
        if big.min() < 0 or big.max() > 1:
            _fail("Le discriminateur doit renvoyer des probabilités (nn.Sigmoid() en sortie, comme au "
                  f"jour 1) ; ses sorties vont de {big.min().item():.3g} à {big.max().item():.3g} quand "
                  "la dernière couche grandit.")
        same = images[:1].expand(n_classes, 1, 28, 28)
        verdicts = _call(discriminator, same, torch.arange(n_classes, device=device),
                         what="discriminator(images, labels)")
        if not ((verdicts - verdicts[:1]).abs()[1:] > 1e-7).all():
            _fail("Pour la même image, le discriminateur rend le même verdict quelle que soit l'étiquette : "
                  "il ne la voit pas. Concaténez-la à l'image aplatie dans forward : "
                  "torch.cat([images.flatten(1), F.one_hot(labels, n_classes).float()], dim=1).")
        _check_hidden_argument(discriminator, 1, "Le discriminateur conditionnel", (images, labels))
        _check_all_labels_seen(discriminator, images, n_classes, "discriminator(images, labels)")
        _check_pure_forward(discriminator, (images, labels), "Le discriminateur conditionnel")
        dropouts = [m.p for m in discriminator.modules() if isinstance(m, nn.Dropout)]
        _check_conditional_behaviour(
            discriminator, (images, labels), n_classes, "Le discriminateur conditionnel",
            "l'image aplatie et le one-hot concaténés, puis pour chaque couche cachée nn.Linear, "
            "nn.LeakyReLU(0.2), nn.Dropout(dropout) ; enfin nn.Linear vers 1 et nn.Sigmoid()",
            batchnorm=False, dropout=dropouts[0] if dropouts else 0.1, final=nn.Sigmoid, out_shape=None,
            first_in=first.in_features if first else 0)
        discriminator.train()
        out = _call(discriminator, images, labels, what="discriminator(images, labels)")
        _check_gradients(discriminator, out, "Le discriminateur conditionnel")
    _ok(f"Discriminateur conditionnel correct : image (784) + {described} → une probabilité, et "
        "l'étiquette change le verdict.")


# --- GAN conditionnel : exercice 3, le pas d'entraînement --------------------------------

def reference_cgan_step(real, labels, generator, discriminator, opt_g, opt_d, z_dim, z=None,
                        wrong=None) -> dict:
    """Le pas de référence. G dessine les chiffres du lot réel ; D voit les vraies images avec leurs
    étiquettes (cible 1), les fausses avec les mêmes étiquettes (cible 0) et les vraies avec une
    mauvaise étiquette (cible 0, Reed et al. 2016) ; puis G se met à jour contre le D mis à jour.
    ``z`` et ``wrong`` : le bruit et les mauvaises étiquettes, tirés s'ils manquent."""
    if z is None:
        z = torch.randn(real.shape[0], z_dim, device=real.device)
    fake = generator(z, labels)
    if wrong is None:
        wrong = (labels + torch.randint(1, 10, labels.shape, device=labels.device)) % 10
    opt_d.zero_grad()
    d_real = discriminator(real, labels)
    d_fake = discriminator(fake.detach(), labels)
    d_wrong = discriminator(real, wrong)
    loss_d = _bce(d_real, 1.0) + _bce(d_fake, 0.0) + _bce(d_wrong, 0.0)
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = _bce(discriminator(fake, labels), 1.0)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
            "d_real": d_real.mean().item(), "d_fake": d_fake.mean().item()}


class _SpyGenerator(nn.Module):
    def __init__(self, z_dim: int, n_classes: int = 10):
        super().__init__()
        self.n_classes = n_classes
        self.net = nn.Linear(z_dim + n_classes, 784)
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, z, labels):
        self.calls.append((z.detach().clone(), labels.detach().clone()))
        onehot = nn.functional.one_hot(labels, self.n_classes).float()
        return torch.tanh(self.net(torch.cat([z, onehot], dim=1))).view(-1, 1, 28, 28)


class _SpyDiscriminator(nn.Module):
    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.n_classes = n_classes
        self.net = nn.Linear(784 + n_classes, 1)
        self.calls: list[tuple[torch.Tensor, torch.Tensor, bool]] = []

    def forward(self, images, labels):
        self.calls.append((images.detach().clone(), labels.detach().clone(), images.requires_grad))
        onehot = nn.functional.one_hot(labels, self.n_classes).float()
        return torch.sigmoid(self.net(torch.cat([images.flatten(1), onehot], dim=1)))


def _step_setup(z_dim: int):
    torch.manual_seed(5)
    g, d = _SpyGenerator(z_dim), _SpyDiscriminator()
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-2, betas=(0.5, 0.999))
    return g, d, opt_g, opt_d


def _flat_params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _split_calls(calls, n: int):
    """Les appels du discriminateur espion, un lot de ``n`` images par appel : un appel sur des lots
    concaténés (vraies, fausses et mal étiquetées d'un coup) compte pour autant d'appels."""
    split = []
    for images, labels, grad in calls:
        if images.shape[0] > n and images.shape[0] % n == 0:
            split += [(i, lab, grad) for i, lab in zip(images.split(n), labels.split(n))]
        else:
            split.append((images, labels, grad))
    return split


def _same_weights(got: torch.Tensor, expected: torch.Tensor) -> bool:
    """Les poids après un pas sont-ils ceux de la référence ? Adam amplifie les arrondis d'un
    gradient presque nul (une perte écrite autrement, juste) : quelques poids sur des milliers
    peuvent s'écarter de 1e-5 ; une erreur, elle, déplace presque tous les poids."""
    return got.shape == expected.shape and bool(((got - expected).abs() > 1e-5).double().mean() < 1e-3)


@_keeps_rng
def check_cgan_step(cgan_step, z_dim: int = 16) -> None:
    """Vérifie ``cgan_step(real, labels, generator, discriminator, opt_g, opt_d, z_dim)``."""
    __tracebackhide__ = True
    _check_function(cgan_step, "cgan_step")
    _check_argument_order(cgan_step, ["real", "labels", "generator", "discriminator", "opt_g", "opt_d",
                                      "z_dim"], "cgan_step")
    gen = torch.Generator().manual_seed(3)
    real = torch.rand(64, 1, 28, 28, generator=gen) * 2 - 1
    labels = torch.randint(0, 10, (64,), generator=gen)
    g, d, opt_g, opt_d = _step_setup(z_dim)
    g_before = _flat_params(g)
    torch.manual_seed(11)
    out = _call(cgan_step, real, labels.clone(), g, d, opt_g, opt_d, z_dim,
                what="cgan_step(real, labels, generator, discriminator, opt_g, opt_d, z_dim)")
    if not isinstance(out, dict) or not {"loss_d", "loss_g", "d_real", "d_fake"} <= set(out):
        _fail("cgan_step doit renvoyer un dictionnaire avec les clés loss_d, loss_g, d_real et d_fake "
              f"(comme train_step au jour 1) ; reçu : {out if not isinstance(out, dict) else sorted(out)}.")
    for key in ("loss_d", "loss_g", "d_real", "d_fake"):
        if isinstance(out[key], torch.Tensor) or not isinstance(out[key], (int, float)):
            _fail(f"cgan_step : la valeur de « {key} » doit être un nombre Python (.item()), reçu "
                  f"{type(out[key]).__name__}. Un tenseur garderait tout le graphe en mémoire.")
    if not g.calls:
        _fail("cgan_step n'appelle pas le générateur : dessinez fake = generator(z, labels).")
    z_used, fake_labels = g.calls[0]
    if len(g.calls) > 1:
        _fail(f"cgan_step appelle le générateur {len(g.calls)} fois : une seule fois suffit, et le pas de "
              "G réutilise les mêmes images fake que le pas de D (sans .detach() cette fois).")
    if not torch.equal(fake_labels, labels):
        _fail("Le générateur ne reçoit pas les étiquettes du lot réel. Dans ce lab, G dessine les chiffres "
              "du lot (fake = generator(z, labels)) : le lot de fausses images a alors les mêmes "
              "étiquettes, dans les mêmes proportions, que le lot de vraies images.")
    if tuple(z_used.shape) != (64, z_dim):
        _fail(f"Le bruit doit avoir la forme (taille du lot, z_dim) = (64, {z_dim}) ; reçu "
              f"{tuple(z_used.shape)}.")
    calls = _split_calls(d.calls, real.shape[0])
    on_real = [c for c in calls if c[0].shape == real.shape and torch.equal(c[0], real)]
    on_fake = [c for c in calls if not (c[0].shape == real.shape and torch.equal(c[0], real))]
    if not on_real:
        _fail("Le discriminateur ne voit jamais les vraies images : d_real = discriminator(real, labels).")
    right = [c for c in on_real if torch.equal(c[1], labels)]
    mismatched = [c for c in on_real if not torch.equal(c[1], labels)]
    if not right:
        _fail("Le discriminateur ne voit jamais les vraies images avec LEURS étiquettes : "
              "d_real = discriminator(real, labels).")
    if not mismatched:
        _fail("Le discriminateur ne voit jamais de vraie image avec une MAUVAISE étiquette : ajoutez le "
              "troisième terme, d_wrong = discriminator(real, wrong), visé à 0, avec "
              "wrong = (labels + torch.randint(1, 10, labels.shape, device=labels.device)) % 10.")
    if len(mismatched) > 1:
        _fail(f"Le discriminateur juge {len(mismatched)} fois les vraies images avec d'autres étiquettes que "
              "les leurs : une seule fois suffit, d_wrong = discriminator(real, wrong), au pas de D.")
    wrong = mismatched[0][1]
    if (wrong == labels).any() or wrong.min() < 0 or wrong.max() > 9:
        same = int((wrong == labels).sum())
        _fail(f"Les « mauvaises » étiquettes ne sont pas toutes mauvaises ({same} sur 64 sont justes, ou "
              "hors de 0 à 9) : torch.randint(0, 10, ...) retombe une fois sur dix sur le bon chiffre. "
              "Décalez l'étiquette de 1 à 9 : (labels + torch.randint(1, 10, ...)) % 10.")
    if len(on_fake) < 2:
        _fail("Le discriminateur doit juger les fausses images deux fois : au pas de D (fake.detach()) et "
              "au pas de G (fake, sans detach).")
    if any(not torch.equal(c[1], labels) for c in on_fake):
        _fail("Le discriminateur juge une fausse image avec une autre étiquette que celle que G a reçue : "
              "D doit répondre à « est-ce un vrai 3 ? » pour une image dessinée comme un 3. Passez les "
              "mêmes labels à generator(z, labels) et à discriminator(fake, labels).")
    new_g, new_d = _flat_params(g), _flat_params(d)

    g_ref, d_ref, opt_g_ref, opt_d_ref = _step_setup(z_dim)
    expected = reference_cgan_step(real, labels, g_ref, d_ref, opt_g_ref, opt_d_ref, z_dim, z=z_used,
                                   wrong=wrong)
    same_d = _same_weights(new_d, _flat_params(d_ref))
    same_g = _same_weights(new_g, _flat_params(g_ref))
    if not same_d:
        _fail("Après cgan_step, les poids du discriminateur diffèrent de la référence. Le pas de D : "
              "opt_d.zero_grad() ; loss_d = BCE(D(real, labels), 1) + BCE(D(fake.detach(), labels), 0) "
              "+ BCE(D(real, wrong), 0), une somme de trois moyennes ; loss_d.backward() ; opt_d.step().")
    if not same_g and torch.equal(new_g, g_before):
        _fail("Le pas du discriminateur est juste, mais les poids du générateur n'ont pas bougé : aucun "
              "gradient ne lui est arrivé. Au pas de G, jugez fake SANS .detach() (le detach ne sert qu'au "
              "pas de D), et appelez loss_g.backward() puis opt_g.step().")
    if not same_g:
        _fail("Le pas du discriminateur est juste, mais les poids du générateur diffèrent de la référence. "
              "Le pas de G vient APRÈS celui de D : opt_g.zero_grad() ; loss_g = BCE(D(fake, labels), 1), "
              "avec le D mis à jour ; loss_g.backward() ; opt_g.step().")
    for key in ("loss_d", "loss_g", "d_real", "d_fake"):
        if not _close(float(out[key]), expected[key], rel=1e-4, abs_=1e-5):
            _fail(f"cgan_step : « {key} » vaut {out[key]:.4f}, la référence {expected[key]:.4f} (les poids, "
                  "eux, sont justes). loss_d et loss_g sont les pertes des deux pas ; d_real et d_fake, "
                  "les moyennes de D(real) et D(fake.detach()) au pas de D.")
    _check_cgan_step_again(cgan_step, z_dim)
    _ok("cgan_step correct : D accepte les vraies images avec leur étiquette, refuse les fausses et les "
        "vraies mal étiquetées, puis G se met à jour contre le D mis à jour.")


def _check_cgan_step_again(cgan_step, z_dim: int) -> None:
    """Un deuxième pas, sur des modèles qui gardent des gradients d'avant (comme au deuxième lot
    d'un entraînement) et un lot de 512 images : un zero_grad oublié, un bruit qui n'est pas
    gaussien, des mauvaises étiquettes qui ne couvrent pas les 9 autres chiffres se voient ici."""
    __tracebackhide__ = True
    gen = torch.Generator().manual_seed(4)
    real = torch.rand(512, 1, 28, 28, generator=gen) * 2 - 1
    labels = torch.randint(0, 10, (512,), generator=gen)
    models = []
    for _ in range(2):
        g, d, opt_g, opt_d = _step_setup(z_dim)
        stale = torch.Generator().manual_seed(6)
        for p in [*g.parameters(), *d.parameters()]:
            p.grad = torch.randn(p.shape, generator=stale)
        models.append((g, d, opt_g, opt_d))
    g, d, opt_g, opt_d = models[0]
    torch.manual_seed(12)
    _call(cgan_step, real, labels.clone(), g, d, opt_g, opt_d, z_dim,
          what="cgan_step, au deuxième pas (des gradients d'avant sur les modèles)")
    z_used = g.calls[0][0]
    if z_used.min() >= 0 or abs(z_used.mean().item()) > 0.15 or not 0.85 < z_used.std().item() < 1.15:
        _fail(f"Le bruit z n'est pas tiré d'une loi normale centrée réduite (moyenne {z_used.mean().item():.2f}, "
              f"écart type {z_used.std().item():.2f}, minimum {z_used.min().item():.2f}) : utilisez "
              "torch.randn(real.shape[0], z_dim, device=real.device), pas torch.rand.")
    mismatched = [c for c in _split_calls(d.calls, real.shape[0]) if c[0].shape == real.shape and torch.equal(c[0], real)
                  and not torch.equal(c[1], labels)]
    wrong = mismatched[0][1]
    offsets = sorted(set(((wrong - labels) % 10).tolist()))
    if offsets != list(range(1, 10)):
        _fail(f"Sur 512 images, les mauvaises étiquettes ne sont décalées que de {offsets} : chaque vraie image "
              "doit pouvoir recevoir n'importe lequel des 9 autres chiffres. Tirez le décalage de 1 à 9 : "
              "wrong = (labels + torch.randint(1, 10, labels.shape, device=labels.device)) % 10.")
    g_ref, d_ref, opt_g_ref, opt_d_ref = models[1]
    reference_cgan_step(real, labels, g_ref, d_ref, opt_g_ref, opt_d_ref, z_dim, z=z_used, wrong=wrong)
    for mine, ref, who, opt in ((d, d_ref, "discriminateur", "opt_d"), (g, g_ref, "générateur", "opt_g")):
        if not _same_weights(_flat_params(mine), _flat_params(ref)):
            _fail(f"Sur des modèles neufs le pas est juste, mais pas quand ils gardent des gradients du pas "
                  f"d'avant : les poids du {who} diffèrent de la référence. Appelez {opt}.zero_grad() avant "
                  f"le backward() de la perte du {who}, à chaque pas.")
