"""Jour 5 : les auto-vérifications de l'autoencodeur, de la reparamétrisation et de la perte
du VAE acceptent la réponse du corrigé et rejettent chaque erreur typique."""

import pytest
import torch
import torch.nn.functional as F
from helpers import AutoEncoder
from torch import nn

from utils import checks
from utils.checks import CheckError

# --- une implémentation correcte (celle du corrigé ; l'autoencodeur : helpers.py) ---


def reparameterize(mu, logvar):
    std = torch.exp(0.5 * logvar)
    return mu + torch.randn_like(std) * std


def vae_loss(recon, x, mu, logvar):
    n = x.shape[0]
    rec = F.binary_cross_entropy(recon, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return rec + kl, rec, kl


def test_autoencoder_check_accepts_the_solution(verdicts):
    checks.check_autoencoder(AutoEncoder())
    assert len(verdicts()) == 1


@pytest.mark.parametrize("model, message", [
    (AutoEncoder(z_dim=3), "encoder : couches 784 → 256 → 128 → 2 attendues"),
    (AutoEncoder(last_act=nn.ReLU()), "borné ou toujours positif"),
    (AutoEncoder(out_act=nn.Tanh()), r"\[0, 1\]"),
    (nn.Sequential(nn.Linear(784, 2)), "self.encoder"),
])
def test_autoencoder_check_rejects(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_autoencoder(model)


def test_reparameterize_check(verdicts):
    checks.check_reparameterize(reparameterize)
    assert len(verdicts()) == 1


@pytest.mark.parametrize("wrong, message", [
    (lambda mu, logvar: mu, "pas de bruit"),
    (lambda mu, logvar: mu + torch.exp(logvar) * torch.randn_like(mu), "variance"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * (torch.rand_like(mu) * 2 - 1), "gaussien"),
    (lambda mu, logvar: (mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)).detach(),
     "coupé le graphe"),
])
def test_reparameterize_check_rejects(wrong, message):
    with pytest.raises(CheckError, match=message):
        checks.check_reparameterize(wrong)


def test_vae_loss_check(verdicts):
    checks.check_vae_loss(vae_loss)
    assert len(verdicts()) == 1


def _mean_pixels(recon, x, mu, logvar):
    total, rec, kl = vae_loss(recon, x, mu, logvar)
    return rec / 784 + kl, rec / 784, kl


def _kl_sign(recon, x, mu, logvar):
    total, rec, kl = vae_loss(recon, x, mu, logvar)
    return rec - kl, rec, -kl


def _kl_mean(recon, x, mu, logvar):
    total, rec, kl = vae_loss(recon, x, mu, logvar)
    return rec + kl / 2, rec, kl / 2


@pytest.mark.parametrize("wrong, message", [
    (_mean_pixels, "moyennée sur les pixels"),
    (_kl_sign, "signe de la KL"),
    (_kl_mean, "moyennée sur les dimensions latentes"),
    (lambda recon, x, mu, logvar: vae_loss(recon, x, mu, logvar)[0], "triplet"),
])
def test_vae_loss_check_rejects(wrong, message):
    with pytest.raises(CheckError, match=message):
        checks.check_vae_loss(wrong)
