"""Jour 3 : auto-vérifications du DCGAN (taille d'une convolution transposée, G, D, pas
d'entraînement à plusieurs pas de D) et animation GIF des grilles."""

import pytest
import torch
from PIL import Image
from test_checks import train_step
from torch import nn

from utils import checks
from utils.checks import CheckError
from utils.plots import save_grid_animation

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


def test_correct_answers_pass(capsys):
    checks.check_conv_transpose_size(conv_t_size)
    checks.check_dcgan_generator(make_generator(), z_dim=16, base_channels=8)
    checks.check_dcgan_discriminator(make_discriminator())
    checks.check_train_step(train_step, real_label=0.9, d_steps=2)
    checks.check_train_step(train_step, real_label=0.9, d_steps=1)
    out = capsys.readouterr().out
    assert out.count("✅") == 5 and "❌" not in out
    assert "2 pas de D puis un pas de G" in out


def test_day3_checks_do_not_touch_notebook_randomness():
    generator, discriminator = make_generator(), make_discriminator()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    checks.check_conv_transpose_size(conv_t_size)
    checks.check_dcgan_generator(generator, z_dim=16, base_channels=8)
    checks.check_dcgan_discriminator(discriminator)
    checks.check_train_step(train_step, real_label=0.9, d_steps=2)
    assert torch.equal(torch.rand(3), expected)


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


def test_conv_transpose_size_accepts_integral_float(capsys):
    checks.check_conv_transpose_size(lambda *a: float(conv_t_size(*a)))
    assert "✅" in capsys.readouterr().out


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
        checks.check_train_step(lambda *a, **k: train_step(*a, **k, loop=False), real_label=0.9,
                                d_steps=2)


def test_train_step_reusing_the_same_noise():
    with pytest.raises(CheckError, match="diffère de la référence"):
        checks.check_train_step(lambda *a, **k: train_step(*a, **k, fresh_noise=False),
                                real_label=0.9, d_steps=2)


def test_train_step_without_d_steps_parameter():
    def old_signature(real, generator, discriminator, opt_g, opt_d, z_dim, real_label=1.0):
        return train_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label)

    with pytest.raises(CheckError, match="d_steps"):
        checks.check_train_step(old_signature, real_label=0.9, d_steps=2)


# --- l'animation -------------------------------------------------------------------------

def test_grid_animation_writes_a_gif_and_keeps_the_previous_one(tmp_path):
    grids = [torch.full((4, 1, 28, 28), v) for v in (-1.0, 0.0, 1.0)]
    path = tmp_path / "anim" / "progression.gif"
    data = save_grid_animation(grids, path, nrow=2, labels=["a", "b", "c"])
    assert data[:6] in (b"GIF87a", b"GIF89a") and path.read_bytes() == data
    with Image.open(path) as gif:
        assert gif.n_frames == 3
    save_grid_animation(grids[:2], path, nrow=2)
    assert (path.parent / "precedent" / "progression.gif").read_bytes() == data
    with Image.open(path) as gif:
        assert gif.n_frames == 2
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize("grids, labels, message", [
    ([], None, "vide"),
    ([torch.zeros(4, 1, 28, 28)], ["a", "b"], "une par grille"),
    ([torch.zeros(4, 3, 5, 5)], None, "Forme d'images inattendue"),
])
def test_grid_animation_bad_input(tmp_path, grids, labels, message):
    with pytest.raises(ValueError, match=message):
        save_grid_animation(grids, tmp_path / "x.gif", labels=labels)
    assert not (tmp_path / "x.gif").exists()
