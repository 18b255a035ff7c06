"""Jour 6 : utils.control, interpolation entre deux bruits et exploration d'un générateur
conditionnel, avec et sans widgets."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from utils.control import ConditionalExplorer, draw_conditional, interpolation_path, lerp, slerp


class TinyConditional(nn.Module):
    def __init__(self, z_dim=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim + 10, 784), nn.Tanh())

    def forward(self, z, labels):
        return self.net(torch.cat([z, F.one_hot(labels, 10).float()], dim=1)).view(-1, 1, 28, 28)


def test_slerp_keeps_the_norm_and_lerp_does_not():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(2, 64, generator=g)
    z2 = z2 / z2.norm() * z1.norm()              # même norme aux deux bouts
    assert torch.allclose(slerp(z1, z2, 0.0), z1, atol=1e-5)
    assert torch.allclose(slerp(z1, z2, 1.0), z2, atol=1e-5)
    assert slerp(z1, z2, 0.5).norm() == pytest.approx(z1.norm().item(), rel=1e-5)
    # deux bruits presque orthogonaux : le milieu linéaire perd environ 1/√2 de la norme
    cos = torch.dot(z1, z2) / (z1.norm() * z2.norm())
    assert lerp(z1, z2, 0.5).norm() == pytest.approx(z1.norm().item() * math.sqrt((1 + cos.item()) / 2), rel=1e-5)
    assert torch.allclose(slerp(z1, z1.clone(), 0.3), z1)          # Ω = 0 : pas de division par zéro


def test_interpolation_path_shapes_and_errors():
    z1, z2 = torch.zeros(4), torch.ones(4)
    path = interpolation_path(z1, z2, steps=5, mode="lerp")
    assert path.shape == (5, 4) and torch.allclose(path[2], torch.full((4,), 0.5))
    with pytest.raises(ValueError, match="lerp"):
        interpolation_path(z1, z2, mode="cubique")
    with pytest.raises(ValueError, match="au moins 2"):
        interpolation_path(z1, z2, steps=1)
    with pytest.raises(ValueError, match="même forme"):
        lerp(z1, torch.ones(3), 0.5)


def test_draw_conditional_one_label_for_all_and_mode_restored():
    generator = TinyConditional()
    z = torch.randn(3, 8)
    images = draw_conditional(generator, z, 7)
    assert images.shape == (3, 1, 28, 28) and generator.training
    assert torch.allclose(images, draw_conditional(generator, z, [7, 7, 7]))
    with pytest.raises(ValueError, match="une étiquette par bruit"):
        draw_conditional(generator, z, [1, 2])


def test_explorer_logic_without_widgets():
    generator = TinyConditional()
    explorer = ConditionalExplorer(generator, z_dim=8, seed=3)
    linear, spherical = explorer.update(0.0, 4)
    assert torch.allclose(linear, spherical, atol=1e-5)            # t = 0 : les deux chemins partent de z1
    linear, spherical = explorer.update(0.5, 4)
    assert not torch.allclose(linear, spherical)
    other_digit, _ = explorer.update(0.5, 5)
    assert not torch.allclose(other_digit, linear)                  # même style, autre chiffre
    assert explorer.state == (0.5, 5)
    with pytest.raises(ValueError, match="entre 0 et 9"):
        explorer.update(0.5, 10)
    with pytest.raises(ValueError, match="un entier entre 0 et 9, reçu 3.7"):
        explorer.update(0.5, 3.7)
    with pytest.raises(ValueError, match="t doit être un nombre entre 0"):
        explorer.update(1.2, 4)
    assert explorer.state == (0.5, 5)   # un appel refusé ne change pas l'état


def test_explorer_widget_reacts_to_slider_digit_and_button():
    explorer = ConditionalExplorer(TinyConditional(), z_dim=8)
    panel = explorer.widget()
    first = [bytes(image.value) for image in explorer.images]
    assert first[0].startswith(b"\x89PNG")
    panel.slider.value = 0.9
    moved = [bytes(image.value) for image in explorer.images]
    assert moved != first and explorer.state == (0.9, 0)
    panel.digit.value = 3
    assert explorer.state == (0.9, 3) and [bytes(i.value) for i in explorer.images] != moved
    before = explorer.z1.clone()
    panel.button.click()
    assert not torch.equal(before, explorer.z1)
    assert "linéaire" in explorer.norms.value


def test_slerp_rejects_batches_and_handles_opposite_noises():
    with pytest.raises(ValueError, match="paire par paire"):
        slerp(torch.randn(3, 8), torch.randn(3, 8), 0.5)
    # Deux bruits opposés : la ligne droite, (1 - t)·z + t·(-z) = (1 - 2t)·z, pour chaque tirage
    # (en float32, certains tiraient sin Ω ≈ 5e-4 au lieu de 0 et donnaient un point hors ligne).
    for seed in range(50):
        z = torch.randn(8, generator=torch.Generator().manual_seed(seed))
        assert torch.allclose(slerp(z, -z, 0.25), 0.5 * z, atol=1e-6), seed


def test_draw_conditional_restores_the_mode_after_an_error():
    class Broken(TinyConditional):
        def forward(self, z, labels):
            raise RuntimeError("cassé")
    generator = Broken()
    with pytest.raises(RuntimeError):
        draw_conditional(generator, torch.randn(2, 8), 1)
    assert generator.training


@pytest.mark.parametrize("t", [-0.1, 1.5, float("nan"), "0.5", True])
def test_t_outside_the_path_is_refused(t):
    z1, z2 = torch.zeros(8), torch.ones(8)
    for step in (lerp, slerp):
        with pytest.raises(ValueError, match="t doit être un nombre entre 0 \\(z1\\) et 1 \\(z2\\)"):
            step(z1, z2, t)


def test_ends_of_the_path_are_the_two_noises():
    z1, z2 = torch.zeros(8), torch.full((8,), 2.0)
    assert torch.equal(lerp(z1, z2, 0), z1) and torch.equal(lerp(z1, z2, 1), z2)
    assert torch.equal(lerp(z1, z2, torch.tensor(0.5)), torch.ones(8))


@pytest.mark.parametrize("labels", [3.7, [1, 2.5], [True, False], -1])
def test_labels_that_are_not_digits_are_refused(labels):
    with pytest.raises(ValueError, match="étiquettes sont des entiers"):
        draw_conditional(TinyConditional(), torch.randn(2, 8), labels)


def test_integral_float_labels_are_accepted():
    images = draw_conditional(TinyConditional(), torch.randn(2, 8), [3.0, 4.0])
    assert images.shape == (2, 1, 28, 28)
