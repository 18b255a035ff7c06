"""Ce que les premiers jours ont enseigné, pour les jours suivants.

Le jour qui enseigne une pièce la fait écrire dans son notebook ; les jours
d'après l'importent d'ici au lieu de la recopier. Chaque objet dit où il a
été enseigné :

* **jour 1** (``02_labs/images_gan/train_gan_images.ipynb``) : les deux réseaux
  entièrement connectés :class:`Generator` et :class:`Discriminator`, les
  pertes :func:`discriminator_loss` et :func:`generator_loss` (non saturante),
  le pas d'entraînement :func:`train_step`, la moyenne mobile des poids du
  générateur (:func:`make_ema`, :func:`ema_ready`) et la comptabilité d'une
  boucle d'entraînement (:class:`TrainingLog`) ;
* **jour 3** (``02_labs/dcgan/dcgan_mnist.ipynb``) : les deux réseaux
  convolutifs :class:`DCGANGenerator` et :class:`DCGANDiscriminator`, le lissage unilatéral des
  étiquettes (``real_label``), plusieurs pas de D par pas de G (``d_steps``) et
  l'initialisation :func:`init_weights` étendue aux convolutions et à la
  BatchNorm.

Le vocabulaire est le même partout : la taille du bruit s'appelle ``z_dim`` et
``train_step`` prend ``(real, generator, discriminator, opt_g, opt_d, z_dim)``
puis ses options.

Exemple (un jour qui réutilise le GAN du jour 1) ::

    from utils.gan import Discriminator, Generator, init_weights, train_step

    generator = Generator().apply(init_weights)
    discriminator = Discriminator().apply(init_weights)
    values = train_step(real, generator, discriminator, opt_g, opt_d, z_dim=64)
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, update_bn

from .plots import show_images
from .runtime import quick_or_full
from .tracking import TensorBoardLogger, progress

__all__ = [
    "DCGANDiscriminator", "DCGANGenerator", "Discriminator", "Generator", "TrainingLog", "discriminator_loss", "ema_ready",
    "generator_loss", "init_weights", "load_pretrained_dcgan", "make_ema", "pretrained_names",
    "sample_digits", "train_step",
]

# ---------------------------------------------------------------------------
# Les réseaux du jour 1
# ---------------------------------------------------------------------------


class Discriminator(nn.Module):
    """Discriminateur entièrement connecté du jour 1 (exercice 1).

    Image (N, 1, 28, 28) aplatie en 784 valeurs → couches cachées ``hidden``,
    chacune suivie de ``LeakyReLU(0,2)`` et ``Dropout(dropout)`` → une
    probabilité (N, 1) par ``Sigmoid``. ``shape`` : la forme d'une image
    (``(3, 14, 14)`` pour les chiffres empilés du jour 4).
    """

    def __init__(self, hidden=(512, 256, 128), dropout=0.1, shape=(1, 28, 28)):
        super().__init__()
        layers = [nn.Flatten()]
        in_features = math.prod(shape)
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            in_features = width
        layers += [nn.Linear(in_features, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Generator(nn.Module):
    """Générateur entièrement connecté du jour 1 (exercice 2).

    Bruit (N, ``z_dim``) → couches cachées ``hidden``, chacune suivie de
    ``BatchNorm1d`` et ``LeakyReLU(0,2)`` → 784 pixels par ``Tanh``, remis en
    forme d'image (N, 1, 28, 28) dans [-1, 1]. ``shape`` : la forme d'une image
    (``(3, 14, 14)`` pour les chiffres empilés du jour 4).
    """

    def __init__(self, z_dim=64, hidden=(256, 512, 1024), shape=(1, 28, 28)):
        super().__init__()
        layers = []
        in_features = z_dim
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.LeakyReLU(0.2)]
            in_features = width
        layers += [nn.Linear(in_features, math.prod(shape)), nn.Tanh(), nn.Unflatten(1, tuple(shape))]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


# ---------------------------------------------------------------------------
# Les réseaux du jour 3 (DCGAN)
# ---------------------------------------------------------------------------


class DCGANGenerator(nn.Module):
    """Générateur convolutif du jour 3 (exercice 2), celui du DCGAN Keras.

    Bruit (N, ``z_dim``) → ``Linear`` sans biais vers ``c1 × 7 × 7``,
    ``BatchNorm1d``, ``LeakyReLU(0,2)`` → convolution transposée (noyau 4, pas
    2) vers ``c2 × 14 × 14``, ``BatchNorm2d``, ``LeakyReLU(0,2)`` → convolution
    transposée vers 1 × 28 × 28, ``Tanh``, avec ``c1, c2 = channels``. Les poids
    se rangent sous les mêmes noms (``net.0.weight``...) que le ``Generator`` du
    notebook : l'un se charge dans l'autre.
    """

    def __init__(self, z_dim=256, channels=(128, 64)):
        super().__init__()
        c1, c2 = channels
        self.net = nn.Sequential(
            nn.Linear(z_dim, c1 * 7 * 7, bias=False), nn.BatchNorm1d(c1 * 7 * 7), nn.LeakyReLU(0.2),
            nn.Unflatten(1, (c1, 7, 7)),
            nn.ConvTranspose2d(c1, c2, kernel_size=4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c2), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c2, 1, kernel_size=4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """Discriminateur convolutif du jour 3 (exercice 3), celui du DCGAN Keras.

    Image (N, 1, 28, 28) → ``Conv2d`` (noyau 4, pas 2) vers ``c1 × 14 × 14``,
    ``LeakyReLU(0,2)`` → ``Conv2d`` vers ``c2 × 7 × 7``, ``LeakyReLU(0,2)`` →
    ``Dropout(dropout)``, ``Flatten``, ``Linear`` vers 1, ``Sigmoid``.

    ``batch_norm=True`` ajoute une ``BatchNorm2d`` après la seconde convolution
    (la variante de Radford et al., absente de la recette Keras) ; les
    entraînements de ``tools/train_dcgan_20_epochs.py`` s'en servent.
    """

    def __init__(self, channels=(64, 128), dropout=0.3, batch_norm=False):
        super().__init__()
        c1, c2 = channels
        second = [nn.Conv2d(c1, c2, kernel_size=4, stride=2, padding=1, bias=not batch_norm)]
        if batch_norm:
            second.append(nn.BatchNorm2d(c2))
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2),
            *second, nn.LeakyReLU(0.2),
            nn.Dropout(dropout), nn.Flatten(), nn.Linear(c2 * 7 * 7, 1), nn.Sigmoid(),
        )

    def forward(self, x):
        return self.net(x)


#: Dossier des générateurs livrés avec le cours (entraînés par ``tools/train_dcgan_20_epochs.py``).
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
#: Graine du bruit avec lequel on note un générateur livré (celle de son journal).
SAMPLE_SEED = 2026


def sample_digits(generator: nn.Module, z_dim: int, n: int = 10_000, seed: int = SAMPLE_SEED) -> torch.Tensor:
    """``n`` chiffres du générateur, par lots de 1 000, pour un bruit tiré d'une graine fixe.

    Le bruit est tiré sur le CPU (les mêmes nombres sur toutes les machines) puis envoyé sur
    l'appareil du générateur ; le résultat revient sur le CPU. Le générateur doit être en mode
    évaluation si l'on veut des chiffres qui ne dépendent pas du lot.
    """
    device = next(generator.parameters()).device
    noise = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return torch.cat([generator(torch.randn(min(1000, n - i), z_dim, generator=noise).to(device)).cpu()
                          for i in range(0, n, 1000)])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_checksums(folder: Path | None = None) -> Path:
    """Réécrit ``SHA256SUMS`` (format de ``sha256sum``) pour les fichiers .pt et .json du dossier."""
    folder = Path(folder or PRETRAINED_DIR)
    lines = [f"{_sha256(p)}  {p.name}" for p in sorted(folder.iterdir()) if p.suffix in (".pt", ".json")]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "SHA256SUMS"


def pretrained_names() -> list[str]:
    """Noms des générateurs livrés (sans extension), par ordre alphabétique."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.pt"))


