"""Jour 1 : les auto-vérifications du GAN entièrement connecté acceptent une bonne réponse
et rejettent chaque erreur typique avec le bon message."""

import pytest
import torch
from helpers import BCE, d_loss, g_loss, global_rng_untouched, train_step
from torch import nn

from utils import checks
from utils.checks import CheckError

# --- réponses correctes (celles du corrigé ; pertes et pas d'entraînement : helpers.py) ---

def make_discriminator(hidden=(64, 32, 16), dropout=0.3, sigmoid=True, flatten=True):
    layers = [nn.Flatten()] if flatten else []
    size = 784
    for width in hidden:
        layers += [nn.Linear(size, width), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
        size = width
    layers += [nn.Linear(size, 1)] + ([nn.Sigmoid()] if sigmoid else [])
    return nn.Sequential(*layers)


def make_generator(z_dim=64, hidden=(32, 32, 32), out_act=None, unflatten=True):
    layers, size = [], z_dim
    for width in hidden:
        layers += [nn.Linear(size, width), nn.BatchNorm1d(width), nn.LeakyReLU(0.2)]
        size = width
    layers += [nn.Linear(size, 784), out_act or nn.Tanh()]
    if unflatten:
        layers.append(nn.Unflatten(1, (1, 28, 28)))
    return nn.Sequential(*layers)


def test_correct_answers_pass(verdicts):
    checks.check_discriminator(make_discriminator())
    checks.check_generator(make_generator(), z_dim=64)
    checks.check_discriminator_loss(d_loss)
    checks.check_generator_loss(g_loss)
    checks.check_train_step(train_step)
    checks.check_train_step(lambda *a, **k: train_step(*a, **k, resample=True))  # nouveau bruit pour G : accepté
    assert len(verdicts()) == 6


def test_verdict_is_deterministic(verdicts):
    checks.check_discriminator_loss(d_loss)
    first = verdicts()
    checks.check_discriminator_loss(d_loss)
    assert verdicts() == first


def test_checks_do_not_touch_notebook_randomness():
    generator = make_generator()
    with global_rng_untouched():
        checks.check_train_step(train_step)
        checks.check_generator(generator)


# --- discriminateur ----------------------------------------------------------

@pytest.mark.parametrize("model, message", [
    (make_discriminator(hidden=(64, 32)), "4 couches nn.Linear attendues"),
    (make_discriminator(sigmoid=False), "Terminez par nn.Sigmoid"),
    (make_discriminator(flatten=False), "784 pour une image aplatie"),
    (make_discriminator(dropout=0.0), "le Dropout n'est pas appliqué"),
    (nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.ReLU(), nn.Dropout(), nn.Linear(8, 8),
                   nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid()),
     "aucune couche LeakyReLU"),
    (nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.LeakyReLU(), nn.Linear(8, 8),
                   nn.LeakyReLU(), nn.Linear(8, 8), nn.LeakyReLU(), nn.Linear(8, 1), nn.Sigmoid()),
     "aucune couche Dropout"),
])
def test_discriminator_errors(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_discriminator(model)


def test_discriminator_class_instead_of_instance():
    with pytest.raises(CheckError, match="pas la classe"):
        checks.check_discriminator(nn.Sequential)


def test_discriminator_wrong_output_shape_says_expected_and_got():
    class TwoOutputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make_discriminator()
            self.extra = nn.Linear(1, 1)  # 5 couches Linear au total : on teste la forme à part

        def forward(self, x):
            return self.net(x).repeat(1, 2)

    with pytest.raises(CheckError) as info:
        checks.check_discriminator(TwoOutputs(), n_hidden=4)
    assert "(16, 1) attendue" in str(info.value) and "reçue (16, 2)" in str(info.value)


def test_discriminator_error_inside_forward_is_translated():
    broken = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                           nn.Linear(32, 16), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                           nn.Linear(16, 8), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                           nn.Linear(8, 1), nn.Sigmoid())
    with pytest.raises(CheckError) as info:
        checks.check_discriminator(broken)
    text = str(info.value)
    assert "a levé une erreur : RuntimeError" in text
    assert "in_features est égal au out_features" in text


