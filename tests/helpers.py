"""Ce que plusieurs fichiers de tests partagent et qui n'est pas une fixture.

Surtout les réponses correctes (celles des corrigés, à petite échelle) dont
plusieurs fichiers ont besoin : elles servent aussi dans les paramètres de
``pytest.mark.parametrize``, évalués dès l'import du fichier, avant toute
fixture. Les fixtures, elles, sont dans ``conftest.py``.

Import : ``from helpers import ...`` (pytest, en mode d'import « prepend »,
place le dossier ``tests/`` dans ``sys.path``).
"""

import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.checks import CheckError

#: Les corrigés qui construisent un terrain de jeu interactif (un appel à ``.widget()``), et ce
#: que ``tests/test_browser.py`` y actionne dans le navigateur (« curseur », « bouton »).
PLAYGROUND_ACTIONS = {
    "dynamique/gan_2d_playground.ipynb": ["bouton"],
    "autoencoders/ae_vae_mnist.ipynb": ["curseur"],
    "cgan/cgan_mnist.ipynb": ["curseur", "bouton"],
}


def load_tool(name: str):
    """Importe le script ``tools/<name>.py`` comme un module (``tools/`` n'est pas un paquet)."""
    path = Path(__file__).resolve().parent.parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module   # les dataclasses d'un outil retrouvent leur module
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
               fresh_noise=True, loop=True, log_of_zero=False):
    """La réponse correcte ; chaque option fausse une étape comme le ferait un étudiant
    (``log_of_zero`` : la perte de D contient un log de 0, le pas diverge)."""
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
        if log_of_zero:
            loss_d = loss_d + torch.log(d_real - d_real).mean()
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
                   loss="non_saturating", d_steps=1, zero_grad_d=True, d_loss=None):
    """Le pas du corrigé ; ``zero_grad_d`` et ``d_loss`` (perte de D) servent à fabriquer des fautes."""
    d_loss = d_loss or toy_d_loss
    for _ in range(d_steps):
        real = sample_real(batch_size)
        fake = generator(torch.randn(batch_size, z_dim))
        if zero_grad_d:
            opt_d.zero_grad()
        loss_d = d_loss(discriminator(real), discriminator(fake.detach()), loss)
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


# --- sorties cassées et état d'un modèle (toutes les vérifications de modèles) ---------

NAN = float("nan")


class Broken(nn.Module):
    """Un modèle juste dont ``forward`` abîme la sortie comme le ferait un étudiant :
    ``post(sortie)`` (un NaN, un log de 0, un ``.detach()``...), ou tout le calcul sous
    ``torch.no_grad()``. Le modèle d'origine reste dans ``self.inner``."""

    def __init__(self, inner, post=None, no_grad=False):
        super().__init__()
        self.inner, self.post, self.no_grad = inner, post, no_grad

    def forward(self, x):
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.no_grad):
            out = self.inner(x)
        return self.post(out) if self.post else out


def diverged(model):
    """Le modèle, dont le premier poids est rempli de NaN, comme après un entraînement qui a divergé."""
    with torch.no_grad():
        next(model.parameters()).fill_(NAN)
    return model


def model_state(model):
    """Tout ce qu'une vérification ne doit pas changer : poids et tampons (statistiques des
    BatchNorm), gradients, et mode train/eval de chaque sous-module."""
    return ({k: v.detach().clone() for k, v in model.state_dict().items()},
            {k: None if p.grad is None else p.grad.clone() for k, p in model.named_parameters()},
            {k: m.training for k, m in model.named_modules()})


def lived_in(model):
    """Le modèle tel qu'un notebook le laisse : des gradients du dernier pas, un mode mêlé
    (eval, sauf une couche en train) ; renvoie son état (:func:`model_state`)."""
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.25)
    model.eval()
    list(model.modules())[-1].train()
    return model_state(model)


def assert_same_state(model, before):
    """Affirme que ``model`` est dans l'état ``before`` (:func:`model_state`)."""
    values, grads, modes = model_state(model)
    assert values.keys() == before[0].keys()
    changed = [k for k in values if not torch.equal(values[k], before[0][k])]
    assert not changed, f"poids ou tampons modifiés : {changed}"
    changed = [k for k in grads if (grads[k] is None) != (before[1][k] is None)
               or (grads[k] is not None and not torch.equal(grads[k], before[1][k]))]
    assert not changed, f"gradients modifiés : {changed}"
    assert modes == before[2], "mode train/eval modifié"


def assert_check_leaves_model_untouched(check, model, good: bool, **kwargs):
    """Lance ``check(model, **kwargs)`` sur un modèle « habité » (:func:`lived_in`) : elle passe
    (``good``) ou lève CheckError, et le modèle est ensuite exactement dans son état d'avant."""
    before = lived_in(model)
    if good:
        check(model, **kwargs)
    else:
        with pytest.raises(CheckError):
            check(model, **kwargs)
    assert_same_state(model, before)
