"""Jour 1 : les auto-vérifications du GAN entièrement connecté acceptent une bonne réponse
et rejettent chaque erreur typique avec le bon message."""

import pytest
import torch
from helpers import (
    BCE,
    NAN,
    Broken,
    assert_check_leaves_model_untouched,
    d_loss,
    diverged,
    g_loss,
    global_rng_untouched,
    train_step,
)
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


# --- réseaux : ce que l'énoncé demande et qu'une première version laissait passer -----------

def arg_discriminator(make_dropout=None, fixed_hidden=None):
    """Un discriminateur écrit comme dans le lab (arguments hidden et dropout), avec une erreur au choix."""

    class Discriminator(nn.Module):
        def __init__(self, hidden=(64, 32, 16), dropout=0.1):
            super().__init__()
            layers, size = [nn.Flatten()], 784
            for width in fixed_hidden or hidden:
                drop = make_dropout() if make_dropout else nn.Dropout(dropout)
                layers += [nn.Linear(size, width), nn.LeakyReLU(0.2), drop]
                size = width
            self.net = nn.Sequential(*layers, nn.Linear(size, 1), nn.Sigmoid())

        def forward(self, x):
            return self.net(x)

    return Discriminator()


def arg_generator(fixed_z_dim=None, fixed_hidden=None):
    """Un générateur écrit comme dans le lab (arguments z_dim et hidden), avec une erreur au choix."""

    class Generator(nn.Module):
        def __init__(self, z_dim=64, hidden=(32, 32, 32)):
            super().__init__()
            layers, size = [], fixed_z_dim or z_dim
            for width in fixed_hidden or hidden:
                layers += [nn.Linear(size, width), nn.BatchNorm1d(width), nn.LeakyReLU(0.2)]
                size = width
            self.net = nn.Sequential(*layers, nn.Linear(size, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))

        def forward(self, z):
            return self.net(z)

    return Generator()


