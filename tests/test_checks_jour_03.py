"""Jour 3 : auto-vérifications du DCGAN (taille d'une convolution transposée, G, D, pas
d'entraînement à plusieurs pas de D, vérifié par la fonction du jour 1)."""

import pytest
from helpers import d_loss, global_rng_untouched, train_step
from torch import nn

from utils import checks
from utils.checks import CheckError

# --- une implémentation correcte (celle du corrigé), à petite échelle ----------------


def conv_t_size(size, kernel, stride, padding, output_padding=0):
    return (size - 1) * stride - 2 * padding + kernel + output_padding


def make_generator(z_dim=16, c1=8, c2=4, out_bn=False, tanh=True, bn=True, second_conv=True):
    layers = [nn.Linear(z_dim, c1 * 49, bias=False), nn.BatchNorm1d(c1 * 49), nn.LeakyReLU(0.2),
              nn.Unflatten(1, (c1, 7, 7)),
              nn.ConvTranspose2d(c1, c2 if second_conv else 1, 4, 2, 1, bias=False)]
    if second_conv:
        layers += [nn.BatchNorm2d(c2) if bn else nn.Identity(), nn.LeakyReLU(0.2),
                   nn.ConvTranspose2d(c2, 1, 4, 2, 1)]
    layers += [nn.BatchNorm2d(1)] if out_bn else []
    layers += [nn.Tanh()] if tanh else []
    return nn.Sequential(*layers)


def make_discriminator(c1=4, c2=8, dropout=0.3, sigmoid=True, leaky=True):
    act = nn.LeakyReLU(0.2) if leaky else nn.Identity()
    layers = [nn.Conv2d(1, c1, 4, 2, 1), act, nn.Conv2d(c1, c2, 4, 2, 1), nn.LeakyReLU(0.2)]
    layers += [nn.Dropout(dropout)] if dropout else []
    layers += [nn.Flatten(), nn.Linear(c2 * 49, 1)] + ([nn.Sigmoid()] if sigmoid else [])
    return nn.Sequential(*layers)


def test_correct_answers_pass(verdicts):
    checks.check_conv_transpose_size(conv_t_size)
    checks.check_dcgan_generator(make_generator(), z_dim=16, base_channels=8)
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
        checks.check_dcgan_generator(generator, z_dim=16, base_channels=8)
        checks.check_dcgan_discriminator(discriminator)
        checks.check_dcgan_train_step(train_step)
        checks.check_smoothed_discriminator_loss(d_loss)


# --- taille de sortie ------------------------------------------------------------------

@pytest.mark.parametrize("fn, message", [
    (lambda n, k, s, p, o=0: (n + 2 * p - k) // s + 1, "convolution ordinaire"),
    (lambda n, k, s, p, o=0: (n - 1) * s - p + k + o, "2 · padding"),
    (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k, "output_padding"),
    (lambda n, k, s, p, o=0: n * s - 2 * p + k + o, r"\(size - 1\)"),
    (lambda n, k, s, p, o=0: str(n * s), "entier"),
    (lambda n, k, s, p, o=0: 28, "nn.ConvTranspose2d produit"),
])
def test_conv_transpose_size_errors(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_conv_transpose_size(fn)


def test_conv_transpose_size_accepts_integral_float(verdicts):
    checks.check_conv_transpose_size(lambda *a: float(conv_t_size(*a)))
    assert len(verdicts()) == 1


def test_conv_transpose_size_stub_is_reported():
    def stub(size, kernel, stride, padding, output_padding=0):
        raise NotImplementedError("Exercice 1")

    with pytest.raises(CheckError, match="pas encore écrit"):
        checks.check_conv_transpose_size(stub)


# --- générateur et discriminateur ---------------------------------------------------

@pytest.mark.parametrize("model, message", [
    (make_generator(z_dim=8), r"nn.Linear\(16, 8 \* 7 \* 7\)"),
    (make_generator(second_conv=False), "au moins deux nn.ConvTranspose2d"),
    (make_generator(bn=False), "Aucune nn.BatchNorm2d"),
    (make_generator(tanh=False), "nn.Tanh"),
    (nn.Sequential(nn.Linear(16, 8 * 49), nn.Unflatten(1, (8, 7, 7)), nn.ConvTranspose2d(8, 4, 4, 2, 1),
                   nn.BatchNorm2d(4), nn.LeakyReLU(0.2), nn.ConvTranspose2d(4, 1, 3, 2, 1), nn.Tanh()),
     r"forme \(8, 1, 28, 28\) attendue"),
])
def test_dcgan_generator_errors(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_dcgan_generator(model, z_dim=16, base_channels=8)


@pytest.mark.parametrize("model, message", [
    (make_discriminator(dropout=0), "Aucun nn.Dropout"),
    (make_discriminator(sigmoid=False), "nn.Sigmoid"),
    (make_discriminator(leaky=False), "suivie de nn.LeakyReLU"),
    (nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Flatten(),
                   nn.Linear(4 * 196, 1), nn.Sigmoid()), "au moins deux nn.Conv2d"),
    (nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 4, 2, 1),
                   nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(7, 1), nn.Sigmoid()),
     r"forme \(8, 1\) attendue"),
])
def test_dcgan_discriminator_errors(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_dcgan_discriminator(model)


def test_dcgan_discriminator_dropout_must_follow_train_mode():
    class AlwaysDropout(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make_discriminator()

        def forward(self, x):
            h = self.net[:4](x)
            h = nn.functional.dropout(h, 0.3, training=True)
            return self.net[5:](h)

    with pytest.raises(CheckError, match="eval"):
        checks.check_dcgan_discriminator(AlwaysDropout())


# --- pas d'entraînement à plusieurs pas de D -----------------------------------------

def test_train_step_with_one_d_step_instead_of_two():
    with pytest.raises(CheckError, match="n'a fait qu'un pas alors que d_steps=2"):
        checks.check_dcgan_train_step(lambda *a, **k: train_step(*a, **k, loop=False))


def test_train_step_reusing_the_same_noise():
    with pytest.raises(CheckError, match="diffère de la référence"):
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

@pytest.mark.parametrize("fn, message", [
    (lambda r, f, real_label=1.0: d_loss(r, f), "real_label est ignoré"),
    (lambda r, f: d_loss(r, f), "accepter le paramètre real_label"),
    (lambda r, f, real_label=0.9: d_loss(r, f, real_label), "le lissage à 0,9 n'est pas demandé ici"),
])
def test_smoothed_discriminator_loss_errors(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_smoothed_discriminator_loss(fn)
