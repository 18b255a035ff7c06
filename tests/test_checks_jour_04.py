"""Jour 4 : auto-vérifications du WGAN-GP (critique, pertes, pénalité de gradient, pas à n_critic
pas du critique). Chaque erreur connue, y compris celles de vraies implémentations publiées, doit
être refusée avec le bon message ; la bonne réponse doit passer sans toucher l'aléa du notebook."""

import pytest
import torch
import torch.nn.functional as F
from helpers import global_rng_untouched
from torch import nn

from utils import checks
from utils.checks import CheckError

# --- la réponse du corrigé, et ses variantes fautives ------------------------------------


class Critic(nn.Module):
    def __init__(self, hidden=(512, 256, 128), extra=None, last=None, slope=0.2, squash=None):
        super().__init__()
        layers = [nn.Flatten()]
        size = 784
        for width in hidden:
            layers += [nn.Linear(size, width), *(extra(width) if extra else []), nn.LeakyReLU(slope)]
            size = width
        layers += [nn.Linear(size, 1), *([last] if last else [])]
        self.net = nn.Sequential(*layers)
        self.squash = squash

    def forward(self, x):
        out = self.net(x)
        return self.squash(out) if self.squash else out


def critic_loss(c_real, c_fake):
    return c_fake.mean() - c_real.mean()


def wgan_generator_loss(c_fake):
    return -c_fake.mean()


def gradient_penalty(critic, real, fake, alpha_shape="sample", law="uniform", where="between",
                     norm="sample", create_graph=True, weight=1.0, square=True, reduce="mean", leaf=True):
    n = real.shape[0]
    shape = {"sample": (n, 1, 1, 1), "pixel": tuple(real.shape), "batch": (1, 1, 1, 1)}[alpha_shape]
    alpha = (torch.rand if law == "uniform" else torch.randn)(shape, device=real.device)
    x = {"between": alpha * real + (1 - alpha) * fake, "real": real.clone(), "fake": fake.clone()}[where]
    if leaf:
        x = x.requires_grad_(True)
    grad, = torch.autograd.grad(critic(x).sum(), x, create_graph=create_graph)
    norms = grad.flatten(1).norm(dim=1) if norm == "sample" else grad.norm()
    if not square:
        norms = norms ** 2
    penalty = (norms - 1) ** 2
    return weight * (penalty.mean() if reduce == "mean" else penalty.sum())


def wgan_gp_step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic=5, gp_weight=10.0,
                 same_batch=False, use_gp=True, lam=None, loop=True, g_first=False, g_sign=1.0):
    def g_step(real):
        z = torch.randn(real.shape[0], z_dim, device=real.device)
        loss_g = g_sign * wgan_generator_loss(critic(generator(z)))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        return loss_g

    first = next(batches)
    if g_first:
        g_step(first)
    for i in range(n_critic if loop else 1):
        real = first if (i == 0 or same_batch) else next(batches)
        z = torch.randn(real.shape[0], z_dim, device=real.device)
        fake = generator(z).detach()
        c_real, c_fake = critic(real), critic(fake)
        gp = gradient_penalty(critic, real, fake)
        loss_c = critic_loss(c_real, c_fake) + (gp_weight if lam is None else lam) * gp * use_gp
        opt_c.zero_grad()
        loss_c.backward()
        opt_c.step()
    loss_g = g_step(real) if not g_first else torch.zeros(())
    return {"loss_c": loss_c.item(), "loss_g": loss_g.item(),
            "wasserstein": (c_real.mean() - c_fake.mean()).item(), "gp": gp.item()}


def with_options(fn, **options):
    def wrapped(*args, **kwargs):
        return fn(*args, **kwargs, **options)
    return wrapped


def wrapped_gp(**options):
    def gp(critic, real, fake):
        return gradient_penalty(critic, real, fake, **options)
    return gp


def wrapped_step(**options):
    def step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic=5, gp_weight=10.0):
        return wgan_gp_step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic, gp_weight, **options)
    return step


