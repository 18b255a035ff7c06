"""L'évaluateur du cours : un petit CNN entraîné sur MNIST, qui note n'importe quel générateur.

Trois mesures, calculées sur des chiffres générés (idéalement 10 000) :

* **FID-MNIST** : distance de Fréchet entre les caractéristiques (avant-dernière
  couche du CNN, 128 valeurs) des échantillons et celles des 10 000 images de
  test. 0 = même distribution ; plus c'est bas, mieux c'est. C'est l'idée du FID
  d'Inception, sur un réseau qui connaît les chiffres manuscrits.
* **part confiante** : part des échantillons que le CNN classe avec une
  probabilité d'au moins 0,9 (chiffres nets et reconnaissables).
* **histogramme des chiffres prédits** : la couverture des modes ; un générateur
  parfait en produit environ 10 % de chaque.

Les poids (``utils/mnist_classifier.pt``) viennent de ``tools/train_evaluator.py`` :
99,35 % de précision sur le test. Le CNN a aussi appris à ne pas être sûr de lui
devant ce qui n'est pas un chiffre (bruit, pixels mélangés, deux chiffres
superposés) : du bruit uniforme obtient une part confiante de 0 %, 10 000 vraies
images d'entraînement 96,2 % et un FID-MNIST de 3,75.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

WEIGHTS_PATH = Path(__file__).with_name("mnist_classifier.pt")
#: Moyenne et covariance des caractéristiques des 10 000 images de test, calculées une fois avec
#: ces poids et livrées avec eux : les recalculer prend de 5 à 12 s sur un CPU, dans chaque
#: notebook et chaque processus qui note des échantillons. Le fichier nomme l'empreinte SHA-256
#: des poids : s'ils changent, les statistiques sont recalculées.
REFERENCE_STATS_PATH = Path(__file__).with_name("mnist_reference_stats.pt")
CONFIDENCE_THRESHOLD = 0.9

#: Nombre minimal d'échantillons pour un FID : deux fois les 128 caractéristiques,
#: sinon leur covariance estimée n'a pas de sens. 10 000 pour comparer des modèles.
MIN_FID_SAMPLES = 256

#: Une image est « unie » si l'écart entre son pixel le plus clair et le plus
#: sombre est sous ce seuil (sur l'échelle [-1, 1]) : il n'y a rien de dessiné.
UNIFORM_RANGE = 0.1


class MnistClassifier(nn.Module):
    """CNN de l'évaluateur. Entrée (N, 1, 28, 28) dans [-1, 1] ; sortie : 10 logits."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 14×14
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 7×7
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(128, 10)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Caractéristiques de 128 valeurs utilisées par le FID-MNIST."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))


def load_classifier(device: torch.device | str = "cpu") -> MnistClassifier:
    """Charge le CNN de l'évaluateur (poids livrés avec le cours), en mode évaluation.

    Ne touche pas à l'aléa global de torch : noter un générateur au milieu d'un entraînement
    ne change pas la suite de cet entraînement.
    """
    from .checkpoint import load_state_dict_file

    with torch.random.fork_rng(devices=[]):   # l'initialisation, aussitôt remplacée, tire des nombres
        model = MnistClassifier()
    model.load_state_dict(load_state_dict_file(WEIGHTS_PATH))
    return model.to(device).eval()


