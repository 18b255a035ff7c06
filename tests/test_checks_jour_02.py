"""Jour 2 : les auto-vérifications du GAN jouet (modèles, trois pertes, pas d'entraînement à
d_steps pas de D) acceptent la réponse du corrigé et ses variantes justes, et rejettent chaque
erreur typique avec un message qui nomme la ligne à corriger."""

import pytest
import torch
import torch.nn.functional as F
from helpers import (
    NAN,
    Broken,
    assert_check_leaves_model_untouched,
    diverged,
    global_rng_untouched,
    make_mlp,
    toy_d_loss,
    toy_g_loss,
    toy_train_step,
)
from torch import nn

from utils import checks
from utils.checks import CheckError

# --- exercices 1 et 2 : les deux réseaux -------------------------------------


def _leaky():
    return nn.LeakyReLU(0.2)


class _Net(nn.Module):
    """Un réseau écrit comme dans le notebook (classe, arguments de l'énoncé), avec des options
    qui reproduisent les erreurs typiques."""

    def __init__(self, n_in, n_out, hidden=32, n_hidden=2, act=nn.ReLU, functional=None,
                 hard_coded=False, skip_act=False, out_fn=None):
        super().__init__()
        if hard_coded:  # les arguments sont ignorés : toujours 2 couches cachées de 32
            hidden, n_hidden = 32, 2
        self.hidden = nn.ModuleList(nn.Linear(n_in if i == 0 else hidden, hidden)
                                    for i in range(n_hidden))
        self.act = act()
        self.out = nn.Linear(hidden, n_out)
        self.functional, self.skip_act, self.out_fn = functional, skip_act, out_fn

    def forward(self, x):
        for layer in self.hidden:
            x = layer(x)
            if not self.skip_act:
                x = self.functional(x) if self.functional else self.act(x)
        x = self.out(x)
        return self.out_fn(x) if self.out_fn else x


class ToyGenerator(_Net):
    def __init__(self, z_dim=2, hidden=32, n_hidden=2, **options):
        z_dim = 2 if options.get("hard_coded") else z_dim
        super().__init__(z_dim, 2, hidden, n_hidden, **options)


class ToyDiscriminator(_Net):
    def __init__(self, hidden=32, n_hidden=2, **options):
        options.setdefault("act", _leaky)
        super().__init__(2, 1, hidden, n_hidden, **options)


class HardCodedGenerator(ToyGenerator):
    def __init__(self, z_dim=2, hidden=32, n_hidden=2):
        super().__init__(z_dim, hidden, n_hidden, hard_coded=True)


class HardCodedDiscriminator(ToyDiscriminator):
    def __init__(self, hidden=32, n_hidden=2):
        super().__init__(hidden, n_hidden, hard_coded=True)


class SameInputWidth(ToyGenerator):
    # Toutes les couches cachées reçoivent z_dim : nn.Linear(z_dim, hidden) recopiée dans la boucle.
    def __init__(self, z_dim=2, hidden=32, n_hidden=2):
        nn.Module.__init__(self)
        layers = []
        for _ in range(n_hidden):
            layers += [nn.Linear(z_dim, hidden), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(hidden, 2))

    def forward(self, z):
        return self.net(z)


def _without_last_activation(n_out, act):
    # La boucle oublie l'activation après la dernière couche cachée.
    return nn.Sequential(nn.Linear(2, 32), act(), nn.Linear(32, 32), nn.Linear(32, n_out))


@pytest.mark.parametrize("model", [
    make_mlp(2, 2),
    ToyGenerator(),
    ToyGenerator(functional=F.relu),               # F.relu dans forward, aucun module d'activation
    make_mlp(2, 2, act=_leaky),                     # LeakyReLU : accepté pour G
], ids=["sequential", "classe", "F.relu", "leaky"])
def test_toy_generator_check_accepts(model, verdicts):
    checks.check_toy_generator(model)
    assert len(verdicts()) == 1


@pytest.mark.parametrize("model", [
    make_mlp(2, 1, act=_leaky),
    ToyDiscriminator(),
    ToyDiscriminator(functional=lambda x: F.leaky_relu(x, 0.2)),
], ids=["sequential", "classe", "F.leaky_relu"])
def test_toy_discriminator_check_accepts(model, verdicts):
    checks.check_toy_discriminator(model)
    assert len(verdicts()) == 1


