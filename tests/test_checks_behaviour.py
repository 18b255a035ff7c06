"""Les vérifications jugent ce que fait le code de l'étudiant, pas la façon dont il est écrit.

Un test par trou relevé chez des étudiants (activations écrites en fonctions, un seul point de
sonde, un seul pas, accepté puis plantage plus loin, entrée modifiée en place, NaN mal nommé,
boucle sans fin, message qui envoie au mauvais endroit) : chacun échouait avant que la
vérification ne compare le réseau à celui de l'énoncé, poids copiés, ne sonde les deux signes,
ne rejoue un deuxième pas, ne limite le temps des appels. Les réponses justes écrites autrement
sont dans ``tools/mutation/justes_autrement.py`` (test : ``tests/test_mutants.py``).
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.checks import CheckError, core, jour_02, jour_03, jour_04, jour_05, jour_06


def _class_with(base, **fixed):
    """La classe d'un étudiant qui a écrit ``fixed`` en dur dans son __init__."""
    return type(base.__name__, (base,), {"__init__": functools.partialmethod(base.__init__, **fixed)})


def refused(check, answer, match):
    with pytest.raises(CheckError, match=match):
        check(answer)


# --- jour 2 : activations en fonctions ------------------------------------------------------

class ToyGenerator(nn.Module):
    def __init__(self, z_dim=2, hidden=128, n_hidden=2, inner=torch.relu, on_noise=None, on_output=None):
        super().__init__()
        widths = [z_dim] + [hidden] * n_hidden
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.out = nn.Linear(hidden, 2)
        self.inner, self.on_noise, self.on_output = inner, on_noise, on_output

    def forward(self, z):
        if self.on_noise is not None:
            z = self.on_noise(z)
        for layer in self.layers:
            z = self.inner(layer(z))
        out = self.out(z)
        return out if self.on_output is None else self.on_output(out)


class ToyDiscriminator(nn.Module):
    def __init__(self, hidden=128, n_hidden=2, inner=lambda x: F.leaky_relu(x, 0.2)):
        super().__init__()
        widths = [2] + [hidden] * n_hidden
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.out = nn.Linear(hidden, 1)
        self.inner = inner

    def forward(self, x):
        for layer in self.layers:
            x = self.inner(layer(x))
        return self.out(x)


def test_day2_functional_right_answers_pass(verdicts):
    jour_02.check_toy_generator(ToyGenerator())
    jour_02.check_toy_discriminator(ToyDiscriminator())
    assert len(verdicts()) == 2


@pytest.mark.parametrize("options, match", [
    ({"on_output": F.relu}, "une ReLU en sortie"),
    ({"on_noise": F.relu}, "ne calcule pas ce que calcule le réseau de l'énoncé"),
    ({"inner": torch.sigmoid}, "une sigmoïde après chaque couche cachée"),
], ids=["F.relu en sortie", "ReLU sur le bruit", "sigmoïde cachée"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_day2_generator_wrong_functional_activations_are_refused(options, match, seed):
    torch.manual_seed(seed)   # le verdict ne dépend pas des poids tirés
    refused(jour_02.check_toy_generator, ToyGenerator(**options), match)


def test_day2_leaky_relu_with_its_default_slope_is_refused():
    refused(jour_02.check_toy_discriminator, ToyDiscriminator(inner=F.leaky_relu), r"pente 0,01")


# --- jour 2 : une perte qui coupe un gradient --------------------------------------------

def _d_loss(detach_real):
    def discriminator_loss(real_out, fake_out, kind="non_saturating"):
        if detach_real:
            real_out = real_out.detach()
        if kind == "least_squares":
            return 0.5 * ((real_out - 1) ** 2).mean() + 0.5 * (fake_out ** 2).mean()
        return (F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out))
                + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))
    return discriminator_loss


def _g_loss(fake_out, kind="non_saturating"):
    if kind == "least_squares":
        return 0.5 * ((fake_out - 1) ** 2).mean()
    if kind == "saturating":
        return -F.softplus(fake_out).mean()
    return F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))


def test_day2_detach_inside_the_loss_is_blamed_on_the_loss(verdicts):
    jour_02.check_toy_losses(_d_loss(False), _g_loss)
    assert len(verdicts()) == 1
    with pytest.raises(CheckError, match="gradient par rapport à real_out"):
        jour_02.check_toy_losses(_d_loss(True), _g_loss)


# --- jour 3 : le générateur qui ignore z, et les poids livrés ------------------------------

