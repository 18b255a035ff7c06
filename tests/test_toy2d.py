"""Le module utils.toy2d du jour 2 : cibles, comptage des modes, dessins et terrain de jeu.

Les auto-vérifications du jour 2 sont testées dans test_checks_jour_02.py."""

import io
import time

import matplotlib.pyplot as plt
import pytest
import torch
from helpers import make_mlp, toy_train_step
from PIL import Image
from torch import nn

from utils import toy2d


class TinySession:
    """Session minimale conforme à ce qu'attend ``Playground``."""

    def __init__(self, config):
        self.config = dict(config)
        torch.manual_seed(config["seed"])
        self.generator = make_mlp(config["z_dim"], 2, hidden=16)
        self.discriminator = make_mlp(2, 1, hidden=16, act=lambda: nn.LeakyReLU(0.2))
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config["lr_g"])
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config["lr_d"])
        self.history = {"loss_d": [], "loss_g": []}
        self.fixed_z = torch.randn(200, config["z_dim"])

    def train(self, n_steps):
        for group in self.opt_g.param_groups:
            group["lr"] = self.config["lr_g"]
        for _ in range(n_steps):
            values = toy_train_step(lambda n: toy2d.sample_target(self.config["target"], n),
                                    self.generator, self.discriminator, self.opt_g, self.opt_d,
                                    self.config["z_dim"], 32, self.config["loss"],
                                    self.config["d_steps"])
            for key, value in values.items():
                self.history[key].append(value)

    def snapshot(self):
        with torch.no_grad():
            fake = self.generator(self.fixed_z)
        return {"step": len(self.history["loss_d"]), "fake": fake,
                "d_map": toy2d.discriminator_map(self.discriminator, resolution=20),
                "arrows": torch.zeros_like(fake)}


# --- cibles et mesures ---------------------------------------------------------

@pytest.mark.parametrize("name", list(toy2d.TARGETS))
def test_targets_have_the_right_shape_and_are_reproducible(name):
    a = toy2d.sample_target(name, 500, torch.Generator().manual_seed(3))
    b = toy2d.sample_target(name, 500, torch.Generator().manual_seed(3))
    assert a.shape == (500, 2)
    assert torch.equal(a, b)
    assert a.abs().max() < toy2d.PLANE_LIMIT


def test_unknown_target_gets_a_french_message():
    with pytest.raises(ValueError, match="Cible inconnue.*ring"):
        toy2d.sample_target("cercle", 10)
    with pytest.raises(ValueError, match="entier positif"):
        toy2d.sample_target("ring", 0)


def test_real_points_cover_every_mode():
    for name, n_modes in (("ring", 8), ("grid", 25)):
        cover = toy2d.mode_coverage(toy2d.sample_target(name, 5000), name)
        assert cover["covered"] == n_modes == cover["n_modes"]
        assert cover["quality"] > 0.95


def test_collapsed_points_cover_one_mode():
    centers = toy2d.mode_centers("ring")
    points = centers[3] + 0.01 * torch.randn(1000, 2)
    cover = toy2d.mode_coverage(points, "ring")
    assert cover["covered"] == 1
    assert cover["counts"][3] == 1000
    far = toy2d.mode_coverage(torch.zeros(1000, 2), "ring")
    assert far["covered"] == 0 and far["quality"] == 0


def test_mode_coverage_rejects_bad_input():
    with pytest.raises(ValueError, match="pas de modes séparés"):
        toy2d.mode_coverage(torch.zeros(10, 2), "moons")
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        toy2d.mode_coverage(torch.zeros(10, 3), "ring")


def test_discriminator_map_and_drawings():
    discriminator = make_mlp(2, 1)
    heat = toy2d.discriminator_map(discriminator, resolution=30)
    assert heat.shape == (30, 30)
    assert 0 <= heat.min() and heat.max() <= 1
    fake = torch.randn(100, 2)
    snap = {"step": 5, "fake": fake, "d_map": heat, "arrows": -fake}
    fig, ax = plt.subplots()
    assert toy2d.plot_snapshot(snap, toy2d.sample_target("ring", 100), ax=ax) is not None
    assert ax.get_title() == "étape 5"
    plt.close(fig)
    gif = toy2d.animate_snapshots([snap, {**snap, "step": 10}, {**snap, "step": 15}], fake, max_frames=2)
    assert gif.data[:6] == b"GIF89a"
    with Image.open(io.BytesIO(gif.data)) as animation:
        assert animation.n_frames == 2          # 3 instantanés, 2 gardés
        assert animation.size == (216, 216)
    assert len(gif.data) < 40_000               # léger : une palette commune, pas de tramage
    with pytest.raises(ValueError, match="max_frames"):
        toy2d.animate_snapshots([snap], fake, max_frames=0)
    with pytest.raises(ValueError, match="Aucun instantané"):
        toy2d.animate_snapshots([], fake)