def test_toy_generator_check_accepts_every_initialisation(verdicts):
    # Un générateur juste ne doit jamais être pris pour une sortie bornée ou positive,
    # quelle que soit la graine de son initialisation.
    for seed in range(40):
        torch.manual_seed(seed)
        checks.check_toy_generator(ToyGenerator(hidden=128))
    assert len(verdicts()) == 40


@pytest.mark.parametrize("model, message", [
    (make_mlp(2, 2, out_act=nn.Tanh()), r"sortie est suivie de nn\.Tanh\(\).*sans activation"),
    (make_mlp(2, 2, out_act=nn.ReLU()), r"sortie est suivie de nn\.ReLU\(\).*coordonnées négatives"),
    (ToyGenerator(out_fn=torch.tanh), r"restent dans \[-1, 1\].*tanh"),
    (make_mlp(2, 2, act=nn.Sigmoid), r"cachée n° 1 est suivie de nn\.Sigmoid\(\).*nn\.ReLU\(\)"),
    (ToyGenerator(skip_act=True), r"fonction affine.*appelez-les dans forward"),
    (make_mlp(2, 2, act=nn.Identity), r"fonction affine"),
    (_without_last_activation(2, nn.ReLU), r"aucune activation après la couche cachée n° 2"),
    (nn.Sequential(nn.Linear(2, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32),
                   nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2)), r"BatchNorm.*Retirez-la"),
    (HardCodedGenerator(), r"HardCodedGenerator\(z_dim=3, hidden=16, n_hidden=3\) crée les "
                                    r"couches 2 → 32 → 32 → 2.*z_dim, hidden et n_hidden"),
    (SameInputWidth(), r"mauvaise largeur \(vos couches : nn\.Linear\(2, 32\), nn\.Linear\(2, 32\)"),
    (make_mlp(2, 3), "dernière couche doit produire 2"),
    (make_mlp(2, 2, n_hidden=1), "3 couches nn.Linear attendues"),
    (nn.Linear, "pas la classe"),
], ids=["tanh", "relu-sortie", "tanh-forward", "sigmoide-cachee", "activation-pas-appelee",
        "sans-activation", "derniere-activation-oubliee", "batchnorm", "arguments-ignores",
        "largeurs", "sortie-3", "une-cachee", "classe"])