class DCGenerator(nn.Module):
    def __init__(self, z_dim=256, channels=(128, 64), kernel=4, bias=False, fresh_noise=False):
        super().__init__()
        c1, c2 = channels
        padding = {4: 1, 6: 2}[kernel]
        self.net = nn.Sequential(
            nn.Linear(z_dim, c1 * 49, bias=bias), nn.BatchNorm1d(c1 * 49), nn.LeakyReLU(0.2),
            nn.Unflatten(1, (c1, 7, 7)),
            nn.ConvTranspose2d(c1, c2, kernel, 2, padding, bias=False), nn.BatchNorm2d(c2), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c2, 1, kernel, 2, padding), nn.Tanh())
        self.fresh_noise = fresh_noise

    def forward(self, z):
        return self.net(torch.randn_like(z) if self.fresh_noise else z)


def test_day3_generator_that_ignores_its_noise_is_refused(verdicts):
    jour_03.check_dcgan_generator(DCGenerator())
    assert len(verdicts()) == 1
    refused(jour_03.check_dcgan_generator, DCGenerator(fresh_noise=True), "tire du hasard")


@pytest.mark.parametrize("options", [{"kernel": 6}, {"bias": True}], ids=["noyau 6", "biais avant BatchNorm"])
def test_day3_generator_that_cannot_load_the_shipped_weights_is_refused_at_the_exercise(options):
    refused(jour_03.check_dcgan_generator, _class_with(DCGenerator, **options)(), "poids livrés")


def test_day3_smoothing_mistakes_never_get_the_day1_message():
    def discriminator_loss(d_real, d_fake, real_label=1.0):   # 0,9 × real_label : 0,9 sans lissage
        return F.binary_cross_entropy(d_real, torch.full_like(d_real, 0.9 * real_label)) + F.binary_cross_entropy(
            d_fake, torch.zeros_like(d_fake))
    with pytest.raises(CheckError, match="cible est real_label lui-même") as caught:
        jour_03.check_smoothed_discriminator_loss(discriminator_loss)
    assert "n'est pas demandé ici" not in str(caught.value)


# --- jour 4 : le critique, ses pertes, son pas ---------------------------------------------