def test_stub_still_raising_is_reported():
    class Stub(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make_discriminator()

        def forward(self, x):
            raise NotImplementedError("Exercice 1")

    with pytest.raises(CheckError, match="pas encore écrit"):
        checks.check_discriminator(Stub())


# --- générateur --------------------------------------------------------------

@pytest.mark.parametrize("model, kwargs, message", [
    (make_generator(unflatten=False), {}, "nn.Unflatten"),
    (make_generator(out_act=nn.Sigmoid()), {}, "nn.Tanh"),
    (make_generator(out_act=nn.Identity()), {}, "Terminez par nn.Tanh"),
    (make_generator(z_dim=100), {"z_dim": 64}, "doit recevoir 64 valeurs"),
    (make_generator(hidden=(32, 32)), {}, "4 couches nn.Linear attendues"),
])
def test_generator_errors(model, kwargs, message):
    with pytest.raises(CheckError, match=message):
        checks.check_generator(model, **kwargs)


def test_generator_ignoring_z():
    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make_generator()

        def forward(self, z):
            return self.net(torch.zeros_like(z))

    with pytest.raises(CheckError, match="ne dépend pas de z"):
        checks.check_generator(Constant())


# --- pertes ------------------------------------------------------------------

@pytest.mark.parametrize("fn, message", [
    (lambda r, f: BCE(r, torch.zeros_like(r)) + BCE(f, torch.ones_like(f)), "étiquettes sont inversées"),
    (lambda r, f: BCE(r, torch.ones_like(r)), "il manque le terme des images générées"),
    (lambda r, f: d_loss(r, f) / 2, "la moitié de la référence"),
    (lambda r, f: -d_loss(r, f), "le signe est inversé"),
    (lambda r, f: nn.BCELoss(reduction="sum")(r, torch.ones_like(r))
     + nn.BCELoss(reduction="sum")(f, torch.zeros_like(f)), "sommées sur le lot"),
    (lambda r, f: nn.BCELoss(reduction="none")(r, torch.ones_like(r)), "doit renvoyer un scalaire"),
    (lambda r, f: d_loss(r, f).item(), "doit renvoyer un tenseur"),
    (lambda r, f: d_loss(r, f).detach(), "coupé le graphe"),
    (lambda r, f: d_loss(r, f) + 0.3, "au lieu de"),
    (lambda r, f: d_loss(r, f, 0.9), "le lissage à 0,9 n'est pas demandé ici"),
])
def test_discriminator_loss_errors(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_discriminator_loss(fn)


@pytest.mark.parametrize("fn, message", [
    (lambda f: torch.log(1 - f).mean(), "perte saturante"),
    (lambda f: BCE(f, torch.zeros_like(f)), "la cible est 0"),
    (lambda f: -g_loss(f), "le signe est inversé"),
    (lambda f: g_loss(f) * 3, "au lieu de"),
])
def test_generator_loss_errors(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_generator_loss(fn)


def test_loss_error_says_how_far():
    with pytest.raises(CheckError) as info:
        checks.check_generator_loss(lambda f: g_loss(f) + 0.25)
    assert "écart +0.2500" in str(info.value)


# --- pas d'entraînement ------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"zero_grad": False}, "zero_grad"),
    ({"detach": False}, "fake.detach"),
    ({"step_d": False}, "discriminateur n'ont pas bougé"),
])
def test_train_step_errors(kwargs, message):
    with pytest.raises(CheckError, match=message):
        checks.check_train_step(lambda *a, **k: train_step(*a, **k, **kwargs))


def test_train_step_must_return_floats():
    def returns_tensors(*args, **kwargs):
        result = train_step(*args, **kwargs)
        return {k: torch.tensor(v) for k, v in result.items()}

    with pytest.raises(CheckError, match=r"\.item\(\)"):
        checks.check_train_step(returns_tensors)


def test_train_step_missing_key():
    def missing(*args, **kwargs):
        result = train_step(*args, **kwargs)
        result.pop("d_fake")
        return result

    with pytest.raises(CheckError, match="d_fake"):
        checks.check_train_step(missing)


def test_train_step_generator_not_updated():
    def no_g_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label=1.0):
        z = torch.randn(real.shape[0], z_dim)
        opt_d.zero_grad()
        d_real, d_fake = discriminator(real), discriminator(generator(z).detach())
        loss = d_loss(d_real, d_fake, real_label)
        loss.backward()
        opt_d.step()
        return {"loss_d": loss.item(), "loss_g": 0.0, "d_real": d_real.mean().item(),
                "d_fake": d_fake.mean().item()}

    with pytest.raises(CheckError, match="générateur n'ont pas bougé"):
        checks.check_train_step(no_g_step)


def test_train_step_with_generator_and_discriminator_swapped():
    def swapped(real, discriminator, generator, opt_d, opt_g, z_dim):
        return train_step(real, generator, discriminator, opt_g, opt_d, z_dim)

    with pytest.raises(CheckError, match="les paramètres sont dans le désordre"):
        checks.check_train_step(swapped)
