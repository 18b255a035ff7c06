"""Les auto-vérifications acceptent une bonne réponse et rejettent chaque erreur typique
avec le bon message."""

import pytest
import torch
from torch import nn

from utils import checks
from utils.checks import CheckError

BCE = nn.BCELoss()


# --- réponses correctes (celles du corrigé) --------------------------------

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


def test_correct_answers_pass(capsys):
    checks.check_discriminator(make_discriminator())
    checks.check_generator(make_generator(), z_dim=64)
    checks.check_discriminator_loss(d_loss)
    checks.check_discriminator_loss(d_loss, test_real_label=True)
    checks.check_generator_loss(g_loss)
    checks.check_train_step(train_step)
    checks.check_train_step(train_step, real_label=0.9)
    checks.check_train_step(lambda *a, **k: train_step(*a, **k, resample=True))  # nouveau bruit pour G : accepté
    out = capsys.readouterr().out
    assert out.count("✅") == 8 and "❌" not in out


def test_verdict_is_deterministic(capsys):
    checks.check_discriminator_loss(d_loss)
    first = capsys.readouterr().out
    checks.check_discriminator_loss(d_loss)
    assert capsys.readouterr().out == first


def test_checks_do_not_touch_notebook_randomness():
    generator = make_generator()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    checks.check_train_step(train_step)
    checks.check_generator(generator)
    assert torch.equal(torch.rand(3), expected)


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
    (lambda r, f, real_label=1.0: d_loss(r, f), "real_label est ignoré"),
    (lambda r, f: d_loss(r, f), "accepter le paramètre real_label"),
])
def test_smoothed_discriminator_loss_errors(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_discriminator_loss(fn, test_real_label=True)


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


def test_train_step_ignoring_real_label():
    with pytest.raises(CheckError, match="ignore real_label"):
        checks.check_train_step(lambda *a, **k: train_step(*a, **k, use_label=False), real_label=0.9)


def test_train_step_must_return_floats():
    def returns_tensors(*args, **kwargs):
        result = train_step(*args, **kwargs)
        return {k: torch.tensor(v) for k, v in result.items()}

    with pytest.raises(CheckError, match=r"\.item\(\)"):
        checks.check_train_step(returns_tensors)


def test_train_step_without_real_label_parameter():
    def old_signature(real, generator, discriminator, opt_g, opt_d, z_dim):
        return train_step(real, generator, discriminator, opt_g, opt_d, z_dim)

    with pytest.raises(CheckError, match="accepter le paramètre real_label"):
        checks.check_train_step(old_signature, real_label=0.9)


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