class Critic(nn.Module):
    def __init__(self, hidden=(512, 256, 128), shape=(1, 28, 28), hard_coded=False, after=None):
        super().__init__()
        sizes = [784 if hard_coded else math.prod(shape), *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.out = nn.Linear(sizes[-1], 1)
        self.after = after

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
        out = self.out(x)
        return out if self.after is None else self.after(out)


def test_day4_functional_leaky_relu_critic_passes(verdicts):
    jour_04.check_critic(Critic())
    assert len(verdicts()) == 1


@pytest.mark.parametrize("make, match", [
    (lambda: _class_with(Critic, hard_coded=True)(), "2352"),
    (lambda: Critic(after=torch.abs), "ne calcule pas ce que calcule le réseau de l'énoncé"),
    (lambda: Critic(after=F.relu), "une ReLU en sortie|ReLU \\?"),
], ids=["784 en dur", "valeur absolue", "ReLU en sortie"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_day4_wrong_critics_are_refused(make, match, seed):
    torch.manual_seed(seed)   # le verdict ne dépend pas des poids tirés
    refused(jour_04.check_critic, make(), match)


@pytest.mark.parametrize("loss", [
    lambda c_real, c_fake: -(c_fake.mean() - c_real.mean()).abs(),
    lambda c_real, c_fake: (c_fake.mean() - c_real.mean()).clamp(max=0),
    lambda c_real, c_fake: (c_real.data.zero_(), c_fake.mean() - c_real.mean())[1],
], ids=["valeur absolue", "bornée à 0", "c_real mis à zéro"])
def test_day4_critic_losses_right_on_one_side_only_are_refused(loss):
    with pytest.raises(CheckError):
        jour_04.check_critic_loss(loss)


def test_day4_generator_loss_as_an_absolute_value_is_refused():
    refused(jour_04.check_wgan_generator_loss, lambda c_fake: c_fake.mean().abs(), "valeur absolue")


def test_day4_missing_sum_and_flat_alpha_get_their_own_hints():
    def no_sum(critic, real, fake):
        alpha = torch.rand(real.shape[0], 1, 1, 1)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(critic(mixed), mixed, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    def flat_alpha(critic, real, fake):
        alpha = torch.rand(real.shape[0], 1)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    with pytest.raises(CheckError, match="SOMME des scores") as caught:
        jour_04.check_gradient_penalty(no_sum)
    assert "BCELoss" not in str(caught.value)
    refused(jour_04.check_gradient_penalty, flat_alpha, r"\(N, 1, 1, 1\)")


def test_day4_step_without_zero_grad_for_g_is_refused():
    def step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic=5, gp_weight=10.0):
        for _ in range(n_critic):
            real = next(batches)
            fake = generator(torch.randn(real.shape[0], z_dim)).detach()
            c_real, c_fake = critic(real), critic(fake)
            gp = jour_04.reference_gradient_penalty(critic, real, fake)
            loss_c = c_fake.mean() - c_real.mean() + gp_weight * gp
            opt_c.zero_grad()
            loss_c.backward()
            opt_c.step()
        loss_g = -critic(generator(torch.randn(real.shape[0], z_dim))).mean()
        loss_g.backward()                      # opt_g.zero_grad() oublié
        opt_g.step()
        return {"loss_c": loss_c.item(), "loss_g": loss_g.item(),
                "wasserstein": (c_real.mean() - c_fake.mean()).item(), "gp": gp.item()}
    refused(jour_04.check_wgan_gp_step, step, r"opt_g\.zero_grad\(\)")


# --- jour 5 : z_dim écrit en dur ------------------------------------------------------------

class AutoEncoder(nn.Module):
    def __init__(self, z_dim=2, hard_coded=False):
        super().__init__()
        code = 2 if hard_coded else z_dim
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                                     nn.ReLU(), nn.Linear(128, z_dim))
        self.decoder = nn.Sequential(nn.Linear(code, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU(),
                                     nn.Linear(256, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))

    def forward(self, x):
        return self.decoder(self.encoder(x))


class FunctionalAutoEncoder(nn.Module):
    def __init__(self, z_dim=2, act=F.relu):
        super().__init__()
        self.act = act
        self.encoder_layers = nn.ModuleList([nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, z_dim)])
        self.decoder_layers = nn.ModuleList([nn.Linear(z_dim, 128), nn.Linear(128, 256), nn.Linear(256, 784)])
        self.encoder = _Stack(self.encoder_layers, act, None, flatten=True)
        self.decoder = _Stack(self.decoder_layers, act, torch.sigmoid)

    def forward(self, x):
        return self.decoder(self.encoder(x))


class _Stack(nn.Module):
    def __init__(self, layers, act, final, flatten=False):
        super().__init__()
        self.layers, self.act, self.final, self.flatten = layers, act, final, flatten

    def forward(self, x):
        x = x.flatten(1) if self.flatten else x
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
        if self.final is None:
            return x
        return self.final(x).view(-1, 1, 28, 28)


def test_day5_functional_autoencoder_is_judged_on_what_it_computes(verdicts):
    torch.manual_seed(0)
    jour_05.check_autoencoder(FunctionalAutoEncoder())
    assert len(verdicts()) == 1
    refused(jour_05.check_autoencoder, FunctionalAutoEncoder(act=torch.sigmoid), "une sigmoïde après chaque couche cachée")


@pytest.mark.parametrize("norm", [nn.InstanceNorm2d, lambda c: nn.GroupNorm(8, c)], ids=["InstanceNorm", "GroupNorm"])
def test_day3_other_normalisations_are_named_as_such(norm):
    class Discriminator(nn.Module):
        def __init__(self, channels=(64, 128), dropout=0.3):
            super().__init__()
            c1, c2 = channels
            self.net = nn.Sequential(nn.Conv2d(1, c1, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(c1, c2, 4, 2, 1),
                                     norm(c2), nn.LeakyReLU(0.2), nn.Dropout(dropout), nn.Flatten(),
                                     nn.Linear(c2 * 49, 1), nn.Sigmoid())

        def forward(self, x):
            return self.net(x)
    with pytest.raises(CheckError, match="une normalisation") as caught:
        jour_03.check_dcgan_discriminator(Discriminator())
    assert "plusieurs activations" not in str(caught.value)


def test_day3_success_message_describes_the_last_layer_truly(verdicts):
    jour_03.check_dcgan_generator(DCGenerator())
    (line,) = verdicts()
    assert "sauf la dernière" in line


def test_day5_hard_coded_code_size_is_refused(verdicts):
    jour_05.check_autoencoder(AutoEncoder())
    assert len(verdicts()) == 1
    refused(jour_05.check_autoencoder, _class_with(AutoEncoder, hard_coded=True)(), "code de taille 5")


# --- jour 6 : GAN conditionnel ---------------------------------------------------------------

class CondGenerator(nn.Module):
    def __init__(self, z_dim=64, n_classes=10, hidden=(32, 48), slope=0.2, num_classes=True):
        super().__init__()
        self.n_classes, self.num_classes = n_classes, num_classes
        layers, width = [], z_dim + n_classes
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.LeakyReLU(slope)]
            width = h
        self.net = nn.Sequential(*layers, nn.Linear(width, 784), nn.Tanh())

    def forward(self, z, labels):
        one_hot = (F.one_hot(labels, self.n_classes) if self.num_classes else F.one_hot(labels)).float()
        return self.net(torch.cat([z, one_hot], dim=1)).view(-1, 1, 28, 28)


class CondDiscriminator(nn.Module):
    def __init__(self, n_classes=10, hidden=(48, 32), dropout=0.1, flatten=True):
        super().__init__()
        self.n_classes, self.flatten = n_classes, flatten
        layers, width = [], 784 + n_classes
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = h
        self.net = nn.Sequential(*layers, nn.Linear(width, 1), nn.Sigmoid())

    def forward(self, images, labels):
        x = images.flatten(1) if self.flatten else images
        return self.net(torch.cat([x, F.one_hot(labels, self.n_classes).float()], dim=1))


def test_day6_conditional_networks_are_judged_on_what_they_compute(verdicts):
    jour_06.check_conditional_generator(CondGenerator())
    jour_06.check_conditional_discriminator(CondDiscriminator())
    assert len(verdicts()) == 2
    refused(jour_06.check_conditional_generator, CondGenerator(slope=0.01), r"pente 0,01")
    refused(jour_06.check_conditional_generator, CondGenerator(num_classes=False), "sans le chiffre 9")
    refused(jour_06.check_conditional_discriminator, CondDiscriminator(flatten=False), "aplatissez")


def test_day6_nan_weights_are_named_as_nan():
    generator, discriminator = CondGenerator(), CondDiscriminator()
    with torch.no_grad():
        generator.net[0].weight[0, 0] = float("nan")
        discriminator.net[0].weight[0, 0] = float("nan")
    refused(jour_06.check_conditional_generator, generator, "NaN")
    refused(jour_06.check_conditional_discriminator, discriminator, "NaN")


def _cgan_step(zero_grad=True, noise=torch.randn):
    def cgan_step(real, labels, generator, discriminator, opt_g, opt_d, z_dim=16):
        fake = generator(noise(real.shape[0], z_dim), labels)
        wrong = (labels + torch.randint(1, 10, labels.shape)) % 10
        if zero_grad:
            opt_d.zero_grad()
        d_real, d_fake = discriminator(real, labels), discriminator(fake.detach(), labels)
        d_wrong = discriminator(real, wrong)
        loss_d = (F.binary_cross_entropy(d_real, torch.ones_like(d_real))
                  + F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake))
                  + F.binary_cross_entropy(d_wrong, torch.zeros_like(d_wrong)))
        loss_d.backward()
        opt_d.step()
        if zero_grad:
            opt_g.zero_grad()
        judged = discriminator(fake, labels)
        loss_g = F.binary_cross_entropy(judged, torch.ones_like(judged))
        loss_g.backward()
        opt_g.step()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
                "d_fake": d_fake.mean().item()}
    return cgan_step