# --- les bonnes réponses ---------------------------------------------------------------

def test_correct_answers_pass_and_leave_the_notebook_rng_alone(capsys):
    critic = Critic()
    before = [p.detach().clone() for p in critic.parameters()]
    with global_rng_untouched():
        checks.check_critic(critic)
        checks.check_critic_loss(critic_loss)
        checks.check_wgan_generator_loss(wgan_generator_loss)
        checks.check_gradient_penalty(wrapped_gp())
        checks.check_wgan_gp_step(wrapped_step())
    assert all(torch.equal(a, b) for a, b in zip(before, critic.parameters()))
    out = capsys.readouterr().out
    assert out.count("✅") == 5
    assert "Critique correct" in out and "gradient_penalty correcte" in out and "wgan_gp_step correct" in out


def test_layer_norm_is_allowed_in_the_critic(capsys):
    checks.check_critic(Critic(extra=lambda w: [nn.LayerNorm(w)]))
    assert "✅" in capsys.readouterr().out


# --- le critique -------------------------------------------------------------------------

@pytest.mark.parametrize(("critic", "message"), [
    (Critic(last=nn.Sigmoid()), "Sigmoid"),
    (Critic(squash=torch.sigmoid), "écrase"),
    (Critic(squash=torch.tanh), "écrase"),
    (Critic(extra=lambda w: [nn.BatchNorm1d(w)]), "BatchNorm1d"),
    (Critic(extra=lambda w: [nn.Dropout(0.1)]), "Dropout"),
    (Critic(hidden=(256, 128)), "tailles 784 → 512 → 256 → 128 → 1"),
    (Critic(slope=0.01), "LeakyReLU"),
])
def test_critic_mistakes(critic, message):
    with pytest.raises(CheckError, match=message):
        checks.check_critic(critic)


def test_critic_that_mixes_the_batch_is_refused():
    class Mixing(Critic):
        def forward(self, x):
            out = self.net(x)
            return out - out.mean()        # une « normalisation » par lot écrite à la main

    with pytest.raises(CheckError, match="autres images du lot"):
        checks.check_critic(Mixing())


def test_critic_with_a_flat_output_is_refused():
    class Flat(Critic):
        def forward(self, x):
            return self.net(x).squeeze(1)

    with pytest.raises(CheckError, match=r"forme \(16, 1\)"):
        checks.check_critic(Flat())


# --- les pertes ----------------------------------------------------------------------------

@pytest.mark.parametrize(("fn", "message"), [
    (lambda r, f: r.mean() - f.mean(), "l'opposé"),
    (lambda r, f: f.sum() - r.sum(), "somme au lieu d'une moyenne"),
    (lambda r, f: F.binary_cross_entropy(r, torch.ones_like(r)), "pas d'entropie croisée"),
    (lambda r, f: torch.log(r).mean() - torch.log(f).mean(), "NaN"),
    (lambda r, f: (f - r).abs().mean(), "au lieu de"),
    (lambda r, f: (f.mean() - r.mean()).item(), "tenseur PyTorch"),
])
def test_critic_loss_mistakes(fn, message):
    def critic_loss(c_real, c_fake):
        return fn(c_real, c_fake)

    with pytest.raises(CheckError, match=message):
        checks.check_critic_loss(critic_loss)


def test_critic_loss_arguments_swapped():
    def critic_loss(c_fake, c_real):
        return c_fake.mean() - c_real.mean()

    with pytest.raises(CheckError, match="désordre"):
        checks.check_critic_loss(critic_loss)