def test_toy_generator_check_rejects(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_toy_generator(model)


@pytest.mark.parametrize("model, message", [
    (make_mlp(2, 1, act=_leaky, out_act=nn.Sigmoid()), r"nn\.Sigmoid\(\).*score brut \(logit\)"),
    (ToyDiscriminator(out_fn=torch.sigmoid), r"restent dans \[0, 1\].*sigmoïde"),
    (make_mlp(2, 1, act=_leaky, out_act=nn.Tanh()), r"sortie est suivie de nn\.Tanh\(\)"),
    (ToyDiscriminator(out_fn=torch.tanh), r"restent dans \[-1, 1\].*tanh"),
    (make_mlp(2, 1, act=_leaky, out_act=nn.ReLU()), r"sortie est suivie de nn\.ReLU\(\)"),
    (make_mlp(2, 1), r"cachée n° 1 est suivie de nn\.ReLU\(\).*nn\.LeakyReLU\(0\.2\)"),
    (make_mlp(2, 1, act=nn.LeakyReLU), r"LeakyReLU\(0\.01\).*pente.*vaut 0,01.*nn\.LeakyReLU\(0\.2\)"),
    (ToyDiscriminator(skip_act=True), r"fonction affine"),
    (_without_last_activation(1, _leaky), r"aucune activation après la couche cachée n° 2"),
    (nn.Sequential(nn.Linear(2, 32), _leaky(), nn.Dropout(0.3), nn.Linear(32, 32), _leaky(),
                   nn.Dropout(0.3), nn.Linear(32, 1)), r"Dropout.*Retirez-la"),
    (HardCodedDiscriminator(), r"HardCodedDiscriminator\(hidden=16, n_hidden=3\) crée"),
    (make_mlp(2, 2, act=_leaky), "dernière couche doit produire 1"),
], ids=["sigmoide", "sigmoide-forward", "tanh", "tanh-forward", "relu-sortie", "relu-cachee",
        "pente-par-defaut", "activation-pas-appelee", "derniere-activation-oubliee", "dropout",
        "arguments-ignores", "sortie-2"])
def test_toy_discriminator_check_rejects(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_toy_discriminator(model)


def test_toy_model_checks_leave_the_global_rng_untouched(verdicts):
    generator, discriminator = ToyGenerator(), ToyDiscriminator()
    with global_rng_untouched():
        checks.check_toy_generator(generator)
        checks.check_toy_discriminator(discriminator)
    assert len(verdicts()) == 2


# --- exercice 3 : les trois pertes ---------------------------------------------

def _d_loss(bce_kinds):
    """Une perte de D juste pour les moindres carrés, et ``bce_kinds(r, f)`` pour les deux autres."""
    def loss(real_out, fake_out, kind="non_saturating"):
        if kind == "least_squares":
            return toy_d_loss(real_out, fake_out, kind)
        return bce_kinds(real_out, fake_out)
    return loss


def _d_least_squares(fn):
    def loss(real_out, fake_out, kind="non_saturating"):
        return fn(real_out, fake_out) if kind == "least_squares" else toy_d_loss(real_out, fake_out, kind)
    return loss


def _g_loss(kind_to_fix, fn):
    def loss(fake_out, kind="non_saturating"):
        return fn(fake_out) if kind == kind_to_fix else toy_g_loss(fake_out, kind)
    return loss


_bce, _sig = F.binary_cross_entropy_with_logits, torch.sigmoid


def _ones(s):
    return torch.ones_like(s)


def _zeros(s):
    return torch.zeros_like(s)


@pytest.mark.parametrize("d_loss, g_loss", [
    (toy_d_loss, toy_g_loss),
    (_d_loss(lambda r, f: (-torch.log(_sig(r)) - torch.log(1 - _sig(f))).mean()),
     _g_loss("saturating", lambda f: torch.log(1 - _sig(f)).mean())),
    (_d_loss(lambda r, f: nn.BCELoss()(_sig(r), _ones(r)) + nn.BCELoss()(_sig(f), _zeros(f))),
     _g_loss("saturating", lambda f: -_bce(f, _zeros(f)))),
    (_d_loss(lambda r, f: (F.softplus(-r) + F.softplus(f)).mean()),
     _g_loss("non_saturating", lambda f: -F.logsigmoid(f).mean())),
], ids=["corrige", "logs-a-la-main", "bceloss-sigmoide", "softplus"])
def test_toy_losses_check_accepts(d_loss, g_loss, verdicts):
    checks.check_toy_losses(d_loss, g_loss)
    assert len(verdicts()) == 1


@pytest.mark.parametrize("d_loss, message", [
    (_d_loss(lambda r, f: F.binary_cross_entropy(r, _ones(r)) + F.binary_cross_entropy(f, _zeros(f))),
     r"'saturating'\) : F\.binary_cross_entropy .*attend des probabilités.*with_logits"),
    (_d_loss(lambda r, f: (-torch.log(r) - torch.log(1 - f)).mean()),
     r"dans la valeur renvoyée par discriminator_loss\(\.\.\., 'saturating'\) \(nan\).*NaN.*"
     r"un logarithme.*scores.*bruts.*sigmoïde"),
    (_d_loss(lambda r, f: _bce(r, _zeros(r)) + _bce(f, _ones(f))), "les cibles sont inversées"),
    (_d_loss(lambda r, f: (torch.log(_sig(r)) + torch.log(1 - _sig(f))).mean()),
     r"le signe est inversé : c'est V = log D\(x\) \+ log\(1 − D\(G\(z\)\)\)"),
    (_d_loss(lambda r, f: _bce(r, _ones(r), reduction="sum") + _bce(f, _zeros(f), reduction="sum")),
     r"somme sur le mini-lot.*moyenne"),
    (_d_loss(lambda r, f: (_bce(r, _ones(r)) + _bce(f, _zeros(f))) / 2), "divisée par 2"),
    (_d_loss(lambda r, f: _bce(r, _ones(r))), "il manque le terme des faux"),
    (_d_loss(lambda r, f: _bce(f, _zeros(f))), "il manque le terme des vrais"),
    (_d_loss(lambda r, f: _bce(r, _ones(r)) + _bce(f, _ones(f))), "les faux reçoivent aussi la cible 1"),
    (_d_loss(lambda r, f: _bce(r, torch.full_like(r, 0.9)) + _bce(f, _zeros(f))), "lissage"),
    (_d_least_squares(lambda r, f: toy_d_loss(r, f, "saturating")),
     r"'least_squares'\).*c'est l'entropie croisée.*branche « least_squares » n'est pas prise"),
    (_d_least_squares(lambda r, f: F.mse_loss(r, _ones(r)) + F.mse_loss(f, _zeros(f))), "facteur ½"),
    (_d_least_squares(lambda r, f: 0.5 * (r ** 2).mean() + 0.5 * ((f - 1) ** 2).mean()),
     "les cibles sont inversées"),
    (_d_least_squares(lambda r, f: 0.5 * ((_sig(r) - 1) ** 2).mean() + 0.5 * (_sig(f) ** 2).mean()),
     "pas de sigmoïde pour les moindres carrés"),
], ids=["bce-sans-logits", "log-du-score", "cibles-inversees", "V-sans-moins", "somme",
        "moitie", "sans-faux", "sans-vrais", "faux-cible-1", "lissage", "ls-branche",
        "ls-mse", "ls-cibles", "ls-sigmoide"])
def test_toy_losses_check_rejects_discriminator_mistakes(d_loss, message):
    with pytest.raises(CheckError, match=message):
        checks.check_toy_losses(d_loss, toy_g_loss)


@pytest.mark.parametrize("g_loss, message", [
    (_g_loss("saturating", lambda f: toy_g_loss(f, "non_saturating")),
     r"'saturating'\).*c'est la perte non saturante"),
    (_g_loss("saturating", lambda f: -torch.log(1 - _sig(f)).mean()),
     r"'saturating'\).*le signe est inversé : la perte saturante est log\(1 − D\(G\(z\)\)\)"),
    (_g_loss("saturating", lambda f: torch.log(_sig(f)).mean()), r"c'est log D\(G\(z\)\)"),
    (_g_loss("saturating", lambda f: torch.log(1 - f).mean()), "le log est pris sur le score brut"),
    (_g_loss("non_saturating", lambda f: toy_g_loss(f, "saturating")),
     r"'non_saturating'\).*c'est la perte saturante"),
    (_g_loss("non_saturating", lambda f: _bce(f, _zeros(f))), r"la cible est 0.*torch\.ones_like"),
    (_g_loss("non_saturating", lambda f: torch.log(_sig(f)).mean()), "le signe est inversé"),
    (_g_loss("non_saturating", lambda f: F.binary_cross_entropy(f, _ones(f))),
     "attend des probabilités"),
    (_g_loss("non_saturating", lambda f: _bce(f, _ones(f), reduction="sum")), "somme sur le mini-lot"),
    (_g_loss("non_saturating", lambda f: _bce(f.detach(), _ones(f))), "coupé le graphe"),
    (_g_loss("least_squares", lambda f: 0.5 * (f ** 2).mean()), "cible des moindres carrés pour G est 1"),
    (_g_loss("least_squares", lambda f: F.mse_loss(f, _ones(f))), "facteur ½"),
    (_g_loss("least_squares", lambda f: 0.5 * ((_sig(f) - 1) ** 2).mean()),
     "pas de sigmoïde pour les moindres carrés"),
    (_g_loss("least_squares", lambda f: toy_g_loss(f, "non_saturating")),
     r"pour 'least_squares', c'est la perte non saturante qui est calculée : vérifiez le test sur kind"),
], ids=["sat-non-sat", "sat-signe", "sat-log-D", "sat-sans-sigmoide", "ns-sat", "ns-cible-0",
        "ns-signe", "ns-bce-sans-logits", "ns-somme", "ns-detach", "ls-cible-0", "ls-mse",
        "ls-sigmoide", "ls-branche"])
def test_toy_losses_check_rejects_generator_mistakes(g_loss, message):
    with pytest.raises(CheckError, match=message):
        checks.check_toy_losses(toy_d_loss, g_loss)


# --- exercice 4 : le pas d'entraînement ----------------------------------------

def _step(**mistakes):
    """Un train_step d'étudiant : la réponse juste, ou une erreur typique (une option à la fois)."""
    def train_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                   loss="non_saturating", d_steps=1):
        kind_d = "non_saturating" if mistakes.get("no_kind") else loss
        real = sample_real(batch_size) if mistakes.get("hoist") else None
        z = torch.randn(batch_size, z_dim) if mistakes.get("hoist") else None
        losses_d = []
        for _ in range(1 if mistakes.get("one_d") else d_steps):
            if not mistakes.get("hoist"):
                real = sample_real(batch_size)
                z = torch.randn(batch_size, z_dim)
            fake = generator(z)
            if mistakes.get("zero_d") != "none" and mistakes.get("zero_d") != "late":
                opt_d.zero_grad()
            out_real, out_fake = discriminator(real), discriminator(fake.detach())
            if mistakes.get("swap_d_args"):
                out_real, out_fake = out_fake, out_real
            loss_d = toy_d_loss(out_real, out_fake, kind_d)
            loss_d.backward()
            if mistakes.get("zero_d") == "late":
                opt_d.zero_grad()
            (opt_g if mistakes.get("opt_in_d") == "g" else opt_d).step()
            losses_d.append(loss_d)
        fake = generator(torch.randn(batch_size, z_dim))
        if mistakes.get("zero_g") != "late":
            opt_g.zero_grad()
        loss_g = toy_g_loss(discriminator(fake.detach() if mistakes.get("detach_g") else fake), kind_d)
        if not mistakes.get("no_backward_g"):
            loss_g.backward()
        if mistakes.get("zero_g") == "late":
            opt_g.zero_grad()
        (opt_d if mistakes.get("opt_in_g") == "d" else opt_g).step()
        loss_d = losses_d[0] if mistakes.get("first_loss_d") else losses_d[-1]
        result = {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
        if mistakes.get("swap_keys"):
            result = {"loss_d": result["loss_g"], "loss_g": result["loss_d"]}
        if mistakes.get("tensors"):
            result = {k: torch.tensor(v) for k, v in result.items()}
        return result
    return train_step


def _g_inside_loop(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                   loss="non_saturating", d_steps=1):
    for _ in range(d_steps):
        result = toy_train_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim,
                                batch_size, loss, 1)
    return result


def _noise_transposed(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                      loss="non_saturating", d_steps=1):
    generator(torch.randn(z_dim, batch_size))


def _sample_real_without_size(sample_real, generator, discriminator, opt_g, opt_d, z_dim,
                              batch_size, loss="non_saturating", d_steps=1):
    sample_real()


def _ring_sampled_directly(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                           loss="non_saturating", d_steps=1):
    from utils import toy2d
    return toy_train_step(lambda n: toy2d.sample_target("ring", n), generator, discriminator, opt_g,
                          opt_d, z_dim, batch_size, loss, d_steps)


def _loop_one_short(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                    loss="non_saturating", d_steps=1):
    for _ in range(1, d_steps):
        loss_d = toy_d_loss(discriminator(sample_real(batch_size)),
                            discriminator(generator(torch.randn(batch_size, z_dim)).detach()), loss)
    return {"loss_d": loss_d.item()}


def _loss_overwritten(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                      loss="non_saturating", d_steps=1):
    # loss = discriminator_loss(...) écrase le nom de la perte : au pas suivant, kind est un tenseur.
    for _ in range(d_steps):
        real, fake = sample_real(batch_size), generator(torch.randn(batch_size, z_dim))
        opt_d.zero_grad()
        kind = loss if isinstance(loss, str) else "non_saturating"
        loss = toy_d_loss(discriminator(real), discriminator(fake.detach()), kind)
        loss.backward()
        opt_d.step()
    loss_d = loss
    fake = generator(torch.randn(batch_size, z_dim))
    opt_g.zero_grad()
    loss_g = toy_g_loss(discriminator(fake), "non_saturating")
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}


