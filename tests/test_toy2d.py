"""Le GAN jouet du jour 2 : cibles, comptage des modes, dessins, terrain de jeu et
auto-vérifications."""

import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from utils import checks, toy2d  # noqa: E402
from utils.checks import CheckError  # noqa: E402

# --- une implémentation correcte (celle du corrigé), en petit ------------------


def make_mlp(n_in, n_out, hidden=32, n_hidden=2, act=nn.ReLU, out_act=None):
    layers, width = [], n_in
    for _ in range(n_hidden):
        layers += [nn.Linear(width, hidden), act()]
        width = hidden
    layers.append(nn.Linear(width, n_out))
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


def d_loss(real_out, fake_out, kind="non_saturating"):
    if kind == "least_squares":
        return 0.5 * ((real_out - 1) ** 2).mean() + 0.5 * (fake_out ** 2).mean()
    return (F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out))
            + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))


def g_loss(fake_out, kind="non_saturating"):
    if kind == "least_squares":
        return 0.5 * ((fake_out - 1) ** 2).mean()
    if kind == "saturating":
        return -F.softplus(fake_out).mean()
    return F.softplus(-fake_out).mean()


def train_step(generator, discriminator, opt_g, opt_d, sample_real, batch_size, noise_dim,
               loss="non_saturating", d_steps=1, zero_grad_d=True):
    for _ in range(d_steps):
        real = sample_real(batch_size)
        fake = generator(torch.randn(batch_size, noise_dim))
        if zero_grad_d:
            opt_d.zero_grad()
        loss_d = d_loss(discriminator(real), discriminator(fake.detach()), loss)
        loss_d.backward()
        opt_d.step()
    fake = generator(torch.randn(batch_size, noise_dim))
    opt_g.zero_grad()
    loss_g = g_loss(discriminator(fake), loss)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}


class TinySession:
    """Session minimale conforme à ce qu'attend ``Playground``."""

    def __init__(self, config):
        self.config = dict(config)
        torch.manual_seed(config["seed"])
        self.generator = make_mlp(config["noise_dim"], 2, hidden=16)
        self.discriminator = make_mlp(2, 1, hidden=16, act=lambda: nn.LeakyReLU(0.2))
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config["lr_g"])
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config["lr_d"])
        self.history = {"loss_d": [], "loss_g": []}
        self.fixed_z = torch.randn(200, config["noise_dim"])

    def train(self, n_steps):
        for group in self.opt_g.param_groups:
            group["lr"] = self.config["lr_g"]
        for _ in range(n_steps):
            values = train_step(self.generator, self.discriminator, self.opt_g, self.opt_d,
                                lambda n: toy2d.sample_target(self.config["target"], n), 32,
                                self.config["noise_dim"], self.config["loss"],
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
    html = toy2d.animate_snapshots([snap, {**snap, "step": 10}], fake, max_frames=2)
    assert "<script" in html.data
    with pytest.raises(ValueError, match="Aucun instantané"):
        toy2d.animate_snapshots([], fake)


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


# --- les auto-vérifications du jour 2 ---------------------------------------------

def test_toy_model_checks_accept_correct_models(capsys):
    checks.check_toy_generator(make_mlp(2, 2))
    checks.check_toy_discriminator(make_mlp(2, 1, act=lambda: nn.LeakyReLU(0.2)))
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("model, message", [
    (make_mlp(2, 2, out_act=nn.Tanh()), "bornées"),
    (make_mlp(2, 3), "dernière couche doit produire 2"),
    (make_mlp(2, 2, n_hidden=1), "3 couches nn.Linear attendues"),
    (nn.Linear, "pas la classe"),
])
def test_toy_generator_check_rejects(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_toy_generator(model)


def test_toy_discriminator_check_rejects_a_sigmoid():
    with pytest.raises(CheckError, match="logit"):
        checks.check_toy_discriminator(make_mlp(2, 1, out_act=nn.Sigmoid()))


def test_toy_losses_check(capsys):
    checks.check_toy_losses(d_loss, g_loss)
    assert "✅" in capsys.readouterr().out

    def swapped(fake_out, kind="non_saturating"):
        other = {"saturating": "non_saturating", "non_saturating": "saturating"}.get(kind, kind)
        return g_loss(fake_out, other)
    with pytest.raises(CheckError, match="c'est la perte non saturante"):
        checks.check_toy_losses(d_loss, swapped)

    def no_half(real_out, fake_out, kind="non_saturating"):
        return d_loss(real_out, fake_out, kind) * (2 if kind == "least_squares" else 1)
    with pytest.raises(CheckError, match="facteur ½"):
        checks.check_toy_losses(no_half, g_loss)

    def probabilities(real_out, fake_out, kind="non_saturating"):
        return -(real_out.clamp(1e-6, 1).log()).mean()
    with pytest.raises(CheckError, match="sigmoïde"):
        checks.check_toy_losses(probabilities, g_loss)

    def detached(fake_out, kind="non_saturating"):
        return g_loss(fake_out.detach(), kind)
    with pytest.raises(CheckError, match="coupé le graphe"):
        checks.check_toy_losses(d_loss, detached)


def test_toy_train_step_check(capsys):
    checks.check_toy_train_step(train_step)
    assert "✅" in capsys.readouterr().out


def _one_d_step(generator, discriminator, opt_g, opt_d, sample_real, batch_size, noise_dim,
                loss="non_saturating", d_steps=1):
    return train_step(generator, discriminator, opt_g, opt_d, sample_real, batch_size, noise_dim,
                      loss, 1)


def _no_zero_grad(generator, discriminator, opt_g, opt_d, sample_real, batch_size, noise_dim,
                  loss="non_saturating", d_steps=1):
    return train_step(generator, discriminator, opt_g, opt_d, sample_real, batch_size, noise_dim,
                      loss, d_steps, zero_grad_d=False)


def _tensors(*args, **kwargs):
    result = train_step(*args, **kwargs)
    return {k: torch.tensor(v) for k, v in result.items()}


@pytest.mark.parametrize("step, message", [
    (_one_d_step, "d_steps pas de D"),
    (_no_zero_grad, "zero_grad"),
    (_tensors, "float"),
])
def test_toy_train_step_check_rejects(step, message):
    with pytest.raises(CheckError, match=message):
        checks.check_toy_train_step(step)