def generator_from_settings(settings: dict) -> nn.Module:
    """Un générateur neuf de la forme décrite par les réglages d'un journal d'entraînement.

    ``g_arch`` vaut ``"dcgan"`` (le :class:`DCGANGenerator` du jour 3, canaux ``g_channels``,
    le défaut) ou ``"dense"`` (le :class:`Generator` du jour 1) ; ``z_dim`` : la taille du bruit.
    """
    if settings.get("g_arch", "dcgan") == "dense":
        return Generator(settings["z_dim"])
    return DCGANGenerator(settings["z_dim"], tuple(settings["g_channels"]))


def load_pretrained_dcgan(name: str, model: nn.Module | None = None) -> tuple[nn.Module, dict]:
    """Charge un générateur livré avec le cours (DCGAN du jour 3, WGAN-GP du jour 4), et son journal.

    Entrée : le nom du fichier sans extension (voir :func:`pretrained_names`), et
    facultativement un générateur à remplir (le ``Generator`` écrit au jour 3, avec les
    canaux du journal) ; sinon celui que décrivent les réglages du journal
    (:func:`generator_from_settings`). Les poids, rangés en float16,
    sont vérifiés (somme SHA-256 de ``SHA256SUMS``) puis chargés en float32. Sortie : le
    générateur en mode évaluation, sur le CPU, et le journal (réglages, durée, scores par
    époque, ``scores`` : ceux du générateur livré, sur :func:`sample_digits`).
    """
    weights, journal = PRETRAINED_DIR / f"{name}.pt", PRETRAINED_DIR / f"{name}.json"
    if not weights.exists() or not journal.exists():
        known = ", ".join(pretrained_names()) or "aucun"
        raise FileNotFoundError(f"Pas de générateur livré nommé {name!r} dans {PRETRAINED_DIR} "
                                f"(générateurs livrés : {known}).")
    listing = PRETRAINED_DIR / "SHA256SUMS"
    if not listing.exists():
        raise FileNotFoundError(f"{listing} manque : récupérez le dossier avec git (git checkout -- utils/pretrained).")
    sums = dict(reversed(line.split(maxsplit=1)) for line in
                listing.read_text(encoding="utf-8").splitlines() if line.strip())
    for path in (weights, journal):
        if sums.get(path.name) != _sha256(path):
            raise RuntimeError(f"{path.name} ne correspond pas à sa somme SHA-256 dans SHA256SUMS : le fichier "
                               "a été modifié ou abîmé. Récupérez-le avec git (git checkout -- utils/pretrained).")
    log = json.loads(journal.read_text(encoding="utf-8"))
    settings = log["settings"]
    model = model if model is not None else generator_from_settings(settings)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    # Tout est comparé avant de copier quoi que ce soit : un générateur d'une autre forme reste
    # intact (load_state_dict copierait les tenseurs compatibles avant de lever son erreur).
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state.items()}
    problems = [f"{k} manque dans ce générateur" for k in given if k not in expected]
    problems += [f"{k} n'est pas dans les poids livrés" for k in expected if k not in given]
    problems += [f"{k} : {expected[k]} ici, {given[k]} dans les poids livrés" for k in given
                 if k in expected and expected[k] != given[k]]
    if problems:
        raise RuntimeError(
            f"Les poids de {name} ne rentrent pas dans ce générateur (il n'a pas été modifié) : il faut "
            + (f"le générateur dense du jour 1 avec z_dim={settings['z_dim']}"
               if settings.get("g_arch") == "dense" else
               f"le générateur du jour 3 avec z_dim={settings['z_dim']} et "
               f"channels={tuple(settings['g_channels'])}, ses couches dans self.net dans l'ordre de "
               "l'exercice 2")
            + f". Différences : {' ; '.join(problems[:6])}"
            + (f" ; … ({len(problems) - 6} autres)" if len(problems) > 6 else ""))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.cpu().float().eval(), log


