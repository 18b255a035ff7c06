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
* **jour 3** (``02_labs/dcgan/dcgan_mnist.ipynb``) : le lissage unilatéral des
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

import time

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, update_bn

from .plots import show_images
from .runtime import quick_or_full
from .tracking import TensorBoardLogger, progress

__all__ = [
    "Discriminator", "Generator", "TrainingLog", "discriminator_loss", "ema_ready",
    "generator_loss", "init_weights", "make_ema", "train_step",
]

# ---------------------------------------------------------------------------
# Les réseaux du jour 1
# ---------------------------------------------------------------------------


class Discriminator(nn.Module):
    """Discriminateur entièrement connecté du jour 1 (exercice 1).

    Image (N, 1, 28, 28) aplatie en 784 valeurs → couches cachées ``hidden``,
    chacune suivie de ``LeakyReLU(0,2)`` et ``Dropout(dropout)`` → une
    probabilité (N, 1) par ``Sigmoid``.
    """

    def __init__(self, hidden=(512, 256, 128), dropout=0.1):
        super().__init__()
        layers = [nn.Flatten()]
        in_features = 28 * 28
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
    forme d'image (N, 1, 28, 28) dans [-1, 1].
    """

    def __init__(self, z_dim=64, hidden=(256, 512, 1024)):
        super().__init__()
        layers = []
        in_features = z_dim
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.LeakyReLU(0.2)]
            in_features = width
        layers += [nn.Linear(in_features, 28 * 28), nn.Tanh(), nn.Unflatten(1, (1, 28, 28))]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


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

    def publish(self, images: torch.Tensor, title: str, display: bool = True, tag: str = "bruit_fixe") -> None:
        """Écrit une grille dans TensorBoard (onglet IMAGES, sous ``tag``) et l'affiche si ``display``."""
        if self.tb is not None:
            self.tb.log_images(tag, images, self.step)
        if display:
            show_images(images, nrow=16, title=title)

    def close(self) -> None:
        """Ferme la barre et le journal TensorBoard."""
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()