class ExplicitDiscriminator(nn.Module):
    """Couches appelées une à une, une seule LeakyReLU réutilisée, sigmoïde fonctionnelle : accepté."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(784, 64), nn.Linear(64, 32), nn.Linear(32, 16)])
        self.out = nn.Linear(16, 1)
        self.act, self.drop = nn.LeakyReLU(0.2), nn.Dropout(0.1)

    def forward(self, x):
        x = x.view(x.shape[0], -1)
        for layer in self.layers:
            x = self.drop(self.act(layer(x)))
        return torch.sigmoid(self.out(x))


class ExplicitGenerator(nn.Module):
    """Couches appelées une à une, tanh fonctionnel et view : accepté."""

    def __init__(self, z_dim=64):
        super().__init__()
        self.fc = nn.ModuleList([nn.Linear(z_dim, 32), nn.Linear(32, 32), nn.Linear(32, 32)])
        self.bn = nn.ModuleList([nn.BatchNorm1d(32) for _ in range(3)])
        self.out, self.act = nn.Linear(32, 784), nn.LeakyReLU(0.2)

    def forward(self, z):
        for fc, bn in zip(self.fc, self.bn):
            z = self.act(bn(fc(z)))
        return torch.tanh(self.out(z)).view(-1, 1, 28, 28)


def generator_layers(*hidden_block, out=(nn.Tanh,), z_dim=64):
    """Un générateur Sequential dont chaque couche cachée est Linear suivie de ``hidden_block``."""
    layers, size = [], z_dim
    for width in (32, 32, 32):
        layers += [nn.Linear(size, width)] + [make(width) for make in hidden_block]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, 784), *[make() for make in out],
                         nn.Unflatten(1, (1, 28, 28)))


def bn(width):
    return nn.BatchNorm1d(width)


def leaky(width=None):
    return nn.LeakyReLU(0.2)


def test_reasonable_network_variants_pass(verdicts):
    from utils.gan import Discriminator, Generator

    checks.check_discriminator(arg_discriminator())
    checks.check_discriminator(ExplicitDiscriminator())
    dropout_first = nn.Sequential(nn.Flatten(), *[m for w_in, w in ((784, 64), (64, 32), (32, 16))
                                                  for m in (nn.Linear(w_in, w), nn.Dropout(0.1),
                                                            nn.LeakyReLU(0.2))],
                                  nn.Linear(16, 1), nn.Sigmoid())
    checks.check_discriminator(dropout_first)  # Dropout puis LeakyReLU : le même calcul
    checks.check_discriminator(Discriminator())
    checks.check_generator(arg_generator())
    checks.check_generator(ExplicitGenerator())
    checks.check_generator(Generator())
    assert len(verdicts()) == 7


@pytest.mark.parametrize("model, message", [
    (make_discriminator(dropout=0.1).apply(lambda m: setattr(m, "negative_slope", 0.01)
                                           if isinstance(m, nn.LeakyReLU) else None),
     r"pente de 0.01.*nn.LeakyReLU\(\) sans argument.*nn.LeakyReLU\(0.2\)"),
    (arg_discriminator(make_dropout=nn.Dropout), r"p = 0.5.*nn.Dropout\(\) sans argument.*nn.Dropout\(dropout\)"),
    (arg_discriminator(make_dropout=lambda: nn.Dropout(0.1)), "le taux est écrit en dur"),
    (arg_discriminator(fixed_hidden=(64, 32, 16)), "le paramètre hidden n'est pas utilisé"),
    (nn.Sequential(*make_discriminator(sigmoid=False), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Sigmoid()),
     r"couche de sortie nn.Linear\(16, 1\) doit être suivie de nn.Sigmoid\(\) seulement.*LeakyReLU → Dropout"),
    (nn.Sequential(nn.Dropout(0.1), *make_discriminator()), "avant elle, on trouve Dropout"),
    (nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Linear(64, 32),
                   nn.LeakyReLU(0.2), nn.Linear(32, 16), nn.LeakyReLU(0.2), nn.Dropout(0.1),
                   nn.Linear(16, 1), nn.Sigmoid()),
     r"la couche cachée 2, nn.Linear\(64, 32\).*suivie de : LeakyReLU\."),
    (nn.Sequential(*make_discriminator(sigmoid=False), nn.Softmax(dim=1)), "nn.Softmax sur une seule valeur"),
])
def test_discriminator_details(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_discriminator(model)


def test_generator_with_last_layer_left_linear_in_range():
    model = make_generator(out_act=nn.Identity())
    with torch.no_grad():
        [m for m in model if isinstance(m, nn.Linear)][-1].weight.mul_(0.01)  # la sortie reste dans [-1, 1] par hasard : sans tanh, elle devrait échouer
    with pytest.raises(CheckError, match=r"renvoyée telle quelle.*Terminez par nn.Tanh\(\)"):
        checks.check_generator(model)


@pytest.mark.parametrize("model, message", [
    (generator_layers(leaky), r"aucune couche BatchNorm1d.*Linear → BatchNorm1d → LeakyReLU"),
    (generator_layers(leaky, bn), r"la BatchNorm1d vient après la LeakyReLU"),
    (generator_layers(bn, leaky, lambda w: nn.Dropout(0.1)), "il contient un nn.Dropout"),
    (generator_layers(bn, leaky, out=(nn.Hardtanh,)), "nn.Hardtanh coupe net"),
    (generator_layers(bn, lambda w: nn.LeakyReLU()), r"pente de 0.01.*nn.LeakyReLU\(0.2\)"),
    (generator_layers(nn.BatchNorm2d, leaky), r"utilisez nn.BatchNorm1d\(taille\)"),
    (generator_layers(lambda w: nn.BatchNorm1d(16), leaky), "n'a pas la taille de la couche qui la précède"),
    (generator_layers(bn, leaky, out=(lambda: nn.BatchNorm1d(784), nn.Tanh)),
     r"couche de sortie nn.Linear\(32, 784\) doit être suivie de nn.Tanh\(\) seulement.*BatchNorm1d → Tanh"),
    (generator_layers(lambda w: nn.BatchNorm1d(w, 0.8), leaky), "pas momentum"),
    (generator_layers(bn, leaky, out=(leaky, nn.Tanh)), r"suivie de : LeakyReLU → Tanh"),
    (arg_generator(fixed_z_dim=64), "le paramètre z_dim n'est pas utilisé"),
    (arg_generator(fixed_hidden=(32, 32, 32)), "le paramètre hidden n'est pas utilisé"),
])
def test_generator_details(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_generator(model)


# --- pertes : messages qui disent ce que l'étudiant a écrit ------------------------------------

def value_v_itself(d_real, d_fake):
    return torch.log(d_real).mean() + torch.log(1 - d_fake).mean()


def minus_bce(d_real, d_fake):
    return -(BCE(d_real, torch.ones_like(d_real)) + BCE(d_fake, torch.zeros_like(d_fake)))


def hand_written_d_loss(d_real, d_fake):
    return -(torch.log(d_real) + torch.log(1 - d_fake)).mean()


def item_on_real_term(d_real, d_fake):
    return BCE(d_real, torch.ones_like(d_real)).item() + BCE(d_fake, torch.zeros_like(d_fake))


def detach_on_fake_term(d_real, d_fake):
    return BCE(d_real, torch.ones_like(d_real)) + BCE(d_fake.detach(), torch.zeros_like(d_fake))


def rebuilt_tensor(d_real, d_fake):
    return torch.tensor(d_loss(d_real, d_fake).item(), requires_grad=True)


def bce_loss_constructed_with_data(d_real, d_fake):
    return nn.BCELoss(d_real, torch.ones_like(d_real)) + nn.BCELoss(d_fake, torch.zeros_like(d_fake))


def test_loss_variants_pass(verdicts):
    checks.check_discriminator_loss(hand_written_d_loss)
    checks.check_generator_loss(lambda f: -torch.log(f).mean())
    checks.check_discriminator_loss(lambda r, f: torch.nn.functional.binary_cross_entropy(r, torch.ones_like(r))
                                    + torch.nn.functional.binary_cross_entropy(f, torch.zeros_like(f)))
    assert len(verdicts()) == 3


def test_v_itself_is_not_told_to_remove_a_minus():
    with pytest.raises(CheckError) as info:
        checks.check_discriminator_loss(value_v_itself)
    text = str(info.value)
    assert "le signe est inversé" in text and "V(D, G)" in text and "mettez un moins devant" in text
    assert "ne mettez pas de moins" not in text


def test_minus_in_front_of_bce_is_told_to_remove_it():
    with pytest.raises(CheckError, match="ne mettez pas de moins devant les BCE"):
        checks.check_discriminator_loss(minus_bce)


@pytest.mark.parametrize("fn, message", [
    (lambda r, f: d_loss(r, torch.zeros_like(f)) - d_loss(torch.ones_like(r), f),
     "le terme des images générées a le mauvais signe"),
    (lambda r, f: d_loss(torch.ones_like(r), f) - d_loss(r, torch.zeros_like(f)),
     "le terme des images réelles a le mauvais signe"),
    (item_on_real_term, r"le terme des images réelles, BCE\(d_real, 1\), ne transmet aucun gradient.*"
                        r"\.item\(\) ou un \.detach\(\)"),
    (detach_on_fake_term, r"le terme des images générées, BCE\(d_fake, 0\), ne transmet aucun gradient"),
    (rebuilt_tensor, "recréé hors du graphe"),
    (lambda r, f: torch.nn.functional.binary_cross_entropy_with_logits(r, torch.ones_like(r))
     + torch.nn.functional.binary_cross_entropy_with_logits(f, torch.zeros_like(f)), "seconde sigmoïde"),
    (lambda r, f: BCE(torch.ones_like(r), r) + BCE(torch.zeros_like(f), f), "arguments de la BCE sont inversés"),
    (lambda r, f: torch.nn.functional.mse_loss(r, torch.ones_like(r))
     + torch.nn.functional.mse_loss(f, torch.zeros_like(f)), "erreur quadratique"),
    (bce_loss_constructed_with_data, r"crée une nouvelle fonction de perte.*bce = nn.BCELoss\(\)"),
    (lambda r, f: BCE(r, 1) + BCE(f, 0), "pas un nombre"),
    (lambda r, f: BCE(r, torch.ones(r.shape[0])) + BCE(f, torch.zeros(f.shape[0])),
     "même forme que la prédiction"),
    (lambda r, f: -(torch.log(r) + torch.log(1 - f)), r"\.mean\(\)"),
])
def test_discriminator_loss_details(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_discriminator_loss(fn)


def log_d_without_minus(d_fake):
    return torch.log(d_fake).mean()


def minus_log_one_minus_d(d_fake):
    return -torch.log(1 - d_fake).mean()


def minus_bce_g(d_fake):
    return -BCE(d_fake, torch.ones_like(d_fake))


@pytest.mark.parametrize("fn, message", [
    (log_d_without_minus, r"vous renvoyez log D\(G\(z\)\).*mettez un moins devant"),
    (minus_bce_g, "ne mettez pas de moins devant"),
    (minus_log_one_minus_d, r"vous renvoyez −log\(1 − D\(G\(z\)\)\).*aiderait D"),
    (lambda f: -BCE(f, torch.zeros_like(f)), "perte saturante"),
    (lambda f: torch.nn.functional.binary_cross_entropy_with_logits(f, torch.ones_like(f)), "seconde sigmoïde"),
    (lambda f: BCE(torch.ones_like(f), f), "arguments de la BCE sont inversés"),
    (lambda f: torch.nn.functional.mse_loss(f, torch.ones_like(f)), "erreur quadratique"),
    (lambda f: -torch.log(f), r"\.mean\(\)"),
    (lambda f: -torch.log(f).sum(), "sommées sur le lot"),
])
def test_generator_loss_details(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_generator_loss(fn)


# --- pas d'entraînement : la ligne fautive, dans les mots de l'énoncé --------------------------

def student_step(real, generator, discriminator, opt_g, opt_d, z_dim=64, *, mistake=""):
    """La réponse du corrigé, écrite comme un étudiant, avec une erreur au choix (``mistake``)."""
    draw = torch.rand if mistake == "uniform noise" else torch.randn
    noise_dim = 64 if mistake == "global Z_DIM" else z_dim
    z = draw(real.shape[0], noise_dim, device=real.device)
    fake = generator(z)
    if mistake == "loss_g before D step":
        early_loss_g = g_loss(discriminator(fake))

    if mistake not in ("zero_grad after backward (D)", "zero_grad after step (D)"):
        opt_d.zero_grad()
    d_real = discriminator(real)
    d_fake = discriminator(fake if mistake in ("no detach, new fake for G", "no detach, retain_graph")
                           else fake.detach())
    if mistake == "D on real only":
        loss_d = BCE(d_real, torch.ones_like(d_real))
    elif mistake == "swapped arguments":
        loss_d = d_loss(d_fake, d_real)
    elif mistake == "images given to the loss":
        loss_d = d_loss(real, fake.detach())
    else:
        loss_d = d_loss(d_real, d_fake)
    loss_d.backward(retain_graph=mistake == "no detach, retain_graph")
    if mistake == "zero_grad after backward (D)":
        opt_d.zero_grad()
    (opt_g if mistake == "opt_g.step in D's step" else opt_d).step()
    if mistake == "zero_grad after step (D)":
        opt_d.zero_grad()

    if mistake == "no detach, new fake for G":
        fake = generator(torch.randn(real.shape[0], z_dim, device=real.device))
    if mistake not in ("zero_grad after backward (G)", "zero_grad after step (D)"):
        opt_g.zero_grad()
    if mistake == "reuse d_fake for G":
        loss_g = g_loss(d_fake)
    elif mistake == "fake detached for G":
        loss_g = g_loss(discriminator(fake.detach()))
    elif mistake == "loss_g before D step":
        loss_g = early_loss_g
    else:
        loss_g = g_loss(discriminator(fake))
    loss_g.backward()
    if mistake == "zero_grad after backward (G)":
        opt_g.zero_grad()
    (opt_d if mistake == "opt_d.step in G's step" else opt_g).step()
    if mistake == "zero_grad after step (D)":
        opt_g.zero_grad()

    d_real_value = d_real.item() if mistake == "no mean on d_real" else d_real.mean().item()
    returned_g = loss_d.item() if mistake == "loss_d returned as loss_g" else loss_g.item()
    return {"loss_d": loss_d.item(), "loss_g": returned_g, "d_real": d_real_value,
            "d_fake": d_fake.mean().item()}


def generator_step_first(real, generator, discriminator, opt_g, opt_d, z_dim=64):
    fake = generator(torch.randn(real.shape[0], z_dim, device=real.device))
    opt_g.zero_grad()
    loss_g = g_loss(discriminator(fake))
    loss_g.backward()
    opt_g.step()
    opt_d.zero_grad()
    d_real, d_fake = discriminator(real), discriminator(fake.detach())
    loss_d = d_loss(d_real, d_fake)
    loss_d.backward()
    opt_d.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item()}


def both_backward_then_both_steps(real, generator, discriminator, opt_g, opt_d, z_dim=64):
    fake = generator(torch.randn(real.shape[0], z_dim, device=real.device))
    opt_d.zero_grad()
    opt_g.zero_grad()
    d_real, d_fake = discriminator(real), discriminator(fake.detach())
    loss_d, loss_g = d_loss(d_real, d_fake), g_loss(discriminator(fake))
    loss_d.backward()
    loss_g.backward()
    opt_d.step()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item()}


def uses_batch(real, generator, discriminator, opt_g, opt_d, z_dim=64):
    z = torch.randn(batch, z_dim, device=real.device)  # noqa: F821 - l'erreur d'un étudiant
    return generator(z)


def item_before_backward(real, generator, discriminator, opt_g, opt_d, z_dim=64):
    fake = generator(torch.randn(real.shape[0], z_dim, device=real.device))
    opt_d.zero_grad()
    loss_d = d_loss(discriminator(real), discriminator(fake.detach())).item()
    loss_d.backward()


def zero_grad_with_models(real, generator, discriminator, opt_g, opt_d, z_dim=64):
    fake = generator(torch.randn(real.shape[0], z_dim, device=real.device))
    discriminator.zero_grad()
    d_real, d_fake = discriminator(real), discriminator(fake.detach())
    loss_d = d_loss(d_real, d_fake)
    loss_d.backward()
    opt_d.step()
    generator.zero_grad()
    loss_g = g_loss(discriminator(fake))
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item()}


def zero_grad_at_the_end(real, generator, discriminator, opt_g, opt_d, z_dim=64):
    """Remise à zéro en fin de pas, y compris des gradients que le pas de G dépose dans D : correct."""
    fake = generator(torch.randn(real.shape[0], z_dim, device=real.device))
    d_real, d_fake = discriminator(real), discriminator(fake.detach())
    loss_d = d_loss(d_real, d_fake)
    loss_d.backward()
    opt_d.step()
    opt_d.zero_grad()
    loss_g = g_loss(discriminator(fake))
    loss_g.backward()
    opt_g.step()
    opt_g.zero_grad()
    opt_d.zero_grad()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item()}


def fake_without_grad_then_regenerated(real, generator, discriminator, opt_g, opt_d, z_dim=64):
    z = torch.randn(real.shape[0], z_dim, device=real.device)
    with torch.no_grad():
        fake = generator(z)
    opt_d.zero_grad(set_to_none=False)
    d_real, d_fake = discriminator(real), discriminator(fake)
    loss_d = d_loss(d_real, d_fake)
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=False)
    loss_g = g_loss(discriminator(generator(z)))
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item()}


def test_train_step_variants_pass(verdicts):
    checks.check_train_step(student_step)
    checks.check_train_step(zero_grad_with_models)
    checks.check_train_step(zero_grad_at_the_end)
    checks.check_train_step(fake_without_grad_then_regenerated)
    assert len(verdicts()) == 4


@pytest.mark.parametrize("mistake, message", [
    ("opt_d.step in G's step", r"Au pas du générateur, vous appelez opt_d.step\(\) au lieu de opt_g.step\(\)"),
    ("opt_g.step in D's step", r"Au pas du discriminateur, vous appelez opt_g.step\(\) au lieu de opt_d.step\(\)"),
    ("zero_grad after backward (D)", r"opt_d.zero_grad\(\) est appelé entre loss_d.backward\(\) et "
                                     r"opt_d.step\(\) : il efface les gradients qui viennent d'être calculés"),
    ("zero_grad after backward (G)", r"opt_g.zero_grad\(\) est appelé entre loss_g.backward\(\) et opt_g.step\(\)"),
    ("zero_grad after step (D)", r"opt_d.zero_grad\(\) est appelé après opt_d.step\(\).*dépose ensuite"),
    ("no mean on d_real", r"d_real.mean\(\).item\(\)"),
    ("loss_d returned as loss_g", r"loss_g = .* au lieu de .*la valeur renvoyée est celle de loss_d"),
    ("no detach, new fake for G", r"rétropropage jusque dans le générateur.*fake.detach\(\)"),
    ("no detach, retain_graph", r"rétropropage jusque dans le générateur.*retain_graph=True"),
    ("reuse d_fake for G", r"réutilise une sortie du discriminateur déjà rétropropagée.*discriminator\(fake\)"),
    ("fake detached for G", "Aucun gradient n'atteint le générateur à son pas"),
    ("loss_g before D step", r"calculée avant opt_d.step\(\)"),
    ("D on real only", "n'apprend que sur les vraies images"),
    ("swapped arguments", "les vraies et les fausses images sont échangées"),
    ("uniform noise", r"pas torch.rand"),
    ("global Z_DIM", "non la constante Z_DIM"),
    ("images given to the loss", "pas les images"),
])
def test_train_step_mistakes_point_at_the_line(mistake, message):
    with pytest.raises(CheckError, match=message):
        checks.check_train_step(lambda *a, **k: student_step(*a, **k, mistake=mistake))


@pytest.mark.parametrize("fn, message", [
    (generator_step_first, "Le pas du générateur vient avant celui du discriminateur"),
    (both_backward_then_both_steps, r"loss_g.backward\(\) est appelé avant opt_d.step\(\)"),
    (uses_batch, r"real.shape\[0\]"),
    (item_before_backward, r"\.item\(\) a été appelé trop tôt"),
])
def test_train_step_order_mistakes(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_train_step(fn)


def test_train_step_missing_steps_say_which_optimizer():
    with pytest.raises(CheckError, match=r"discriminateur n'ont pas bougé : opt_d.step\(\) n'est jamais appelé"):
        checks.check_train_step(lambda *a, **k: train_step(*a, **k, step_d=False))


def test_train_step_wrong_returned_loss_g_is_caught():
    def wrong_loss_g(*args, **kwargs):
        return {**train_step(*args, **kwargs), "loss_g": 0.5}

    with pytest.raises(CheckError, match=r"train_step renvoie loss_g = 0.5000 au lieu de"):
        checks.check_train_step(wrong_loss_g)


def test_generator_clamping_instead_of_tanh():
    class Clamped(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make_generator(out_act=nn.Identity())

        def forward(self, z):
            return self.net(z).clamp(-1, 1)

    with pytest.raises(CheckError, match=r"coupée net à \[-1, 1\].*Terminez par nn.Tanh\(\)"):
        checks.check_generator(Clamped())


def test_discriminator_output_squeezed():
    class Squeezed(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make_discriminator()

        def forward(self, x):
            return self.net(x).squeeze()

    with pytest.raises(CheckError, match=r"reçue \(16,\).*pas de .squeeze\(\)"):
        checks.check_discriminator(Squeezed())


def swapped_optimizers(real, generator, discriminator, opt_g, opt_d, z_dim=64):
    """Les deux optimiseurs échangés : le pas de D finit par opt_g.step(), celui de G par opt_d.step()."""
    z = torch.randn(real.shape[0], z_dim, device=real.device)
    opt_g.zero_grad()
    d_real, d_fake = discriminator(real), discriminator(generator(z).detach())
    loss_d = d_loss(d_real, d_fake)
    loss_d.backward()
    opt_g.step()
    opt_d.zero_grad()
    loss_g = g_loss(discriminator(generator(z)))
    loss_g.backward()
    opt_d.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item()}


def test_train_step_swapped_optimizers_are_named_as_such():
    with pytest.raises(CheckError, match="Les deux optimiseurs sont échangés"):
        checks.check_train_step(swapped_optimizers)


# --- sorties NaN ou détachées, modèle rendu intact, entrées qui ne sont pas ce qu'on attend ---

@pytest.mark.parametrize("check, make", [
    (checks.check_discriminator, make_discriminator),
    (checks.check_generator, make_generator),
], ids=["discriminateur", "generateur"])
@pytest.mark.parametrize("post", [lambda out: out * NAN, lambda out: torch.log(out - out)],
                         ids=["nan", "log-de-0"])
def test_nan_or_infinite_output_is_refused(check, make, post):
    # Avant : « Terminez par nn.Sigmoid() », une couche mal placée, ou même un ✅ (toute comparaison
    # avec NaN est fausse).
    with pytest.raises(CheckError, match=r"^❌ Des NaN ou des infinis dans la sortie du (discriminateur|"
                                         r"générateur).*division par zéro, d'un log de 0"):
        check(Broken(make(), post))


@pytest.mark.parametrize("check, make", [
    (checks.check_discriminator, make_discriminator),
    (checks.check_generator, make_generator),
], ids=["discriminateur", "generateur"])
def test_diverged_weights_are_named(check, make):
    with pytest.raises(CheckError, match=r"Les poids du modèle en contiennent déjà \(.*\) : un entraînement "
                                         r"précédent a divergé"):
        check(diverged(make()))


@pytest.mark.parametrize("check, make", [
    (checks.check_discriminator, make_discriminator),
    (checks.check_generator, make_generator),
], ids=["discriminateur", "generateur"])
@pytest.mark.parametrize("broken", [lambda m: Broken(m, lambda out: out.detach()),
                                    lambda m: Broken(m, no_grad=True)], ids=["detach", "no_grad"])
def test_detached_output_is_named(check, make, broken):
    # Avant : RuntimeError: element 0 of tensors does not require grad, hors de toute traduction.
    with pytest.raises(CheckError, match=r"(Discriminateur|Générateur) : la sortie est détachée du graphe "
                                         r"de calcul.*Cherchez dans forward"):
        check(broken(make()))


@pytest.mark.parametrize("check, model, good", [
    (checks.check_discriminator, make_discriminator(), True),
    (checks.check_discriminator, make_discriminator(dropout=0.0), False),   # échoue après la rétropropagation
    (checks.check_generator, make_generator(), True),
    (checks.check_generator, make_generator(out_act=nn.Sigmoid()), False),  # échoue après un passage en train
], ids=["discriminateur-juste", "discriminateur-faux", "generateur-juste", "generateur-faux"])
def test_model_checks_leave_the_model_untouched(check, model, good):
    # Avant : .grad effacés, mode train/eval remis seulement au niveau du modèle entier, statistiques
    # des BatchNorm modifiées.
    assert_check_leaves_model_untouched(check, model, good)


def test_model_of_another_dtype_is_refused_clearly():
    with pytest.raises(CheckError, match=r"^❌ Le discriminateur a des poids de type torch\.float64"):
        checks.check_discriminator(make_discriminator().double())


@pytest.mark.parametrize("check, fn, message", [
    (checks.check_discriminator_loss, lambda r, f: d_loss(r, f) * NAN,
     r"dans la valeur renvoyée par discriminator_loss \(nan\)"),
    (checks.check_generator_loss, lambda f: -torch.log(f - f).mean(),
     r"dans la valeur renvoyée par generator_loss \(inf\)"),
    (checks.check_discriminator_loss, lambda r, f: (d_loss(r, f), 0.0), r"un seul tenseur.*tuple de 2"),
    (checks.check_discriminator_loss, None, r"On attend la fonction discriminator_loss, reçu None"),
    (checks.check_generator_loss, g_loss(torch.full((2, 1), 0.5)), r"reçu un objet Tensor \(un résultat"),
    (checks.check_train_step, nn.Linear, r"On attend la fonction train_step, reçu la classe Linear"),
], ids=["perte-nan", "perte-infinie", "tuple", "none", "resultat", "classe"])
def test_broken_functions_get_a_clear_message(check, fn, message):
    with pytest.raises(CheckError, match=message):
        check(fn)


def inplace_after_the_loss(d_real, d_fake):
    """La bonne valeur, mais une probabilité modifiée en place après le calcul : .backward() échoue."""
    d_real = d_real * 1.0
    loss = d_loss(d_real, d_fake)
    d_real.mul_(1.0)
    return loss


def test_backward_error_of_a_loss_is_translated():
    # Avant : RuntimeError: one of the variables needed for gradient computation has been modified...
    with pytest.raises(CheckError, match=r"discriminator_loss : la rétropropagation \(\.backward\(\)\) a "
                                         r"levé une erreur.*\nUne opération en place"):
        checks.check_discriminator_loss(inplace_after_the_loss)


def step_with_nan_generator_loss(*args, **kwargs):
    """Le pas du corrigé, mais la perte de G vaut NaN : les poids de G deviennent NaN, sans erreur."""
    real, generator, discriminator, opt_g, opt_d, z_dim = args[:6]
    result = train_step(*args, **kwargs)
    opt_g.zero_grad()
    loss_g = g_loss(discriminator(generator(torch.randn(real.shape[0], z_dim)))) * NAN
    loss_g.backward()
    opt_g.step()
    return {**result, "loss_g": loss_g.item()}


@pytest.mark.parametrize("step, message", [
    (lambda *a, **k: train_step(*a, **k, log_of_zero=True),
     r"all elements of input should be between 0 and 1\nLes poids du discriminateur contiennent des "
     r"NaN ou des infinis pendant le pas : le pas a divergé"),
    (step_with_nan_generator_loss, r"dans les poids du générateur après un appel à train_step.*Le pas a "
                                   r"divergé"),
    (lambda *a, **k: {**train_step(*a, **k), "d_fake": NAN},
     r"^❌ Des NaN ou des infinis dans la valeur d_fake renvoyée par train_step \(nan\)"),
], ids=["log-de-0", "perte-g-nan", "valeur-nan"])
def test_train_step_that_diverges_is_named(step, message):
    with pytest.raises(CheckError, match=message):
        checks.check_train_step(step)


def test_size_argument_of_the_check_is_read_as_an_integer(verdicts):
    # Avant : TypeError de torch.randn (« type must be tuple of ints, but got float »).
    checks.check_generator(make_generator(), z_dim=64.0)
    assert len(verdicts()) == 1
    with pytest.raises(CheckError, match=r"L'argument n_hidden de la vérification doit être un entier positif"):
        checks.check_discriminator(make_discriminator(), n_hidden="3")