def init_weights(module: nn.Module) -> None:
    """Initialisation des GAN (Radford et al., 2015), à appliquer avec ``model.apply(init_weights)``.

    Couches ``Linear``, ``Conv2d`` et ``ConvTranspose2d`` : poids ~ N(0 ; 0,02),
    biais nuls (jour 1 pour les couches denses) ; ``BatchNorm`` : échelle ~
    N(1 ; 0,02), décalage nul (jour 3).
    """
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


# ---------------------------------------------------------------------------
# Les pertes et le pas d'entraînement (jour 1, options du jour 3)
# ---------------------------------------------------------------------------

_bce = nn.BCELoss()


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """Perte du discriminateur : BCE(D(x), ``real_label``) + BCE(D(G(z)), 0).

    Jour 1 (exercice 3) avec ``real_label = 1`` ; jour 3 (exercice 4) : le
    lissage unilatéral vise 0,9 pour les vraies images.
    """
    return _bce(d_real, torch.full_like(d_real, real_label)) + _bce(d_fake, torch.zeros_like(d_fake))


def generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Perte non saturante du générateur, BCE(D(G(z)), 1) = -log D(G(z)) en moyenne (jour 1, exercice 4)."""
    return _bce(d_fake, torch.ones_like(d_fake))


def train_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label=1.0, d_steps=1) -> dict:
    """Une itération du jeu sur le mini-lot ``real`` (jour 1, exercice 5 ; options du jour 3).

    ``d_steps`` pas du discriminateur (chacun avec un bruit neuf, le même lot
    réel, les images générées détachées), puis un pas du générateur sur les
    images du dernier pas de D, jugées par D mis à jour. Chaque pas commence
    par ``zero_grad()``.

    Renvoie un dictionnaire de nombres : ``loss_d``, ``loss_g``, ``d_real`` et
    ``d_fake`` (moyennes de D(x) et D(G(z)) au dernier pas de D).
    """
    if d_steps < 1:
        raise ValueError(f"d_steps doit valoir au moins 1 (reçu : {d_steps}).")
    for _ in range(d_steps):
        z = torch.randn(real.shape[0], z_dim, device=real.device)
        fake = generator(z)
        opt_d.zero_grad()
        d_real = discriminator(real)
        d_fake = discriminator(fake.detach())
        loss_d = discriminator_loss(d_real, d_fake, real_label)
        loss_d.backward()
        opt_d.step()

    opt_g.zero_grad()
    loss_g = generator_loss(discriminator(fake))
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
            "d_real": d_real.mean().item(), "d_fake": d_fake.mean().item()}


# ---------------------------------------------------------------------------
# La moyenne mobile des poids du générateur (jour 1)
# ---------------------------------------------------------------------------


def make_ema(generator: nn.Module, decay: float = 0.999) -> AveragedModel:
    """Copie du générateur dont les poids suivent une moyenne mobile exponentielle.

    Après chaque pas, ``ema.update_parameters(generator)`` fait
    ``moyenne ← d · moyenne + (1 − d) · poids``, avec
    ``d = min(decay, (1 + n) / (10 + n))`` au n-ième appel : un démarrage
    progressif, pour que les premiers pas, encore proches du hasard de
    l'initialisation, ne pèsent pas des milliers d'étapes. ``ema.module`` est le
    générateur moyenné.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"decay doit être dans [0, 1[ (reçu : {decay}) ; 0,999 est un bon début.")

    def average(averaged, current, num_averaged):
        # averaged ← d · averaged + (1 − d) · current, pour toutes les couches d'un coup
        # (les opérations « foreach » de PyTorch : le même calcul qu'une boucle, bien plus rapide).
        d = min(decay, (1 + float(num_averaged)) / (10 + float(num_averaged)))
        scaled = torch._foreach_mul(current, 1 - d)
        torch._foreach_mul_(averaged, d)
        torch._foreach_add_(averaged, scaled)

    return AveragedModel(generator, multi_avg_fn=average)