@pytest.mark.parametrize(("fn", "message"), [
    (lambda f: f.mean(), "l'opposé"),
    (lambda f: -f.sum(), "somme"),
    (lambda f: F.binary_cross_entropy(f, torch.ones_like(f)), "pas d'entropie croisée"),
    (lambda f: -torch.log(f).mean(), "NaN"),
])
def test_generator_loss_mistakes(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_wgan_generator_loss(fn)


# --- la pénalité de gradient : les erreurs des vraies implémentations ----------------------

@pytest.mark.parametrize(("options", "message"), [
    ({"alpha_shape": "pixel"}, "un α par pixel"),
    ({"law": "normal"}, "loi normale"),
    ({"alpha_shape": "batch"}, "même α"),
    ({"where": "real"}, "sur les vraies images"),
    ({"where": "fake"}, "sur les images générées"),
    ({"norm": "batch"}, "TOUT le lot"),
    ({"create_graph": False}, "create_graph=True"),
    ({"weight": 10.0}, "ne multipliez pas par λ"),
    ({"square": False}, "élevée au carré"),
    ({"reduce": "sum"}, "somme au lieu d'une moyenne"),
    ({"leaf": False}, "requires_grad"),
])
def test_gradient_penalty_mistakes(options, message):
    with pytest.raises(CheckError, match=message):
        checks.check_gradient_penalty(wrapped_gp(**options))


def test_gradient_penalty_with_a_detached_value_is_refused():
    def gp(critic, real, fake):
        return gradient_penalty(critic, real, fake).detach()

    with pytest.raises(CheckError, match="create_graph=True"):
        checks.check_gradient_penalty(gp)


def test_one_sided_penalty_is_named():
    def gp(critic, real, fake):
        alpha = torch.rand(real.shape[0], 1, 1, 1)
        x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
        return (torch.relu(grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    # Le message qui nomme cette faute-là (le message générique dit seulement « au lieu de »).
    with pytest.raises(CheckError, match="version « un côté »"):
        checks.check_gradient_penalty(gp)


def test_gradient_penalty_stub_is_not_attempted():
    def gp(critic, real, fake):
        raise NotImplementedError("Exercice 3")

    with pytest.raises(CheckError, match="pas encore écrit"):
        checks.check_gradient_penalty(gp)


# --- le pas d'entraînement -------------------------------------------------------------------

@pytest.mark.parametrize(("options", "message"), [
    ({"same_batch": True}, "lot de vraies images NEUF"),
    ({"use_gp": False}, "pénalité de gradient n'entre pas"),
    ({"lam": 1.0}, "pas multipliée par gp_weight"),
    ({"loop": False}, "opt_c.step\\(\\) a été appelé 1 fois"),
    ({"g_first": True}, "avant la fin des pas du critique"),
    ({"g_sign": -1.0}, "signe de la perte du générateur"),
])
def test_train_step_mistakes(options, message):
    with pytest.raises(CheckError, match=message):
        checks.check_wgan_gp_step(wrapped_step(**options))


def test_train_step_returning_tensors_is_refused():
    def step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic=5, gp_weight=10.0):
        out = wgan_gp_step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic, gp_weight)
        return {k: torch.tensor(v) for k, v in out.items()}

    with pytest.raises(CheckError, match=r"\.item\(\)"):
        checks.check_wgan_gp_step(step)


def test_train_step_with_a_critic_sign_error_is_named():
    def step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic=5, gp_weight=10.0):
        for _ in range(n_critic):
            real = next(batches)
            fake = generator(torch.randn(real.shape[0], z_dim)).detach()
            c_real, c_fake = critic(real), critic(fake)
            gp = gradient_penalty(critic, real, fake)
            loss_c = -critic_loss(c_real, c_fake) + gp_weight * gp
            opt_c.zero_grad()
            loss_c.backward()
            opt_c.step()
        loss_g = wgan_generator_loss(critic(generator(torch.randn(real.shape[0], z_dim))))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        return {"loss_c": loss_c.item(), "loss_g": loss_g.item(),
                "wasserstein": (c_real.mean() - c_fake.mean()).item(), "gp": gp.item()}

    with pytest.raises(CheckError, match="signe"):
        checks.check_wgan_gp_step(step)
