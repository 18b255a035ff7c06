"""Jour 3 : auto-vérifications du DCGAN (taille d'une convolution transposée, G, D, perte lissée,
pas d'entraînement à plusieurs pas de D, vérifiés en partie par les fonctions du jour 1)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import (
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

# --- une implémentation correcte (celle du corrigé), à petite échelle ----------------

Z, C1, C2 = 16, 8, 4


def conv_t_size(size, kernel, stride, padding, output_padding=0):
    return (size - 1) * stride - 2 * padding + kernel + output_padding


class Wrapped(nn.Module):
    """Un modèle écrit comme dans le notebook : les couches dans un nn.Sequential nommé net."""

    def __init__(self, *layers):
        super().__init__()
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def g_layers(k=4, s=2, p=1, op=0, act=None, out_act=None, out_bn=False, bn1=True, bn2=True):
    """Les couches du générateur du corrigé ; chaque option en fausse une comme un étudiant."""
    act = act or (lambda: nn.LeakyReLU(0.2))
    return [nn.Linear(Z, C1 * 49, bias=False), *([nn.BatchNorm1d(C1 * 49)] if bn1 else []), act(),
            nn.Unflatten(1, (C1, 7, 7)),
            nn.ConvTranspose2d(C1, C2, k, s, p, output_padding=op, bias=False),
            *([nn.BatchNorm2d(C2)] if bn2 else []), act(),
            nn.ConvTranspose2d(C2, 1, k, s, p, output_padding=op),
            *([nn.BatchNorm2d(1)] if out_bn else []), *([out_act] if out_act else [nn.Tanh()])]


def make_generator(**options):
    return Wrapped(*g_layers(**options))


def make_discriminator(c1=4, c2=8, dropout=0.3, sigmoid=True, leaky=True):
    act = nn.LeakyReLU(0.2) if leaky else nn.Identity()
    layers = [nn.Conv2d(1, c1, 4, 2, 1), act, nn.Conv2d(c1, c2, 4, 2, 1), nn.LeakyReLU(0.2)]
    layers += [nn.Dropout(dropout)] if dropout else []
    layers += [nn.Flatten(), nn.Linear(c2 * 49, 1)] + ([nn.Sigmoid()] if sigmoid else [])
    return Wrapped(*layers)


def d_layers(*middle, head=(), tail=None, p=0.3):
    """Le discriminateur du corrigé, avec d'autres couches entre les convolutions et la sortie."""
    conv = [nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 4, 2, 1), nn.LeakyReLU(0.2)]
    return Wrapped(*head, *conv, *(middle or (nn.Dropout(p), nn.Flatten(), nn.Linear(8 * 49, 1))),
                   *(tail if tail is not None else [nn.Sigmoid()]))


def test_correct_answers_pass(verdicts):
    checks.check_conv_transpose_size(conv_t_size)
    checks.check_dcgan_generator(make_generator(), z_dim=Z, base_channels=C1)
    checks.check_dcgan_discriminator(make_discriminator())
    checks.check_dcgan_train_step(train_step)
    checks.check_dcgan_train_step(train_step, d_steps=1)
    checks.check_smoothed_discriminator_loss(d_loss)
    passed = verdicts()
    assert len(passed) == 6
    assert "2 pas de D puis un pas de G" in passed[3]
    assert "un pas de D puis un pas de G" in passed[4]
    assert "et 1.4688 avec real_label=0.9" in passed[5]


def test_day3_checks_do_not_touch_notebook_randomness():
    generator, discriminator = make_generator(), make_discriminator()
    with global_rng_untouched():
        checks.check_conv_transpose_size(conv_t_size)
        checks.check_dcgan_generator(generator, z_dim=Z, base_channels=C1)
        checks.check_dcgan_discriminator(discriminator)
        checks.check_dcgan_train_step(train_step)
        checks.check_smoothed_discriminator_loss(d_loss)


# --- taille de sortie ------------------------------------------------------------------