def _reuse_fake(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                loss="non_saturating", d_steps=1):
    # Variante juste : le pas de G réutilise le dernier lot généré pour D.
    for _ in range(d_steps):
        real, fake = sample_real(batch_size), generator(torch.randn(batch_size, z_dim))
        opt_d.zero_grad()
        loss_d = toy_d_loss(discriminator(real), discriminator(fake.detach()), loss)
        loss_d.backward()
        opt_d.step()
    opt_g.zero_grad()
    loss_g = toy_g_loss(discriminator(fake), loss)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}


@pytest.mark.parametrize("step", [toy_train_step, _step(), _reuse_fake],
                         ids=["corrige", "options", "lot-reutilise"])
def test_toy_train_step_check_accepts(step, verdicts):
    with global_rng_untouched():
        checks.check_toy_train_step(step)
    assert len(verdicts()) == 1


@pytest.mark.parametrize("step, message", [
    (_step(one_d=True), r"d_steps=3 : le discriminateur ne fait qu'un pas.*range\(d_steps\)"),
    (_step(hoist=True), r"le lot réel et le bruit sont tirés une seule fois, avant la boucle"),
    (_step(zero_d="none"), r"opt_d\.zero_grad\(\) avant loss_d\.backward\(\)"),
    (_step(zero_d="late"), r"discriminateur n'ont pas bougé : opt_d\.zero_grad\(\) est appelé "
                           r"entre loss_d\.backward\(\) et opt_d\.step\(\)"),
    (_step(zero_g="late"), r"générateur n'ont pas bougé : opt_g\.zero_grad\(\) est appelé "
                           r"entre loss_g\.backward\(\) et opt_g\.step\(\)"),
    (_step(opt_in_d="g"), r"discriminateur n'ont pas bougé : dans le pas du discriminateur, "
                          r"c'est opt_g\.step\(\)"),
    (_step(opt_in_g="d"), r"générateur n'ont pas bougé : dans le pas du générateur, "
                          r"c'est opt_d\.step\(\)"),
    (_step(detach_g=True), r"générateur n'ont pas bougé : le gradient de loss_g s'arrête avant G"),
    (_step(no_backward_g=True), r"loss_g\.backward\(\) n'est pas appelé"),
    (_step(swap_d_args=True), "discriminator_loss reçoit ses deux scores dans le désordre"),
    (_step(no_kind=True), r"d_steps=3 : les pertes sont appelées sans l'argument loss"),
    (_g_inside_loop, r"le pas du générateur est dans la boucle des d_steps : G fait 3 pas"),
    (_loss_overwritten, r"la variable loss, qui contient le nom de la perte, est écrasée.*loss_d et loss_g"),
    (_step(first_loss_d=True), r"loss_d = .* : c'est la perte du premier pas de D"),
    (_step(swap_keys=True), "les deux pertes renvoyées sont inversées"),
    (_step(tensors=True), "float"),
    (_noise_transposed, r"torch\.randn\(batch_size, z_dim\)"),
    (_sample_real_without_size, r"sample_real\(\) : .*sample_real\(batch_size\)"),
    (_ring_sampled_directly, "sample_real n'est jamais appelée"),
    (_loop_one_short, r"loss_d n'est pas défini.*range\(d_steps\)"),
], ids=["un-pas-de-D", "lot-hors-boucle", "sans-zero-grad-D", "zero-grad-tardif-D",
        "zero-grad-tardif-G", "opt-g-dans-D", "opt-d-dans-G", "fake-detache-pour-G",
        "sans-backward-G", "scores-inverses", "sans-loss", "G-dans-la-boucle", "loss-ecrasee",
        "premiere-perte-D", "cles-inversees", "tenseurs", "bruit-transpose", "sample-real-vide",
        "sample-target", "boucle-trop-courte"])
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


