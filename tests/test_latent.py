"""Jour 5 : le module utils.latent, exploration du plan latent d'un décodeur à deux
dimensions (les auto-vérifications de l'AE et du VAE : test_checks_jour_05.py)."""

import pytest
import torch
from helpers import AutoEncoder
from torch import nn

from utils.latent import LatentExplorer, decode_point, latent_grid


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