@pytest.mark.parametrize("fn, message", [
    (lambda n, k, s, p, o=0: (n + 2 * p - k) // s + 1, "convolution ordinaire"),
    (lambda n, k, s, p, o=0: (n - 1) * s - p + k + o, "2 · padding"),
    (lambda n, k, s, p, o=0: (n - 1) * s + 2 * p + k + o, r"- 2 · padding, pas \+ 2 · padding"),
    (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k, "il manque la marge de sortie"),
    (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k - o, "output_padding\\) s'ajoute"),
    # 2 · output_padding donnait, sur le cas (7, 3, 2, 1, 1), la valeur de « - padding » : il était
    # mis sur le compte de la marge.
    (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k + 2 * o, "pas 2 · output_padding"),
    (lambda n, k, s, p, o=0: n * s - 2 * p + k + o, r"\(size - 1\)"),
    (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k - 1 + o, "pas \\+ kernel - 1"),
    (lambda n, k, s, p, o=0: (n - 1) * k - 2 * p + s + o, "kernel et stride sont intervertis"),
    (lambda n, k, s, p, o=0: str(n * s), "entier"),
    (lambda n, k, s, p, o=0: print(conv_t_size(n, k, s, p, o)), "ne renvoie rien"),
    (lambda n, k, s, p, o=0: 28, "nn.ConvTranspose2d produit"),
])
def test_conv_transpose_size_errors(fn, message, capsys):
    with pytest.raises(CheckError, match=message):
        checks.check_conv_transpose_size(fn)


def test_conv_transpose_size_accepts_integral_float_and_numpy_int(verdicts):
    checks.check_conv_transpose_size(lambda *a: float(conv_t_size(*a)))
    checks.check_conv_transpose_size(lambda *a: np.int64(conv_t_size(*a)))
    assert len(verdicts()) == 2


def test_conv_transpose_size_needs_default_output_padding():
    def no_default(size, kernel, stride, padding, output_padding):
        return conv_t_size(size, kernel, stride, padding, output_padding)

    with pytest.raises(CheckError, match="valeur par défaut 0"):
        checks.check_conv_transpose_size(no_default)


def test_conv_transpose_size_arguments_out_of_order():
    def swapped(size, stride, kernel, padding, output_padding=0):
        return conv_t_size(size, kernel, stride, padding, output_padding)

    with pytest.raises(CheckError, match="dans le désordre"):
        checks.check_conv_transpose_size(swapped)


def test_conv_transpose_size_stub_is_reported():
    def stub(size, kernel, stride, padding, output_padding=0):
        raise NotImplementedError("Exercice 1")

    with pytest.raises(CheckError, match="pas encore écrit"):
        checks.check_conv_transpose_size(stub)


# --- générateur -----------------------------------------------------------------------

class ViewGenerator(nn.Module):
    """Une variante juste : couches une à une, .view et activations fonctionnelles dans forward."""

    def __init__(self, reshape=True):
        super().__init__()
        self.fc, self.bn0 = nn.Linear(Z, C1 * 49, bias=False), nn.BatchNorm1d(C1 * 49)
        self.up1, self.bn1 = nn.ConvTranspose2d(C1, C2, 4, 2, 1, bias=False), nn.BatchNorm2d(C2)
        self.up2 = nn.ConvTranspose2d(C2, 1, 4, 2, 1)
        self.reshape = reshape

    def forward(self, z):
        h = F.leaky_relu(self.bn0(self.fc(z)), 0.2)
        if self.reshape:
            h = h.view(-1, C1, 7, 7)
        h = F.leaky_relu(self.bn1(self.up1(h)), 0.2)
        return torch.tanh(self.up2(h))


class NoReturnGenerator(Wrapped):
    def forward(self, x):
        self.net(x)


@pytest.mark.parametrize("model", [
    make_generator(),
    ViewGenerator(),
    Wrapped(nn.Linear(Z, C1 * 49), nn.Unflatten(1, (C1, 7, 7)), nn.BatchNorm2d(C1), nn.LeakyReLU(0.2),
            *g_layers()[4:]),
], ids=["corrigé", "view et activations dans forward", "BatchNorm2d après la remise en forme"])
def test_dcgan_generator_variants_pass(model, verdicts):
    checks.check_dcgan_generator(model, z_dim=Z, base_channels=C1)
    assert len(verdicts()) == 1


@pytest.mark.parametrize("model, message", [
    (make_generator(out_bn=True), r"pas de BatchNorm sur la couche de sortie ; retirez « net.8 »"),
    (Wrapped(*g_layers()[:-1], nn.LeakyReLU(0.2), nn.Tanh()), r"et nn.Tanh\(\), rien d'autre ; retirez « net.8 »"),
    (make_generator(act=nn.LeakyReLU), r"« net.2 » .*pente de 0,01 .*nn.LeakyReLU\(0.2\)"),
    (make_generator(act=nn.ReLU), r"« net.2 » \(ReLU\(\)\) annule le gradient"),
    (Wrapped(*g_layers()[:2], nn.ReLU(), *g_layers()[3:]), r"« net.2 » \(ReLU\(\)\)"),
    (Wrapped(*g_layers()[:5], nn.LeakyReLU(0.2), nn.BatchNorm2d(C2), *g_layers()[7:]),
     r"« net.6 » \(BatchNorm2d\(4\)\) vient après « net.5 »"),
    (make_generator(bn1=False), r"après « net.0 » .*il manque nn.BatchNorm1d\(392\)"),
    (make_generator(bn2=False), r"après « net.4 » .*il manque nn.BatchNorm2d\(4\)"),
    (Wrapped(*g_layers()[:7], nn.Dropout(0.3), *g_layers()[7:]), r"retirez « net.7 » \(Dropout"),
    (Wrapped(*g_layers()[:2], *g_layers()[3:]), r"aucune activation entre « net.1 » \(BatchNorm1d\(392\)\)"),
    (make_generator(out_act=nn.Identity()), r"terminez par nn.Tanh\(\) juste après .*« net.7 »"),
    (make_generator(out_act=nn.Sigmoid()), r"sigmoïde donne des pixels dans \[0, 1\]"),
    (make_generator(k=3, op=1), r"« net.4 » .*noyau 3 et un pas 2 .*damier"),
    (make_generator(p=0), r"reçue \(8, 1, 34, 34\). Tailles des images : 7×7, puis 16×16 par « net.4 »"),
    (Wrapped(*g_layers()[:3], *g_layers()[4:]),
     r"(?s)couche « net.3 » .* reçu une entrée de forme \(8, 392\).*nn.Unflatten\(1, \(canaux, 7, 7\)\)"),
    (Wrapped(*g_layers()[:3], nn.Unflatten(1, (7, 7, C1)), *g_layers()[4:]),
     r"les canaux viennent en premier, nn.Unflatten\(1, \(8, 7, 7\)\)"),
    (Wrapped(*g_layers()[:5], nn.BatchNorm2d(C1), *g_layers()[6:]),
     r"(?s)« net.5 » \(BatchNorm2d\(8\)\).*autant de canaux .* : 4"),
    (ViewGenerator(reshape=False), r"(?s)« up1 » .*nn.Unflatten\(1, \(canaux, 7, 7\)\)"),
    (NoReturnGenerator(*g_layers()), "ne renvoie rien"),
    (make_generator(s=1), r"forme \(8, 1, 28, 28\) attendue"),
], ids=["BatchNorm sur la sortie", "LeakyReLU avant Tanh", "pente 0,01", "ReLU partout",
        "ReLU après la couche dense", "BatchNorm après l'activation", "sans BatchNorm1d",
        "sans BatchNorm2d", "Dropout", "sans activation", "sans Tanh", "Sigmoid", "noyau 3",
        "padding 0", "sans Unflatten", "Unflatten (7, 7, c)", "BatchNorm2d mal dimensionnée",
        "view oublié", "forward sans return", "stride 1"])
def test_dcgan_generator_mistakes(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_dcgan_generator(model, z_dim=Z, base_channels=C1)


@pytest.mark.parametrize("model, message", [
    (Wrapped(nn.Linear(8, C1 * 49), *g_layers()[1:]), r"nn.Linear\(16, 8 \* 7 \* 7\)"),
    (Wrapped(*g_layers()[:4], nn.ConvTranspose2d(C1, 1, 4, 4, 0), nn.Tanh()), "au moins deux nn.ConvTranspose2d"),
])
def test_dcgan_generator_missing_layers(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_dcgan_generator(model, z_dim=Z, base_channels=C1)


# --- discriminateur ---------------------------------------------------------------------

class FunctionalDiscriminator(nn.Module):
    """Couches une à une, F.leaky_relu, .view et torch.sigmoid dans forward ; ``dropout`` : comment."""

    def __init__(self, dropout="module"):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 4, 4, 2, 1), nn.Conv2d(4, 8, 4, 2, 1)
        self.drop, self.fc = nn.Dropout(0.3), nn.Linear(8 * 49, 1)
        self.dropout = dropout

    def forward(self, x):
        h = F.leaky_relu(self.c2(F.leaky_relu(self.c1(x), 0.2)), 0.2)
        h = self.drop(h) if self.dropout == "module" else F.dropout(h, 0.3)
        return torch.sigmoid(self.fc(h.view(h.shape[0], -1)))


@pytest.mark.parametrize("model", [
    make_discriminator(),
    d_layers(nn.Flatten(), nn.Dropout(0.3), nn.Linear(8 * 49, 1)),
    Wrapped(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 4, 2, 1), nn.Dropout(0.3),
            nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 49, 1), nn.Sigmoid()),
    FunctionalDiscriminator(),
], ids=["corrigé", "Flatten puis Dropout", "Dropout avant LeakyReLU", "activations dans forward"])
def test_dcgan_discriminator_variants_pass(model, verdicts):
    checks.check_dcgan_discriminator(model)
    assert len(verdicts()) == 1


