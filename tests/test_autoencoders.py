"""Jour 5 : exploration du plan latent et auto-vérifications de l'AE et du VAE."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import checks
from utils.checks import CheckError
from utils.latent import LatentExplorer, decode_point, latent_grid

# --- une implémentation correcte (celle du corrigé) -----------------------------


class AutoEncoder(nn.Module):
    def __init__(self, latent_dim=2, last_act=None, out_act=None):
        super().__init__()
        encoder = [nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                   nn.Linear(128, latent_dim)]
        self.encoder = nn.Sequential(*encoder, *([last_act] if last_act else []))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, 128), nn.ReLU(), nn.Linear(128, 256),
                                     nn.ReLU(), nn.Linear(256, 784), out_act or nn.Sigmoid(),
                                     nn.Unflatten(1, (1, 28, 28)))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def reparameterize(mu, logvar):
    std = torch.exp(0.5 * logvar)
    return mu + torch.randn_like(std) * std


def vae_loss(recon, x, mu, logvar):
    n = x.shape[0]
    rec = F.binary_cross_entropy(recon, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return rec + kl, rec, kl


# --- le plan latent ------------------------------------------------------------

def test_decode_point_and_grid():
    decoder = AutoEncoder().decoder
    image = decode_point(decoder, 0.5, -1.0)
    assert image.shape == (28, 28) and 0 <= image.min() and image.max() <= 1
    grid = latent_grid(decoder, n=5, limit=2.0)
    assert grid.shape == (25, 1, 28, 28)
    # En haut à gauche : z1 = -2, z2 = +2 ; en bas à droite : z1 = +2, z2 = -2.
    assert torch.allclose(grid[0, 0], decode_point(decoder, -2.0, 2.0))
    assert torch.allclose(grid[24, 0], decode_point(decoder, 2.0, -2.0))
    assert decoder.training, "le décodeur doit retrouver son mode d'entraînement"
    with pytest.raises(ValueError, match="au moins 2"):
        latent_grid(decoder, n=1)


def test_decode_rejects_a_decoder_with_the_wrong_output():
    with pytest.raises(ValueError, match="image 28×28 par point"):
        decode_point(nn.Linear(2, 10), 0.0, 0.0)


def test_latent_explorer_logic_and_widget():
    decoder = AutoEncoder().decoder
    explorer = LatentExplorer(decoder)
    image = explorer.update(1.0, 2.0)
    assert explorer.point == (1.0, 2.0)
    assert torch.allclose(image, decode_point(decoder, 1.0, 2.0))
    panel = explorer.widget()
    first = bytes(explorer.image.value)
    assert first.startswith(b"\x89PNG")
    panel.sliders[0].value = -2.5
    assert explorer.point == (-2.5, 0.0)
    assert bytes(explorer.image.value) != first


# --- les vérifications ------------------------------------------------------------

def test_autoencoder_check_accepts_the_solution(capsys):
    checks.check_autoencoder(AutoEncoder())
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("model, message", [
    (AutoEncoder(latent_dim=3), "encoder : couches 784 → 256 → 128 → 2 attendues"),
    (AutoEncoder(last_act=nn.ReLU()), "borné ou toujours positif"),
    (AutoEncoder(out_act=nn.Tanh()), r"\[0, 1\]"),
    (nn.Sequential(nn.Linear(784, 2)), "self.encoder"),
])
def test_autoencoder_check_rejects(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_autoencoder(model)


def test_reparameterize_check(capsys):
    checks.check_reparameterize(reparameterize)
    assert "✅" in capsys.readouterr().out


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


def test_vae_loss_check(capsys):
    checks.check_vae_loss(vae_loss)
    assert "✅" in capsys.readouterr().out


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