def test_day6_cgan_step_is_played_with_stale_gradients_and_its_noise_is_looked_at(verdicts):
    jour_06.check_cgan_step(_cgan_step())
    assert len(verdicts()) == 1
    refused(jour_06.check_cgan_step, _cgan_step(zero_grad=False), r"zero_grad\(\)")
    refused(jour_06.check_cgan_step, _cgan_step(noise=torch.rand), "torch.randn")


def test_day6_radius_wrong_only_for_precision_is_refused():
    def precision_recall(real, fake, k=3):
        distances = torch.cdist(real, fake)
        real_radii = torch.cdist(real, real).fill_diagonal_(float("inf")).kthvalue(3, dim=1).values
        fake_radii = torch.cdist(fake, fake).fill_diagonal_(float("inf")).kthvalue(k, dim=1).values
        return ((distances < real_radii[:, None]).any(dim=0).float().mean().item(),
                (distances < fake_radii[None, :]).any(dim=1).float().mean().item())
    refused(jour_06.check_precision_recall, precision_recall, "k=4")


def test_day6_knn_radii_that_centres_the_callers_points_is_refused():
    def knn_radii(points, k):
        points -= points.mean(dim=0)
        return torch.cdist(points, points).fill_diagonal_(float("inf")).kthvalue(k, dim=1).values
    refused(jour_06.check_knn_radii, knn_radii, "en place")


def test_day6_tensors_where_numbers_are_expected_are_refused():
    def precision_recall(real, fake, k=3):
        distances = torch.cdist(real, fake)
        radii = [torch.cdist(p, p).fill_diagonal_(float("inf")).kthvalue(k, dim=1).values for p in (real, fake)]
        return ((distances < radii[0][:, None]).any(dim=0).float().mean(),
                (distances < radii[1][None, :]).any(dim=1).float().mean())
    refused(jour_06.check_precision_recall, precision_recall, r"\.item\(\)")


# --- une boucle sans fin -----------------------------------------------------------------------

def test_an_endless_loop_is_stopped_with_a_french_message(monkeypatch):
    monkeypatch.setattr(core, "CALL_SECONDS", 1)

    def critic_loss(c_real, c_fake):
        while True:
            try:
                pass
            except Exception:   # un except large de l'étudiant n'avale pas l'alarme
                pass
    refused(jour_04.check_critic_loss, critic_loss, "n'a pas rendu la main en 1 s")