@pytest.mark.parametrize("model, message", [
    (make_discriminator(dropout=0), "Aucun nn.Dropout"),
    (make_discriminator(dropout=0.5), r"« net.4 » .*proportion 0,5 .*valeur par défaut.*nn.Dropout\(dropout\)"),
    (make_discriminator(sigmoid=False), "nn.Sigmoid"),
    (make_discriminator(leaky=False), r"aucune activation entre « net.0 »"),
    (Wrapped(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(), nn.Conv2d(4, 8, 4, 2, 1), nn.LeakyReLU(),
             nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 49, 1), nn.Sigmoid()), r"« net.1 » .*pente de 0,01"),
    (Wrapped(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.3), nn.Conv2d(4, 8, 4, 2, 1), nn.LeakyReLU(0.3),
             nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 49, 1), nn.Sigmoid()), "pente de 0,3"),
    (Wrapped(nn.Conv2d(1, 4, 4, 2, 1), nn.ReLU(), nn.Conv2d(4, 8, 4, 2, 1), nn.LeakyReLU(0.2),
             nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 49, 1), nn.Sigmoid()),
     r"« net.1 » \(ReLU\(\)\)"),
    (Wrapped(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 4, 2, 1), nn.BatchNorm2d(8),
             nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 49, 1), nn.Sigmoid()),
     r"retirez « net.3 » \(BatchNorm2d\(8\)\)"),
    (Wrapped(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Conv2d(4, 8, 4, 2, 1),
             nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 49, 1), nn.Sigmoid()),
     r"un seul Dropout.*retirez « net.2 »"),
    (d_layers(nn.Flatten(), nn.Linear(8 * 49, 1), head=[nn.Dropout(0.3)]),
     r"« net.0 » \(Dropout.*avant la première convolution"),
    (d_layers(nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 49, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)),
     r"une seule couche Linear.*retirez « net.6 »"),
    (d_layers(tail=[nn.LeakyReLU(0.2), nn.Sigmoid()]), r"et nn.Sigmoid\(\), rien d'autre ; retirez « net.7 »"),
    (d_layers(nn.Flatten(), nn.Linear(8 * 49, 1), tail=[nn.Sigmoid(), nn.Dropout(0.3)]),
     r"pas après la couche de sortie"),
    (d_layers(tail=[nn.Tanh()]), r"nn.Tanh\(\) donne des valeurs dans \[-1, 1\]"),
    (d_layers(nn.Dropout(0.3), nn.Linear(8 * 49, 1)), r"(?s)« net.5 » .*reçu une entrée de forme \(8, 8, 7, 7\).*nn.Flatten"),
    (d_layers(nn.Dropout(0.3), nn.Linear(7, 1)), r"« net.5 » .* reçoit des cartes \(8, 8, 7, 7\).*nn.Flatten"),
    (d_layers(nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 196, 1)),
     r"attend 1568 valeurs par image et en reçoit 392 \(tailles des cartes : 28×28 → 14×14 → 7×7\)"),
    (Wrapped(nn.Conv2d(1, 4, 4, 2, 0), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 4, 2, 0), nn.LeakyReLU(0.2),
             nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 25, 1), nn.Sigmoid()),
     r"« net.0 » .*28×28 en 13×13 au lieu de 14×14.*padding=1"),
    (Wrapped(nn.Conv2d(1, 4, 4, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 4, 1, 1), nn.LeakyReLU(0.2),
             nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 26 * 26, 1), nn.Sigmoid()),
     r"« net.0 » .*28×28 en 27×27"),
    (Wrapped(nn.Conv2d(3, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 4, 2, 1), nn.LeakyReLU(0.2),
             nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 49, 1), nn.Sigmoid()),
     r"(?s)« net.0 ».*attend 3 canaux .* en reçoit 1"),
    (FunctionalDiscriminator(dropout="F.dropout"), r"En mode eval\(\).*pas F.dropout"),
    (Wrapped(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Flatten(),
             nn.Linear(4 * 196, 1), nn.Sigmoid()), "au moins deux nn.Conv2d"),
], ids=["sans Dropout", "Dropout 0,5", "sans Sigmoid", "sans activation", "pente 0,01", "pente 0,3",
        "ReLU", "BatchNorm", "deux Dropout", "Dropout sur l'image", "couche dense cachée",
        "LeakyReLU avant Sigmoid", "Dropout après Sigmoid", "Tanh", "sans Flatten",
        "sans Flatten, Linear qui ne plante pas", "in_features faux", "padding 0", "stride 1",
        "3 canaux d'entrée", "F.dropout toujours actif", "une seule convolution"])