#: Graines où ce petit réseau donne des scores tous positifs (une tanh y reste dans [0, 1]).
@pytest.mark.parametrize("seed", [21, 24, 71, 95, 0, 1])
def test_toy_discriminator_tanh_in_forward_is_named_whatever_the_weights(seed):
    """Même quand tous les scores sont positifs, une tanh n'est pas prise pour une sigmoïde."""
    torch.manual_seed(seed)
    with pytest.raises(CheckError, match=r"restent dans \[-1, 1\].*tanh"):
        checks.check_toy_discriminator(ToyDiscriminator(out_fn=torch.tanh))


# --- sorties NaN ou détachées, modèle rendu intact, entrées qui ne sont pas ce qu'on attend ---

TOY_MODELS = [(checks.check_toy_generator, ToyGenerator), (checks.check_toy_discriminator, ToyDiscriminator)]


@pytest.mark.parametrize("check, make", TOY_MODELS, ids=["generateur", "discriminateur"])
@pytest.mark.parametrize("post", [lambda out: out * NAN, lambda out: torch.log(out - out)],
                         ids=["nan", "log-de-0"])
def test_toy_nan_or_infinite_output_is_refused(check, make, post):
    # Avant : ✅ pour une sortie NaN (toute comparaison avec NaN est fausse), « aucune activation »
    # pour une sortie -inf.
    with pytest.raises(CheckError, match=r"^❌ Des NaN ou des infinis dans la sortie du (générateur|"
                                         r"discriminateur).*division par zéro"):
        check(Broken(make(), post))