def to_evaluator_input(images: torch.Tensor) -> torch.Tensor:
    """Met des chiffres au format attendu par l'évaluateur : float (N, 1, 28, 28) dans [-1, 1].

    Accepte des ``uint8`` (N, 28, 28) ou (N, 1, 28, 28) de 0 à 255 (le format de
    ``samples.pt``), ou des flottants dans [-1, 1] de forme (N, 784),
    (N, 28, 28) ou (N, 1, 28, 28) (la sortie d'un générateur ``tanh``).
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"L'évaluateur attend un tenseur PyTorch (reçu : {type(images).__name__}).")
    shape = tuple(images.shape)
    if images.dim() == 2 and shape[1] == 784:
        images = images.reshape(-1, 1, 28, 28)
    elif images.dim() == 3 and shape[1:] == (28, 28):
        images = images.unsqueeze(1)
    elif not (images.dim() == 4 and shape[1:] == (1, 28, 28)):
        raise ValueError(
            f"Forme d'images inattendue : {shape}. L'évaluateur attend des chiffres 28×28 : "
            "(N, 28, 28), (N, 1, 28, 28) ou (N, 784). Vérifiez la sortie de votre générateur."
        )
    if images.shape[0] == 0:
        raise ValueError("Aucune image à évaluer (tenseur vide).")
    if images.dtype == torch.uint8:
        if 0 < images.max().item() <= 1:   # des 0/1 ; tout à 0 : une image noire, permise
            raise ValueError(
                "Ces images uint8 ne valent que 0 ou 1 : l'évaluateur attend des uint8 de 0 à 255 "
                "(le format de samples.pt). Multipliez par 255, ou passez des flottants dans [-1, 1]."
            )
        return images.float().div(127.5).sub(1.0)
    if not images.is_floating_point():
        raise TypeError(f"Images de type {images.dtype} : l'évaluateur attend des flottants dans "
                        "[-1, 1] ou des uint8 de 0 à 255.")
    images = images.detach().float()
    if not torch.isfinite(images).all():
        raise ValueError("Les images contiennent des NaN ou des infinis : l'entraînement a divergé. "
                         "Relancez-le (taux d'apprentissage plus petit, autre graine) : il n'y a "
                         "rien à évaluer.")
    lo, hi = images.min().item(), images.max().item()
    if lo < -1.01 or hi > 1.01:
        raise ValueError(
            f"Valeurs hors de [-1, 1] (min {lo:.2f}, max {hi:.2f}). Les images flottantes doivent "
            "sortir d'un tanh ; des uint8 de 0 à 255 sont aussi acceptés."
        )
    if lo >= 0:
        raise ValueError(
            f"Aucune valeur négative (min {lo:.2f}, max {hi:.2f}) : ces images semblent être dans "
            "[0, 1] (sortie d'une sigmoïde, ou MNIST chargé sans normalisation), alors que "
            "l'évaluateur attend [-1, 1], où le fond d'un chiffre vaut -1. Convertissez-les avec "
            "images * 2 - 1. (Si elles viennent d'un tanh, le générateur ne dessine plus de fond "
            "noir du tout : regardez une grille.)"
        )
    return images


@torch.no_grad()
def _predict(model: MnistClassifier, images: torch.Tensor, batch_size: int = 1000):
    """Caractéristiques (N, 128) et probabilités (N, 10) de l'évaluateur, par lots."""
    device = next(model.parameters()).device
    feats, probs = [], []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start:start + batch_size].to(device)
        f = model.embed(batch)
        feats.append(f.double().cpu())
        probs.append(model.head(f).softmax(dim=1).cpu())
    return torch.cat(feats), torch.cat(probs)


def _mean_cov(feats: torch.Tensor):
    mu = feats.mean(dim=0)
    centered = feats - mu
    cov = centered.T @ centered / max(feats.shape[0] - 1, 1)
    return mu, cov


def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """Distance de Fréchet entre deux gaussiennes N(mu1, cov1) et N(mu2, cov2).

    d² = ||mu1 - mu2||² + Tr(cov1 + cov2 - 2 (cov1^½ cov2 cov1^½)^½),
    calculée en float64 par décomposition en valeurs propres (matrices symétriques).
    """
    mu1, cov1, mu2, cov2 = (t.double() for t in (mu1, cov1, mu2, cov2))
    root1 = _sqrtm_psd(cov1)
    middle = root1 @ cov2 @ root1
    middle = (middle + middle.T) / 2
    trace_sqrt = torch.linalg.eigvalsh(middle).clamp(min=0).sqrt().sum()
    value = (mu1 - mu2).pow(2).sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * trace_sqrt
    return max(float(value), 0.0)


def compute_reference_stats(device: torch.device | str = "cpu"):
    """Moyenne (128,) et covariance (128, 128), en float64, des caractéristiques des 10 000
    images de test : la référence du FID-MNIST, calculée (de 5 à 12 s sur un CPU)."""
    from .data import load_mnist

    model = load_classifier(device)
    images, _ = load_mnist("test")
    feats, _ = _predict(model, images)
    return _mean_cov(feats)


def _weights_digest() -> str:
    import hashlib

    return hashlib.sha256(WEIGHTS_PATH.read_bytes()).hexdigest()


def save_reference_stats(path: Path = REFERENCE_STATS_PATH) -> Path:
    """Calcule la référence du FID-MNIST sur le CPU et l'écrit dans ``path``, avec l'empreinte
    des poids de l'évaluateur (``tools/train_evaluator.py`` l'appelle après l'entraînement)."""
    from .checkpoint import _atomic_torch_save

    mu, cov = compute_reference_stats("cpu")
    _atomic_torch_save({"mu": mu, "cov": cov, "weights_sha256": _weights_digest()}, Path(path))
    return Path(path)


def _shipped_reference_stats():
    """La référence livrée, si elle correspond aux poids actuels ; ``None`` sinon."""
    try:
        data = torch.load(REFERENCE_STATS_PATH, map_location="cpu", weights_only=True)
        if data.get("weights_sha256") != _weights_digest():
            return None
        mu, cov = data["mu"].double(), data["cov"].double()
    except Exception:  # noqa: BLE001 - absente ou abîmée : on la recalcule
        return None
    if mu.shape != (128,) or cov.shape != (128, 128) or not (mu.isfinite().all() and cov.isfinite().all()):
        return None
    return mu, cov


@lru_cache(maxsize=2)
def _reference_stats(device_str: str):
    """La référence du FID-MNIST : celle livrée avec les poids (``mnist_reference_stats.pt``),
    ou, si elle manque ou ne correspond pas aux poids, calculée une fois par processus."""
    return _shipped_reference_stats() or compute_reference_stats(device_str)


