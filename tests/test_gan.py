"""utils.gan : les pièces enseignées aux jours 1 et 3, importées par les jours suivants."""

import math

import pytest
import torch
from helpers import global_rng_untouched
from helpers import train_step as oracle_step
from torch import nn

from utils import checks, gan


def tiny_models(seed=0):
    torch.manual_seed(seed)
    generator = gan.Generator(z_dim=4, hidden=(8, 8))
    discriminator = gan.Discriminator(hidden=(16, 8), dropout=0.0)
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    real = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return real, generator, discriminator, opt_g, opt_d


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


# --- les réseaux du jour 1 ---------------------------------------------------------

def test_day_one_networks_pass_the_day_one_checks(verdicts):
    checks.check_discriminator(gan.Discriminator())
    checks.check_generator(gan.Generator(), z_dim=64)
    assert len(verdicts()) == 2


def test_day_one_networks_have_the_notebook_layout():
    # Mêmes noms de poids que les classes écrites au jour 1 : un generator.pt du jour 1 s'y recharge.
    keys = list(gan.Generator().state_dict())
    assert keys[:2] == ["net.0.weight", "net.0.bias"] and "net.9.weight" in keys
    assert sum(p.numel() for p in gan.Generator().parameters()) == 1_480_720
    assert sum(p.numel() for p in gan.Discriminator().parameters()) == 566_273
    out = gan.Generator(z_dim=8).eval()(torch.randn(5, 8))
    assert out.shape == (5, 1, 28, 28) and out.abs().max() <= 1


def test_init_weights_follows_radford():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(200, 300), nn.Conv2d(3, 64, 4), nn.ConvTranspose2d(64, 32, 4),
                          nn.BatchNorm2d(512), nn.Linear(10, 10, bias=False)).apply(gan.init_weights)
    for layer in (model[0], model[1], model[2]):
        assert abs(layer.weight.std().item() - 0.02) < 0.002
        assert abs(layer.weight.mean().item()) < 0.002
        assert torch.count_nonzero(layer.bias) == 0
    assert abs(model[3].weight.mean().item() - 1.0) < 0.005
    assert abs(model[3].weight.std().item() - 0.02) < 0.005
    assert torch.count_nonzero(model[3].bias) == 0


# --- les pertes et le pas d'entraînement ------------------------------------------------

def test_losses_pass_the_day_one_and_day_three_checks(verdicts):
    checks.check_discriminator_loss(gan.discriminator_loss)
    checks.check_smoothed_discriminator_loss(gan.discriminator_loss)
    checks.check_generator_loss(gan.generator_loss)
    assert len(verdicts()) == 3


def test_losses_values():
    p = torch.tensor([[0.8], [0.6]])
    q = torch.tensor([[0.3], [0.1]])
    expected = -(math.log(0.8) + math.log(0.6)) / 2 - (math.log(0.7) + math.log(0.9)) / 2
    assert gan.discriminator_loss(p, q).item() == pytest.approx(expected, rel=1e-6)
    smoothed = (-(0.9 * math.log(0.8) + 0.1 * math.log(0.2) + 0.9 * math.log(0.6) + 0.1 * math.log(0.4)) / 2
                - (math.log(0.7) + math.log(0.9)) / 2)
    assert gan.discriminator_loss(p, q, real_label=0.9).item() == pytest.approx(smoothed, rel=1e-6)
    assert gan.generator_loss(q).item() == pytest.approx(-(math.log(0.3) + math.log(0.1)) / 2, rel=1e-6)


@pytest.mark.parametrize("options", [{}, {"real_label": 0.9}, {"d_steps": 3}, {"real_label": 0.9, "d_steps": 2}])
def test_train_step_matches_the_written_out_answer(options):
    # L'oracle des tests est écrit à part (tests/helpers.py), ligne à ligne comme au jour 1.
    results = []
    for step in (gan.train_step, oracle_step):
        real, g, d, opt_g, opt_d = tiny_models()
        torch.manual_seed(5)
        values = step(real, g, d, opt_g, opt_d, 4, **options)
        results.append((values, flat(g), flat(d)))
    (values, g_new, d_new), (expected, g_ref, d_ref) = results
    assert torch.equal(g_new, g_ref) and torch.equal(d_new, d_ref)
    assert values == expected
    assert all(isinstance(v, float) for v in values.values())


def test_train_step_passes_the_checks(verdicts):
    checks.check_train_step(gan.train_step)
    checks.check_dcgan_train_step(gan.train_step)
    assert len(verdicts()) == 2


