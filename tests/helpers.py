"""Ce que plusieurs fichiers de tests partagent et qui n'est pas une fixture.

Surtout les réponses correctes (celles des corrigés, à petite échelle) dont
plusieurs fichiers ont besoin : elles servent aussi dans les paramètres de
``pytest.mark.parametrize``, évalués dès l'import du fichier, avant toute
fixture. Les fixtures, elles, sont dans ``conftest.py``.

Import : ``from helpers import ...`` (pytest, en mode d'import « prepend »,
place le dossier ``tests/`` dans ``sys.path``).
"""

import importlib.util
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def load_tool(name: str):
    """Importe le script ``tools/<name>.py`` comme un module (``tools/`` n'est pas un paquet)."""
    path = Path(__file__).resolve().parent.parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def global_rng_untouched():
    """Affirme que le bloc ne consomme ni ne change l'aléa global de torch (celui du notebook)."""
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    yield
    assert torch.equal(torch.rand(3), expected), "le bloc a consommé ou changé l'aléa global"


# --- jour 1 : pertes et pas d'entraînement (repris au jour 3) -------------------

BCE = nn.BCELoss()


def d_loss(d_real, d_fake, real_label=1.0):
    return BCE(d_real, torch.full_like(d_real, real_label)) + BCE(d_fake, torch.zeros_like(d_fake))


def g_loss(d_fake):
    return BCE(d_fake, torch.ones_like(d_fake))


def train_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label=1.0, d_steps=1,
               resample=False, zero_grad=True, detach=True, step_d=True, use_label=True,
               fresh_noise=True, loop=True):
    """La réponse correcte ; chaque option fausse une étape comme le ferait un étudiant."""
    z = None
    for _ in range(d_steps if loop else 1):
        if fresh_noise or z is None:
            z = torch.randn(real.shape[0], z_dim, device=real.device)
        fake = generator(z)
        if zero_grad:
            opt_d.zero_grad()
        d_real = discriminator(real)
        d_fake = discriminator(fake.detach() if detach else fake)
        loss_d = d_loss(d_real, d_fake, real_label if use_label else 1.0)
        loss_d.backward()
        if step_d:
            opt_d.step()
    if resample:
        fake = generator(torch.randn(real.shape[0], z_dim, device=real.device))
    if zero_grad:
        opt_g.zero_grad()
    loss_g = g_loss(discriminator(fake))
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
            "d_real": d_real.mean().item(), "d_fake": d_fake.mean().item()}


# --- jour 2 : le GAN jouet (module utils.toy2d et ses vérifications) -----------

def make_mlp(n_in, n_out, hidden=32, n_hidden=2, act=nn.ReLU, out_act=None):
    layers, width = [], n_in
    for _ in range(n_hidden):
        layers += [nn.Linear(width, hidden), act()]
        width = hidden
    layers.append(nn.Linear(width, n_out))
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


def toy_d_loss(real_out, fake_out, kind="non_saturating"):
    if kind == "least_squares":
        return 0.5 * ((real_out - 1) ** 2).mean() + 0.5 * (fake_out ** 2).mean()
    return (F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out))
            + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))


def toy_g_loss(fake_out, kind="non_saturating"):
    if kind == "least_squares":
        return 0.5 * ((fake_out - 1) ** 2).mean()
    if kind == "saturating":
        return -F.softplus(fake_out).mean()
    return F.softplus(-fake_out).mean()


def toy_train_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                   loss="non_saturating", d_steps=1, zero_grad_d=True):
    for _ in range(d_steps):
        real = sample_real(batch_size)
        fake = generator(torch.randn(batch_size, z_dim))
        if zero_grad_d:
            opt_d.zero_grad()
        loss_d = toy_d_loss(discriminator(real), discriminator(fake.detach()), loss)
        loss_d.backward()
        opt_d.step()
    fake = generator(torch.randn(batch_size, z_dim))
    opt_g.zero_grad()
    loss_g = toy_g_loss(discriminator(fake), loss)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}


# --- jour 5 : l'autoencodeur (module utils.latent et ses vérifications) --------

class AutoEncoder(nn.Module):
    def __init__(self, z_dim=2, last_act=None, out_act=None):
        super().__init__()
        encoder = [nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                   nn.Linear(128, z_dim)]
        self.encoder = nn.Sequential(*encoder, *([last_act] if last_act else []))
        self.decoder = nn.Sequential(nn.Linear(z_dim, 128), nn.ReLU(), nn.Linear(128, 256),
                                     nn.ReLU(), nn.Linear(256, 784), out_act or nn.Sigmoid(),
                                     nn.Unflatten(1, (1, 28, 28)))

    def forward(self, x):
        return self.decoder(self.encoder(x))