def ema_ready(ema: AveragedModel, z_dim: int, n_samples: int | None = None, seed: int = 123) -> AveragedModel:
    """Prépare la copie moyennée pour dessiner, et la renvoie en mode évaluation.

    Les statistiques de BatchNorm ne se moyennent pas comme des poids : on les
    recalcule sur ``n_samples`` bruits (250 en mode rapide, 2 000 sinon), tirés
    d'un générateur aléatoire à part (graine ``seed``) pour ne pas déranger
    l'aléa de l'entraînement. Rappelez ``ema.train()`` avant de reprendre les
    ``update_parameters``.
    """
    n_samples = n_samples or quick_or_full(250, 2000)
    device = next(ema.module.parameters()).device
    noise = torch.Generator(device=device).manual_seed(seed)
    batches = (torch.randn(250, z_dim, device=device, generator=noise) for _ in range(max(n_samples // 250, 1)))
    update_bn(batches, ema)
    return ema.eval()


# ---------------------------------------------------------------------------
# La comptabilité d'une boucle d'entraînement (jour 1)
# ---------------------------------------------------------------------------


class TrainingLog:
    """Historique, barre de progression, TensorBoard et grilles du bruit fixe d'un entraînement.

    La boucle reste écrite dans le notebook ; cet objet tient ses comptes ::

        log = TrainingLog(total_steps, name="train_gan_images", desc="Entraînement")
        for real in ...:
            values = train_step(real, ...)
            log.record(values)               # historique ; TensorBoard et barre toutes les 50 étapes
        log.frame(images, "époque 1")        # garde la grille du bruit fixe (animation, progression)
        log.publish(images, "Époque 1")      # l'écrit dans TensorBoard et l'affiche
        log.close()

    Attributs : ``history`` (un dictionnaire de listes, une valeur par étape),
    ``step`` (étapes enregistrées), ``grids`` (les grilles gardées par
    :meth:`frame`, dans l'ordre), ``labels`` (leurs légendes) et ``seconds`` (durée écoulée).
    ``name=None`` : pas de journal TensorBoard ; ``desc=None`` : pas de barre.
    """

    def __init__(self, total_steps: int, name: str | None = None, desc: str | None = "Entraînement",
                 log_every: int = 50):
        self.total_steps = total_steps
        self.log_every = log_every
        self.history: dict[str, list[float]] = {}
        self.grids: list[torch.Tensor] = []
        self.labels: list[str] = []
        self.step = 0
        self.tb = TensorBoardLogger(name) if name else None
        self.bar = progress(total=total_steps, desc=desc) if desc else None
        self._start = time.time()

    @property
    def seconds(self) -> float:
        """Secondes écoulées depuis la création."""
        return time.time() - self._start

    @property
    def done(self) -> bool:
        """Vrai quand ``total_steps`` étapes ont été enregistrées."""
        return self.step >= self.total_steps

    def record(self, values: dict) -> None:
        """Enregistre les valeurs d'une étape (``loss_d``, ``loss_g``...) et avance la barre."""
        for key, value in values.items():
            self.history.setdefault(key, []).append(value)
        self.step += 1
        if self.step % self.log_every == 0:
            if self.tb is not None:
                self.tb.log_scalars(self.step, **values)
            if self.bar is not None:
                self.bar.set_postfix({k: f"{v:.3f}" for k, v in values.items() if k.startswith("loss")})
        if self.bar is not None:
            self.bar.update()

    def frame(self, images: torch.Tensor, label: str | None = None) -> None:
        """Garde une grille d'images (celles du bruit fixe, pour une animation ou une progression)."""
        self.grids.append(images.detach().cpu())
        self.labels.append(label or f"étape {self.step}")

    def publish(self, images: torch.Tensor, title: str, display: bool = True, tag: str = "bruit_fixe",
                nrow: int = 16) -> None:
        """Écrit une grille dans TensorBoard (onglet IMAGES, sous ``tag``) et l'affiche si ``display``.

        ``nrow`` : images par ligne (10 pour la grille 10 × 10 du GAN conditionnel du jour 6).
        """
        if self.tb is not None:
            self.tb.log_images(tag, images, self.step, nrow=nrow)
        if display:
            show_images(images, nrow=nrow, title=title)

    def close(self) -> None:
        """Ferme la barre et le journal TensorBoard."""
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()