def test_train_step_refuses_zero_discriminator_steps():
    real, g, d, opt_g, opt_d = tiny_models()
    with pytest.raises(ValueError, match="d_steps doit valoir au moins 1"):
        gan.train_step(real, g, d, opt_g, opt_d, 4, d_steps=0)


# --- la moyenne mobile des poids ------------------------------------------------------------

def test_ema_warms_up_then_follows_decay():
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    ema = gan.make_ema(model, decay=0.9)
    expected = 0.0
    for n in range(1, 30):
        with torch.no_grad():
            model.weight.fill_(float(n))
        ema.update_parameters(model)
        # Le premier appel copie les poids ; ensuite d = min(0,9, (1 + k) / (10 + k)), k appels déjà faits.
        d = 0.0 if n == 1 else min(0.9, n / (9 + n))
        expected = d * expected + (1 - d) * n
        assert ema.module.weight.item() == pytest.approx(expected, rel=1e-6)


def test_ema_refuses_a_decay_outside_zero_one():
    with pytest.raises(ValueError, match="decay doit être dans"):
        gan.make_ema(nn.Linear(1, 1), decay=1.0)


def test_ema_ready_recomputes_batchnorm_without_touching_the_global_rng():
    generator = gan.Generator(z_dim=4, hidden=(8,))
    ema = gan.make_ema(generator)
    ema.update_parameters(generator)
    with torch.no_grad():
        ema.module.net[1].running_mean.fill_(99.0)
    with global_rng_untouched():
        ready = gan.ema_ready(ema, z_dim=4, n_samples=500)
    assert not ready.training
    assert ready.module.net[1].running_mean.abs().max() < 5   # recalculée, plus 99
    again = gan.ema_ready(ema, z_dim=4, n_samples=500)
    assert torch.equal(again.module.net[1].running_mean, ready.module.net[1].running_mean)


# --- la comptabilité de la boucle ----------------------------------------------------------------

def test_training_log_keeps_history_frames_and_progress(monkeypatch, tmp_path):
    logged = []

    class FakeLogger:
        def __init__(self, name):
            self.name = name

        def log_scalars(self, step, **values):
            logged.append(("scalaires", step, sorted(values)))

        def log_images(self, tag, images, step, nrow=8):
            logged.append(("images", step, tag, nrow))

        def close(self):
            logged.append(("fermé",))

    shown = []
    monkeypatch.setattr(gan, "TensorBoardLogger", FakeLogger)
    monkeypatch.setattr(gan, "show_images", lambda images, nrow, title: shown.append((title, nrow)))
    log = gan.TrainingLog(total_steps=5, name="essai", desc=None, log_every=2)
    for step in range(5):
        log.record({"loss_d": float(step), "loss_g": 1.0})
    assert log.done and log.step == 5
    assert log.history == {"loss_d": [0.0, 1.0, 2.0, 3.0, 4.0], "loss_g": [1.0] * 5}
    assert [entry[1] for entry in logged] == [2, 4]
    images = torch.zeros(3, 1, 28, 28, requires_grad=True)
    log.frame(images, "fin")
    log.frame(images)
    assert log.labels == ["fin", "étape 5"] and not log.grids[0].requires_grad
    log.publish(images, "Époque 1")
    log.publish(images, "Époque 2", display=False)
    log.publish(images, "Grille 10 × 10", tag="grille", nrow=10)      # le GAN conditionnel du jour 6
    assert shown == [("Époque 1", 16), ("Grille 10 × 10", 10)]
    assert logged[-3:] == [("images", 5, "bruit_fixe", 16), ("images", 5, "bruit_fixe", 16),
                           ("images", 5, "grille", 10)]
    log.close()
    assert logged[-1] == ("fermé",)
    assert log.seconds >= 0


def test_day1_networks_take_other_image_shapes():
    """Jour 4 : les réseaux du jour 1 pour les chiffres empilés (3 × 14 × 14), mêmes noms de poids."""
    from utils.gan import Discriminator, Generator

    generator, discriminator = Generator(shape=(3, 14, 14)), Discriminator(shape=(3, 14, 14))
    images = generator(torch.randn(5, 64))
    assert images.shape == (5, 3, 14, 14)
    assert discriminator(images).shape == (5, 1)
    assert Generator().state_dict().keys() == generator.state_dict().keys()
    assert Generator()(torch.randn(2, 64)).shape == (2, 1, 28, 28)