def test_dcgan_discriminator_mistakes(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_dcgan_discriminator(model)


def test_dcgan_discriminator_dropout_follows_the_argument(verdicts):
    checks.check_dcgan_discriminator(make_discriminator(dropout=0.5), dropout=0.5)
    assert len(verdicts()) == 1


def test_dcgan_discriminator_dropout_must_follow_train_mode():
    class AlwaysDropout(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make_discriminator().net

        def forward(self, x):
            h = self.net[:4](x)
            h = nn.functional.dropout(h, 0.3, training=True)
            return self.net[5:](h)

    with pytest.raises(CheckError, match="eval"):
        checks.check_dcgan_discriminator(AlwaysDropout())


# --- pas d'entraînement à plusieurs pas de D -----------------------------------------

def loop_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label=1.0, d_steps=1, mistake=None):
    """Le pas du corrigé, écrit comme un étudiant ; ``mistake`` fausse la boucle des pas de D."""
    def noise():
        return torch.randn(real.shape[0], z_dim, device=real.device)

    def g_step(fake):
        opt_g.zero_grad()
        d_out = discriminator(fake)
        loss_g = (F.binary_cross_entropy(d_out, torch.full_like(d_out, real_label))
                  if mistake == "g_smoothed" else g_loss(d_out))
        loss_g.backward()
        opt_g.step()
        return loss_g

    label = 0.9 if mistake == "label_0.9" else real_label
    seen = []
    if mistake == "zero_grad_once":
        opt_d.zero_grad()
    for _ in range(2 if mistake == "two_steps" else d_steps):
        fake = generator(noise())
        if mistake != "zero_grad_once":
            opt_d.zero_grad()
        d_real, d_fake = discriminator(real), discriminator(fake.detach())
        loss_d = d_loss(d_real, d_fake, label)
        loss_d.backward()
        opt_d.step()
        seen.append((loss_d.item(), d_real.mean().item(), d_fake.mean().item()))
        if mistake == "g_in_loop":
            loss_g = g_step(fake)
    if mistake != "g_in_loop":
        loss_g = g_step(fake)
    if mistake == "mean":
        loss, dr, df = (sum(v) / len(v) for v in zip(*seen))
    else:
        loss, dr, df = seen[0 if mistake == "first" else -1]
    return {"loss_d": loss, "loss_g": loss_g.item(), "d_real": dr, "d_fake": df}


def test_loop_step_is_correct_without_mistake(verdicts):
    checks.check_dcgan_train_step(loop_step)
    assert len(verdicts()) == 1


@pytest.mark.parametrize("mistake, message", [
    ("g_in_loop", "le pas du générateur est dans la boucle, il a été fait 2 fois"),
    ("zero_grad_once", r"opt_d.zero_grad\(\) n'est appelé qu'une fois, avant la boucle"),
    ("g_smoothed", "la perte du générateur vise real_label"),
    ("mean", "ce sont les moyennes sur les 2 pas de D"),
    ("first", "ce sont les valeurs du premier pas de D"),
    ("label_0.9", r"real_label=1.0, d_steps=1\) : la cible des vraies images reste 0,9, real_label est écrit en dur"),
    ("two_steps", r"d_steps=1\) : le discriminateur fait encore 2 pas, le nombre de pas est écrit en dur"),
])
def test_train_step_loop_mistakes(mistake, message):
    with pytest.raises(CheckError, match=message):
        checks.check_dcgan_train_step(lambda *a, **k: loop_step(*a, **k, mistake=mistake))


def test_train_step_with_one_d_step_instead_of_two():
    with pytest.raises(CheckError, match="n'a fait qu'un pas alors que d_steps=2"):
        checks.check_dcgan_train_step(lambda *a, **k: train_step(*a, **k, loop=False))


def test_train_step_reusing_the_same_noise():
    with pytest.raises(CheckError, match="les 2 pas de D jugent les mêmes images générées"):
        checks.check_dcgan_train_step(lambda *a, **k: train_step(*a, **k, fresh_noise=False))


def test_train_step_without_d_steps_parameter():
    def old_signature(real, generator, discriminator, opt_g, opt_d, z_dim, real_label=1.0):
        return train_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label)

    with pytest.raises(CheckError, match="d_steps"):
        checks.check_dcgan_train_step(old_signature)


