"""Jour 2 : les auto-vérifications du GAN jouet (modèles, trois pertes, pas d'entraînement à
d_steps pas de D) acceptent la réponse du corrigé et rejettent chaque erreur typique."""

import pytest
import torch
from helpers import make_mlp, toy_d_loss, toy_g_loss, toy_train_step
from torch import nn

from utils import checks
from utils.checks import CheckError


def test_toy_model_checks_accept_correct_models(verdicts):
    checks.check_toy_generator(make_mlp(2, 2))
    checks.check_toy_discriminator(make_mlp(2, 1, act=lambda: nn.LeakyReLU(0.2)))
    assert len(verdicts()) == 2


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


def test_toy_losses_check(verdicts):
    checks.check_toy_losses(toy_d_loss, toy_g_loss)
    assert len(verdicts()) == 1

    def swapped(fake_out, kind="non_saturating"):
        other = {"saturating": "non_saturating", "non_saturating": "saturating"}.get(kind, kind)
        return toy_g_loss(fake_out, other)
    with pytest.raises(CheckError, match="c'est la perte non saturante"):
        checks.check_toy_losses(toy_d_loss, swapped)

    def no_half(real_out, fake_out, kind="non_saturating"):
        return toy_d_loss(real_out, fake_out, kind) * (2 if kind == "least_squares" else 1)
    with pytest.raises(CheckError, match="facteur ½"):
        checks.check_toy_losses(no_half, toy_g_loss)

    def probabilities(real_out, fake_out, kind="non_saturating"):
        return -(real_out.clamp(1e-6, 1).log()).mean()
    with pytest.raises(CheckError, match="sigmoïde"):
        checks.check_toy_losses(probabilities, toy_g_loss)

    def detached(fake_out, kind="non_saturating"):
        return toy_g_loss(fake_out.detach(), kind)
    with pytest.raises(CheckError, match="coupé le graphe"):
        checks.check_toy_losses(toy_d_loss, detached)


def test_toy_train_step_check(verdicts):
    checks.check_toy_train_step(toy_train_step)
    assert len(verdicts()) == 1


def _one_d_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                loss="non_saturating", d_steps=1):
    return toy_train_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                          loss, 1)


def _no_zero_grad(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                  loss="non_saturating", d_steps=1):
    return toy_train_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                          loss, d_steps, zero_grad_d=False)


def _tensors(*args, **kwargs):
    result = toy_train_step(*args, **kwargs)
    return {k: torch.tensor(v) for k, v in result.items()}


@pytest.mark.parametrize("step, message", [
    (_one_d_step, "d_steps pas de D"),
    (_no_zero_grad, "zero_grad"),
    (_tensors, "float"),
])
def test_toy_train_step_check_rejects(step, message):
    with pytest.raises(CheckError, match=message):
        checks.check_toy_train_step(step)


def test_train_step_with_the_arguments_in_another_order():
    def old_order(generator, discriminator, opt_g, opt_d, sample_real, batch_size, z_dim,
                  loss="non_saturating", d_steps=1):
        return toy_train_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                              loss, d_steps)

    def size_and_noise_swapped(sample_real, generator, discriminator, opt_g, opt_d, batch_size, z_dim,
                               loss="non_saturating", d_steps=1):
        return toy_train_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                              loss, d_steps)

    for fn in (old_order, size_and_noise_swapped):
        with pytest.raises(CheckError, match="dans le désordre.*votre fonction : train_step\\("):
            checks.check_toy_train_step(fn)