@dataclass
class EvaluationReport:
    """Résultat de l'évaluateur pour un lot d'échantillons."""

    fid: float
    confident_share: float
    class_shares: list[float]
    n_samples: int
    name: str = ""
    predicted: torch.Tensor = field(default=None, repr=False)
    uniform_share: float = 0.0

    @property
    def warning(self) -> str:
        """Un avertissement si la plupart des images sont unies (rien de dessiné), sinon ``""``."""
        if self.uniform_share < 0.5:
            return ""
        return (f"⚠️ {100 * self.uniform_share:.0f} % des images sont unies (une seule teinte, rien "
                "de dessiné) : le générateur a sans doute divergé. Ce n'est pas un effondrement de "
                "mode ; l'histogramme ci-dessous ne dit rien des chiffres.")

    def summary(self) -> str:
        """Résumé en français, arrondi pour rester lisible."""
        title = f"Évaluation de {self.name}" if self.name else "Évaluation"
        shares = " ".join(f"{d}:{100 * s:.1f}%" for d, s in enumerate(self.class_shares))
        lo, hi = min(self.class_shares), max(self.class_shares)
        warning = f"{self.warning}\n" if self.warning else ""
        return (
            f"{warning}{title} ({self.n_samples} échantillons)\n"
            f"  FID-MNIST (plus bas = mieux, 0 = données réelles) : {self.fid:.2f}\n"
            f"  part confiante (proba >= {CONFIDENCE_THRESHOLD}) : {100 * self.confident_share:.1f} %\n"
            f"  chiffres prédits : {shares}\n"
            f"  chiffre le plus rare : {100 * lo:.1f} %, le plus fréquent : {100 * hi:.1f} %"
        )

    def __str__(self) -> str:
        return self.summary()

    def as_row(self) -> dict:
        """Les scores sous forme de dictionnaire (une ligne de tableau comparatif)."""
        return {
            "modèle": self.name,
            "FID-MNIST": round(self.fid, 2),
            "part confiante (%)": round(100 * self.confident_share, 1),
            "chiffre le plus rare (%)": round(100 * min(self.class_shares), 1),
            "chiffre le plus fréquent (%)": round(100 * max(self.class_shares), 1),
        }

    def all_digits_between(self, low: float = 0.05, high: float = 0.15) -> bool:
        """Vrai si chaque chiffre représente entre ``low`` et ``high`` des échantillons."""
        return all(low <= s <= high for s in self.class_shares)


def compare_reports(reports) -> str:
    """Tableau texte (une ligne par modèle) pour comparer plusieurs évaluations côte à côte."""
    rows = [report.as_row() for report in reports]
    if not rows:
        raise ValueError("Aucun rapport à comparer : passez une liste de résultats de evaluate_samples.")
    columns = list(rows[0])
    cells = [[str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def evaluate_samples(samples: torch.Tensor, name: str = "", device: torch.device | str = "cpu",
                     ) -> EvaluationReport:
    """Note des chiffres générés avec l'évaluateur du cours.

    Entrée : les échantillons (voir :func:`to_evaluator_input` pour les formats
    acceptés) ; 10 000 pour des scores comparables entre les jours (le FID
    dépend du nombre d'échantillons), au moins :data:`MIN_FID_SAMPLES`. Sortie : un
    :class:`EvaluationReport`, dont le résumé avertit si la plupart des images sont
    unies (générateur divergé). Des images dans [0, 1] au lieu de [-1, 1], ou des
    NaN, donnent une erreur claire.
    """
    images = to_evaluator_input(samples)
    if images.shape[0] < MIN_FID_SAMPLES:
        raise ValueError(
            f"{images.shape[0]} échantillon(s) : trop peu pour un FID, qui compare des moyennes et "
            f"des covariances de 128 caractéristiques. Passez-en au moins {MIN_FID_SAMPLES}, et "
            "10 000 pour comparer des modèles entre eux (le FID dépend du nombre d'échantillons)."
        )
    flat = images.flatten(1)
    uniform = (flat.amax(dim=1) - flat.amin(dim=1)) < UNIFORM_RANGE
    device = torch.device(device)
    model = load_classifier(device)
    feats, probs = _predict(model, images)
    mu, cov = _mean_cov(feats)
    mu_ref, cov_ref = _reference_stats(str(device))
    confidence, predicted = probs.max(dim=1)
    counts = torch.bincount(predicted, minlength=10).double()
    return EvaluationReport(
        fid=frechet_distance(mu, cov, mu_ref, cov_ref),
        confident_share=float((confidence >= CONFIDENCE_THRESHOLD).double().mean()),
        class_shares=[float(c) for c in counts / counts.sum()],
        n_samples=int(images.shape[0]),
        name=name,
        predicted=predicted,
        uniform_share=float(uniform.double().mean()),
    )