def test_train_step_ignoring_real_label():
    with pytest.raises(CheckError, match="ignore real_label"):
        checks.check_dcgan_train_step(lambda *a, **k: train_step(*a, **k, use_label=False))


def test_train_step_without_real_label_parameter():
    def older_signature(real, generator, discriminator, opt_g, opt_d, z_dim):
        return train_step(real, generator, discriminator, opt_g, opt_d, z_dim)

    with pytest.raises(CheckError, match="accepter le paramètre real_label"):
        checks.check_dcgan_train_step(older_signature)


# --- perte lissée -------------------------------------------------------------------------

BCE = nn.BCELoss()


def smoothed(real_target, fake_target):
    """Une perte lissée dont les cibles sont des fonctions de real_label, comme l'écrirait un étudiant."""
    def loss(d_real, d_fake, real_label=1.0):
        return (BCE(d_real, torch.full_like(d_real, real_target(real_label)))
                + BCE(d_fake, torch.full_like(d_fake, fake_target(real_label))))
    return loss


def no_default(d_real, d_fake, real_label):
    return d_loss(d_real, d_fake, real_label)


@pytest.mark.parametrize("fn, message", [
    (lambda r, f, real_label=1.0: d_loss(r, f), "real_label est ignoré"),
    (lambda r, f: d_loss(r, f), "accepter le paramètre real_label"),
    (lambda r, f, real_label=0.9: d_loss(r, f, real_label), "real_label vaut 1.0 par défaut"),
    (no_default, "donnez à real_label une valeur par défaut"),
    (smoothed(lambda lab: lab, lambda lab: 1 - lab), "le lissage est unilatéral"),
    (smoothed(lambda lab: lab, lambda lab: lab), "la cible des images générées est real_label"),
    (smoothed(lambda lab: 1 - lab, lambda lab: 0.0), "la cible des vraies images est 1 - real_label"),
    (smoothed(lambda lab: 1.0, lambda lab: 1 - lab), "appliqué aux images générées"),
    (smoothed(lambda lab: 0.9, lambda lab: 0.0), r"real_label=1.0\) renvoie 1.4688 .*écrite en dur"),
    (lambda r, f, real_label=1.0: real_label * BCE(r, torch.ones_like(r)) + BCE(f, torch.zeros_like(f)),
     "real_label multiplie le terme des vraies images"),
    (lambda r, f, real_label=1.0: BCE(r, torch.empty_like(r).uniform_(real_label - 0.1, real_label))
     + BCE(f, torch.zeros_like(f)) if real_label < 1 else d_loss(r, f), "change d'un appel à l'autre"),
])
def test_smoothed_discriminator_loss_errors(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_smoothed_discriminator_loss(fn)


def test_smoothed_discriminator_loss_written_by_hand_passes(verdicts):
    def by_hand(d_real, d_fake, real_label=1.0):
        return (-(real_label * torch.log(d_real) + (1 - real_label) * torch.log(1 - d_real)).mean()
                - torch.log(1 - d_fake).mean())

    checks.check_smoothed_discriminator_loss(by_hand)
    assert len(verdicts()) == 1


class Reshape(nn.Module):
    """Une remise en forme écrite à la main, comme dans bien des codes d'avant nn.Unflatten."""

    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(x.shape[0], *self.shape)


def test_handwritten_reshape_modules_pass(verdicts):
    checks.check_dcgan_generator(Wrapped(*g_layers()[:3], Reshape(C1, 7, 7), *g_layers()[4:]),
                                 z_dim=Z, base_channels=C1)
    checks.check_dcgan_discriminator(d_layers(nn.Dropout(0.3), Reshape(8 * 49), nn.Linear(8 * 49, 1)))
    assert len(verdicts()) == 2


# --- sorties NaN ou détachées, modèle rendu intact, entrées qui ne sont pas ce qu'on attend ---

def check_generator(model):
    checks.check_dcgan_generator(model, z_dim=Z, base_channels=C1)


DCGAN_MODELS = [(check_generator, make_generator), (checks.check_dcgan_discriminator, make_discriminator)]


@pytest.mark.parametrize("check, make", DCGAN_MODELS, ids=["generateur", "discriminateur"])
@pytest.mark.parametrize("post", [lambda out: out * NAN, lambda out: torch.log(out - out)],
                         ids=["nan", "log-de-0"])
def test_dcgan_nan_or_infinite_output_is_refused(check, make, post):
    # Avant : ✅ pour le générateur dont la sortie est NaN ; « le Dropout doit s'éteindre en
    # évaluation » ou une couche mal placée pour les autres.
    with pytest.raises(CheckError, match=r"^❌ Des NaN ou des infinis dans la sortie du (générateur|"
                                         r"discriminateur).*division par zéro"):
        check(Broken(make(), post))


@pytest.mark.parametrize("check, make", DCGAN_MODELS, ids=["generateur", "discriminateur"])
def test_dcgan_diverged_weights_are_named(check, make):
    with pytest.raises(CheckError, match=r"Les poids du modèle en contiennent déjà.*divergé"):
        check(diverged(make()))


@pytest.mark.parametrize("check, make", DCGAN_MODELS, ids=["generateur", "discriminateur"])
@pytest.mark.parametrize("broken", [lambda m: Broken(m, lambda out: out.detach()),
                                    lambda m: Broken(m, no_grad=True)], ids=["detach", "no_grad"])
def test_dcgan_detached_output_is_named(check, make, broken):
    # Avant : RuntimeError: element 0 of tensors does not require grad.
    with pytest.raises(CheckError, match=r"(Générateur|Discriminateur) : la sortie est détachée du graphe"):
        check(broken(make()))


def test_dcgan_discriminator_returning_a_tuple_is_told_so():
    # Avant : « En mode eval(), deux passages des mêmes images donnent des sorties différentes ».
    with pytest.raises(CheckError, match=r"^❌ Le discriminateur doit renvoyer un tenseur, il renvoie tuple"):
        checks.check_dcgan_discriminator(Broken(make_discriminator(), lambda out: (out, out)))


@pytest.mark.parametrize("check, model, good", [
    (check_generator, make_generator(), True),
    (check_generator, make_generator(out_act=nn.Sigmoid()), False),        # après un passage en train
    (checks.check_dcgan_discriminator, make_discriminator(), True),
    (checks.check_dcgan_discriminator, make_discriminator(sigmoid=False), False),
], ids=["generateur-juste", "generateur-faux", "discriminateur-juste", "discriminateur-faux"])
def test_dcgan_model_checks_leave_the_model_untouched(check, model, good):
    # Avant : running_mean, running_var et num_batches_tracked des BatchNorm modifiés, .grad effacés,
    # mode train/eval remis seulement au niveau du modèle entier.
    assert_check_leaves_model_untouched(check, model, good)


def test_dcgan_model_of_another_dtype_is_refused_clearly():
    with pytest.raises(CheckError, match=r"^❌ Le générateur a des poids de type torch\.float64"):
        check_generator(make_generator().double())


@pytest.mark.parametrize("check, fn, message", [
    (checks.check_smoothed_discriminator_loss, lambda r, f, real_label=1.0: d_loss(r, f, real_label) * NAN,
     r"dans la valeur renvoyée par discriminator_loss \(nan\)"),
    (checks.check_smoothed_discriminator_loss, None, r"On attend la fonction discriminator_loss, reçu None"),
    (checks.check_conv_transpose_size, conv_t_size(7, 4, 2, 1),
     r"On attend la fonction conv_transpose_output_size, reçu un objet int"),
    (checks.check_dcgan_train_step, lambda *a, **k: train_step(*a, **k, log_of_zero=True),
     r"Les poids du discriminateur contiennent des NaN ou des infinis pendant le pas : le pas a divergé"),
], ids=["perte-nan", "perte-none", "taille-resultat", "pas-diverge"])
def test_dcgan_broken_functions_get_a_clear_message(check, fn, message):
    with pytest.raises(CheckError, match=message):
        check(fn)