@pytest.mark.parametrize("check, make", TOY_MODELS, ids=["generateur", "discriminateur"])
def test_toy_diverged_weights_are_named(check, make):
    with pytest.raises(CheckError, match=r"Les poids du modèle en contiennent déjà.*divergé"):
        check(diverged(make()))


@pytest.mark.parametrize("check, make", TOY_MODELS, ids=["generateur", "discriminateur"])
@pytest.mark.parametrize("broken", [lambda m: Broken(m, lambda out: out.detach()),
                                    lambda m: Broken(m, no_grad=True)], ids=["detach", "no_grad"])
def test_toy_detached_output_is_named(check, make, broken):
    # Avant : RuntimeError: element 0 of tensors does not require grad.
    with pytest.raises(CheckError, match=r"(Générateur|Discriminateur) : la sortie est détachée du graphe"):
        check(broken(make()))


@pytest.mark.parametrize("check, model, good", [
    (checks.check_toy_generator, ToyGenerator(), True),
    (checks.check_toy_generator, HardCodedGenerator(), False),          # échoue après la rétropropagation
    (checks.check_toy_discriminator, ToyDiscriminator(), True),
    (checks.check_toy_discriminator, HardCodedDiscriminator(), False),
], ids=["generateur-juste", "generateur-faux", "discriminateur-juste", "discriminateur-faux"])
def test_toy_model_checks_leave_the_model_untouched(check, model, good):
    # Avant : les .grad de l'étudiant étaient effacés.
    assert_check_leaves_model_untouched(check, model, good)