def test_animation_keeps_the_colours_of_the_legend():
    # Des instantanés comme ceux d'un entraînement : un fond rouge sombre presque partout (D dit
    # « faux »), clair près des modes. La palette commune ne doit pas noyer le vert des points
    # réels (« vert : réels » dit la légende) dans les nuances de rouge, les plus nombreuses.
    near = torch.cdist(toy2d.plane_grid(60), toy2d.mode_centers("ring")).min(dim=1).values
    near = near.reshape(60, 60)
    real = toy2d.sample_target("ring", 1000, torch.Generator().manual_seed(0))
    snaps = [{"step": k, "d_map": (0.05 + 0.5 * torch.exp(-near ** 2 / (0.2 + 0.05 * k))).clamp(0, 1),
              "fake": toy2d.sample_target("ring", 1000, torch.Generator().manual_seed(k + 1))
              * (1 + 0.02 * k)} for k in range(16)]
    gif = toy2d.animate_snapshots(snaps, real)
    colours = set()
    with Image.open(io.BytesIO(gif.data)) as animation:
        for index in range(animation.n_frames):
            animation.seek(index)
            colours |= {tuple(c) for _, c in animation.convert("RGB").getcolors(4096)}
    assert max(g - max(r, b) for r, g, b in colours) > 45, "le vert des points réels a disparu"
    assert max(min(r, b) - g for r, g, b in colours) > 45, "le violet des points générés a disparu"


# --- le terrain de jeu ------------------------------------------------------------

def test_playground_logic_without_widgets():
    play = toy2d.Playground(TinySession, steps_per_tick=5, batch_size=32)
    assert play.steps == 0
    snap = play.step()
    assert play.steps == 5 and snap["step"] == 5
    play.step(7)
    assert play.steps == 12
    # Réglages « en direct » : la session continue, et lit le nouveau réglage.
    assert play.apply(loss="least_squares", lr_g=1e-2) is False
    assert play.steps == 12 and play.session.config["loss"] == "least_squares"
    play.step(3)
    assert play.steps == 15
    # Changer de cible repart de zéro.
    assert play.apply(target="grid") is True
    assert play.steps == 0 and play.session.config["target"] == "grid"
    play.step(2)
    play.reset()
    assert play.steps == 0
    fig = play.draw()
    assert len(fig.axes) == 2
    plt.close(fig)


def test_playground_rejects_unknown_settings():
    with pytest.raises(ValueError, match="Réglages inconnus"):
        toy2d.Playground(TinySession, learning_rate=1e-3)
    play = toy2d.Playground(TinySession)
    with pytest.raises(ValueError, match="Perte inconnue"):
        play.apply(loss="wasserstein")
    with pytest.raises(ValueError, match="Cible inconnue"):
        play.apply(target="cercle")


def test_playground_widget_buttons_drive_the_session():
    play = toy2d.Playground(TinySession, steps_per_tick=4)
    panel = play.widget()
    assert panel.step_button.description == "4 pas"  # le bouton dit combien de pas il fait
    panel.step_button.click()
    assert play.steps == 4
    panel.play.value = 1  # une « image » de la lecture
    time.sleep(0.06)
    panel.play.value = 2
    assert play.steps == 12
    panel.play.value = 3  # un tic arrivé en retard, aussitôt après le précédent : sauté
    assert play.steps == 12
    panel.controls["d_steps"].value = 3
    assert play.session.config["d_steps"] == 3 and play.steps == 12
    panel.controls["target"].value = "spiral"
    assert play.steps == 0 and play.config["target"] == "spiral"
    panel.step_button.click()
    panel.reset_button.click()
    assert play.steps == 0
    plt.close("all")