def test_toy_model_of_another_dtype_is_refused_clearly():
    with pytest.raises(CheckError, match=r"^❌ Le générateur a des poids de type torch\.float64"):
        checks.check_toy_generator(ToyGenerator().double())


@pytest.mark.parametrize("d_loss, g_loss, message", [
    (toy_d_loss, lambda f, kind="non_saturating": toy_g_loss(f, kind) / 0.0 * 0.0,
     r"dans la valeur renvoyée par generator_loss\(\.\.\., 'saturating'\) \(nan\).*un logarithme"),
    (None, toy_g_loss, r"On attend la fonction discriminator_loss, reçu None"),
    (toy_d_loss, toy_g_loss(torch.ones(2, 1)), r"On attend la fonction generator_loss, reçu un objet Tensor"),
], ids=["nan", "none", "resultat"])
def test_toy_losses_broken_functions(d_loss, g_loss, message):
    with pytest.raises(CheckError, match=message):
        checks.check_toy_losses(d_loss, g_loss)


def _nan_d_loss(real_out, fake_out, kind):
    """Une perte de D qui vaut NaN (une division 0 / 0) : les poids de D deviennent NaN, sans erreur."""
    return toy_d_loss(real_out, fake_out, kind) * (real_out - real_out).sum() / 0.0


def _nan_loss_d(*args, **kwargs):
    return toy_train_step(*args, **kwargs, d_loss=_nan_d_loss)


@pytest.mark.parametrize("step, message", [
    (_nan_loss_d, r"^❌ Des NaN ou des infinis dans les poids du discriminateur après train_step\(.*Le pas a "
                  r"divergé"),
    (lambda *a: {**toy_train_step(*a), "loss_g": float("inf")},
     r"dans la valeur loss_g renvoyée par train_step\(.*\(inf\)"),
    (None, r"On attend la fonction train_step, reçu None"),
], ids=["perte-d-nan", "valeur-infinie", "none"])
def test_toy_train_step_that_diverges_or_is_missing(step, message):
    # Avant : « le discriminateur diffère de la référence (écart max nan) », « renvoyez
    # loss_g.item() » ou TypeError: 'NoneType' object is not callable.
    with pytest.raises(CheckError, match=message):
        checks.check_toy_train_step(step)
