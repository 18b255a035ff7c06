"""Jour 4 : WGAN-GP sur MNIST.

Le critique (sans sigmoïde ni BatchNorm), sa perte, la pénalité de gradient,
la perte du générateur et le pas d'entraînement à ``n_critic`` pas du critique.

La pénalité de gradient se vérifie sur ce qu'elle fait, pas seulement sur sa
valeur : un critique « espion » note les images sur lesquelles on l'appelle.
Connaissant les vraies et les fausses images, on retrouve le coefficient
d'interpolation α de chaque pixel, ce qui reconnaît les erreurs qu'on trouve
dans de vraies implémentations : α tiré par pixel au lieu d'un par image, tiré
d'une loi normale, un seul α pour tout le lot, la pénalité calculée sur les
vraies (ou les fausses) images au lieu des points interpolés. La valeur est
ensuite comparée à la référence sur les mêmes points, ce qui reconnaît la norme
prise sur tout le lot, la norme au carré, λ compté deux fois, et
``create_graph`` oublié (la pénalité n'a alors plus de gradient).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .core import (
    _activation_variants,
    _as_scalar,
    _call,
    _check_argument_order,
    _check_behaves_like,
    _check_finite,
    _check_function,
    _check_gradients,
    _check_module,
    _check_pure_forward,
    _class_parameters,
    _fail,
    _forward_trace,
    _has,
    _linear_in_call_order,
    _ok,
    _ReferenceMLP,
    _sizes,
    _untouched,
    describe_difference,
)

__all__ = ["check_critic", "check_critic_loss", "check_gradient_penalty", "check_wgan_generator_loss",
           "check_wgan_gp_step"]

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d)
_SQUASH = (nn.Sigmoid, nn.Tanh, nn.Softmax, nn.Hardtanh, nn.Hardsigmoid, nn.LogSigmoid)


# --- exercice 1 : le critique -----------------------------------------------------------

def check_critic(critic: nn.Module, hidden=(512, 256, 128)) -> None:
    """Vérifie le critique : 784 → ``hidden`` → 1, ``LeakyReLU(0,2)`` après chaque couche cachée,
    ni sigmoïde, ni BatchNorm, ni Dropout, un score réel par image qui ne dépend que de cette image."""
    __tracebackhide__ = True
    _check_module(critic, "le critique")
    modules = list(critic.modules())
    norms = [m for m in modules if isinstance(m, _NORMS)]
    if norms:
        _fail(f"Le critique contient une couche de normalisation par lot ({type(norms[0]).__name__}) : "
              "retirez-la. Avec une BatchNorm, le score d'une image dépend des autres images du lot, "
              "alors que la pénalité de gradient contraint la pente du score de CHAQUE image par rapport "
              "à cette image seule (Gulrajani et al. 2017 l'enlèvent pour cette raison). Si vous tenez à "
              "normaliser, nn.LayerNorm (par image) est permise.")
    squash = [m for m in modules if isinstance(m, _SQUASH)]
    if squash:
        _fail(f"Le critique contient {type(squash[0]).__name__} : retirez-la. Un critique rend un score "
              "réel, sans borne (plus haut = plus « vrai »), pas une probabilité ; une sigmoïde à la fin "
              "ramènerait la saturation que WGAN veut éviter.")
    dropouts = [m for m in modules if isinstance(m, nn.Dropout)]
    if dropouts:
        _fail("Le critique contient un Dropout : retirez-le. La pénalité de gradient mesure la pente d'une "
              "fonction ; avec un Dropout, le critique change à chaque appel et cette pente n'a plus de sens.")
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(16, 1, 28, 28, generator=gen) * 2 - 1
    layers = _linear_in_call_order(critic, x)   # dans l'ordre où forward les appelle
    expected = [28 * 28, *hidden, 1]
    sizes = [layers[0].in_features, *(m.out_features for m in layers)] if layers else []
    if sizes != expected:
        _fail(f"Le critique doit avoir les tailles {' → '.join(map(str, expected))} (comme le discriminateur "
              f"du jour 1), il a : {_sizes(layers)}.")
    with _untouched(critic):
        critic.train()
        out, calls = _call(_forward_trace, critic, x, what="Le critique, sur un lot de 16 images (16, 1, 28, 28),")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (16, 1):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"Le critique doit rendre un score par image, de forme (16, 1) pour 16 images ; reçu {shape}.")
        _check_finite(out, "les scores du critique", model=critic)
        alone = _call(critic, x[:4], what="Le critique, sur un lot de 4 images")
        if not torch.allclose(alone, out[:4], rtol=1e-4, atol=1e-5):
            _fail("Le score d'une image change selon les autres images du lot "
                  f"({describe_difference(alone, out[:4])}) : quelque chose mélange les images (une "
                  "normalisation par lot écrite à la main ?). Chaque image doit être notée seule.")
        with torch.no_grad():
            layers[-1].weight.mul_(1000)
            layers[-1].bias.mul_(1000)
            big = critic(x)
        if big.abs().max() <= 1.0:
            _fail("Les scores du critique restent entre -1 et 1 même quand on multiplie les poids de sa "
                  "dernière couche par 1 000 : forward les écrase (torch.sigmoid, torch.tanh, une ReLU ?). "
                  "Renvoyez la sortie de la dernière couche Linear telle quelle.")
    with _untouched(critic):
        _check_pure_forward(critic, (x,), "Le critique")
        if not _has(critic, nn.LayerNorm):   # permise, mais absente du réseau de référence
            _check_behaves_like(
                critic,
                lambda hidden=lambda: nn.LeakyReLU(0.2), final=None: _ReferenceMLP(expected, hidden, final=final),
                (x,), "Le critique", f"{' → '.join(map(str, expected))}, nn.LeakyReLU(0.2) (module ou "
                "F.leaky_relu(x, 0.2)) après chaque couche cachée, aucune activation en sortie",
                _activation_variants("nn.LeakyReLU(0.2)", "aucune activation"))
        critic.train()
        _check_gradients(critic, critic(x), "Le critique")
    _check_critic_shape_argument(critic, hidden)
    _ok(f"Critique correct : {' → '.join(map(str, expected))}, LeakyReLU(0,2), un score réel par image, "
        "ni sigmoïde, ni BatchNorm, ni Dropout.")


def _check_critic_shape_argument(critic: nn.Module, hidden) -> None:
    """Le critique construit pour d'autres images (``shape=(3, 28, 28)``, la section des trois
    chiffres empilés) doit prendre ``math.prod(shape)`` valeurs en entrée, pas 784 écrit en dur."""
    __tracebackhide__ = True
    if "shape" not in _class_parameters(critic):
        return
    with torch.random.fork_rng():
        other = _call(type(critic), hidden=tuple(hidden), shape=(3, 28, 28),
                      what=f"{type(critic).__name__}(hidden={tuple(hidden)}, shape=(3, 28, 28))")
    layers = _linear_in_call_order(other, torch.rand(2, 3, 28, 28))
    if not layers or layers[0].in_features != 3 * 28 * 28:
        got = layers[0].in_features if layers else "aucune couche"
        _fail(f"{type(critic).__name__}(shape=(3, 28, 28)) a une première couche à {got} entrées au lieu "
              "de 3 × 28 × 28 = 2352 : dans __init__, calculez la taille d'entrée à partir de shape "
              "(math.prod(shape)) au lieu d'écrire 784. La section des chiffres empilés (3 canaux) "
              "construit le critique avec shape=(3, 28, 28).")


# --- exercices 2 et 4 : les pertes ------------------------------------------------------

def _scores(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 1, generator=gen) * 3).requires_grad_(True)


def _loss_value(fn, name: str, *args):
    __tracebackhide__ = True

    def explain(error):
        if "between 0 and 1" in str(error):
            return ("Les scores du critique ne sont pas des probabilités : pas d'entropie croisée (BCE) "
                    "ici, la perte de Wasserstein est une simple différence de moyennes de scores.")
        return None

    value = _call(fn, *args, what=name, explain=explain)
    return _as_scalar(value, name, hint="Un log des scores ? Ils peuvent être négatifs : pas de log ici.")


def check_critic_loss(critic_loss) -> None:
    """Vérifie ``critic_loss(c_real, c_fake)`` = moyenne de C(G(z)) − moyenne de C(x), à minimiser."""
    __tracebackhide__ = True
    _check_function(critic_loss, "critic_loss")
    _check_argument_order(critic_loss, ["c_real", "c_fake"], "critic_loss")
    # Plusieurs cas, dont les deux signes de la différence : une valeur absolue ou une perte bornée à
    # 0 est juste d'un côté seulement.
    probes = [(_scores(64, seed), _scores(64, seed + 1) + shift) for seed, shift in ((1, -1.0), (5, 2.0), (7, 0.0))]
    values = [_loss_value(critic_loss, "critic_loss(c_real, c_fake)", *pair) for pair in probes]
    _one_side_only([v.item() for v in values], [(f.mean() - r.mean()).item() for r, f in probes],
                   "critic_loss", "c_fake.mean() - c_real.mean()")
    for value, (c_real, c_fake) in zip(values, probes):
        _compare_critic_loss(value, c_real, c_fake)
    _ok("critic_loss correcte : mean(C(G(z))) − mean(C(x)), l'opposé de l'estimation de la distance W1.")


def _one_side_only(got: list[float], expected: list[float], name: str, formula: str) -> None:
    """Juste pour certains signes de la perte et pas pour d'autres : une valeur absolue ou une borne."""
    __tracebackhide__ = True
    right = [math.isclose(g, e, rel_tol=1e-4, abs_tol=1e-6) for g, e in zip(got, expected)]
    if any(right) and not all(right):
        signs = ", ".join(f"{e:+.3f} → {g:+.3f}" for g, e in zip(got, expected))
        _fail(f"{name} est juste quand la perte attendue a un signe, fausse quand elle a l'autre (attendu → "
              f"reçu : {signs}) : une valeur absolue (.abs()), une borne (.clamp(...), max(0, ...)) ou un "
              f"test sur le signe ? La perte est {formula}, positive ou négative selon les scores.")


def _compare_critic_loss(value, c_real, c_fake) -> None:
    __tracebackhide__ = True
    expected = c_fake.mean() - c_real.mean()
    got = value.item()
    if abs(got - expected.item()) > 1e-4 * max(1.0, abs(expected.item())):
        if abs(got + expected.item()) < 1e-4 * max(1.0, abs(expected.item())):
            _fail(f"critic_loss renvoie {got:.4f}, l'opposé de la valeur attendue ({expected.item():.4f}). "
                  "Le critique MINIMISE sa perte : mean(c_fake) - mean(c_real), pour que les vraies images "
                  "aient de hauts scores et les fausses de bas scores.")
        if abs(got - 64 * expected.item()) < 1e-3 * abs(64 * expected.item()):
            _fail(f"critic_loss renvoie {got:.4f}, 64 fois la valeur attendue ({expected.item():.4f}) : une "
                  "somme au lieu d'une moyenne. Utilisez .mean().")
        _fail(f"critic_loss renvoie {got:.4f} au lieu de {expected.item():.4f} (scores réels de moyenne "
              f"{c_real.mean().item():.3f}, faux de moyenne {c_fake.mean().item():.3f}). La perte du critique est "
              "c_fake.mean() - c_real.mean() : rien d'autre (ni log, ni BCE, ni valeur absolue, ni borne).")
    grads = torch.autograd.grad(value, (c_real, c_fake), allow_unused=True)
    wanted = (torch.full_like(c_real, -1 / c_real.numel()), torch.full_like(c_fake, 1 / c_fake.numel()))
    if any(g is None or not torch.allclose(g, w, atol=1e-7) for g, w in zip(grads, wanted)):
        _fail("critic_loss a la bonne valeur, mais pas le bon gradient : chaque score réel doit recevoir "
              "-1/N et chaque score faux +1/N. Ne détachez rien (.detach(), .item(), .data) dans la perte.")


def check_wgan_generator_loss(wgan_generator_loss) -> None:
    """Vérifie ``wgan_generator_loss(c_fake)`` = − moyenne de C(G(z))."""
    __tracebackhide__ = True
    _check_function(wgan_generator_loss, "wgan_generator_loss")
    probes = [_scores(64, seed) + shift for seed, shift in ((3, -0.5), (8, 2.0), (9, -3.0))]
    values = [_loss_value(wgan_generator_loss, "wgan_generator_loss(c_fake)", c) for c in probes]
    _one_side_only([v.item() for v in values], [-c.mean().item() for c in probes],
                   "wgan_generator_loss", "-c_fake.mean()")
    for value, c_fake in zip(values, probes):   # des scores de moyenne négative et positive
        _compare_generator_loss(value, c_fake)
    _ok("wgan_generator_loss correcte : −mean(C(G(z))).")


def _compare_generator_loss(value, c_fake) -> None:
    __tracebackhide__ = True
    expected = -c_fake.mean().item()
    got = value.item()
    if abs(got - expected) > 1e-4 * max(1.0, abs(expected)):
        if abs(got + expected) < 1e-4 * max(1.0, abs(expected)):
            _fail(f"wgan_generator_loss renvoie {got:.4f}, l'opposé de la valeur attendue ({expected:.4f}). "
                  "Le générateur veut des scores ÉLEVÉS pour ses images ; il minimise donc -c_fake.mean().")
        if abs(got - 64 * expected) < 1e-3 * abs(64 * expected):
            _fail(f"wgan_generator_loss renvoie {got:.4f}, 64 fois la valeur attendue ({expected:.4f}) : une "
                  "somme au lieu d'une moyenne. Utilisez .mean().")
        _fail(f"wgan_generator_loss renvoie {got:.4f} au lieu de {expected:.4f} (scores de moyenne "
              f"{c_fake.mean().item():.3f}). La perte du générateur est -c_fake.mean() : ni log, ni BCE, ni "
              "valeur absolue, ni borne.")
    (grad,) = torch.autograd.grad(value, c_fake, allow_unused=True)
    if grad is None or not torch.allclose(grad, torch.full_like(c_fake, -1 / c_fake.numel()), atol=1e-7):
        _fail("wgan_generator_loss a la bonne valeur, mais pas le bon gradient : chaque score doit recevoir "
              "-1/N. Ne détachez rien (.detach(), .item(), .data) dans la perte.")


# --- exercice 3 : la pénalité de gradient -----------------------------------------------

class _SpyCritic(nn.Module):
    """Un petit critique qui note chaque lot qu'on lui donne (pour retrouver α)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x)
        return self.net(x)


def _reference_norms(net: nn.Module, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Les gradients du score par rapport à chaque point, et leur norme par image (avec graphe)."""
    points = points.detach().clone().requires_grad_(True)
    grad, = torch.autograd.grad(net(points).sum(), points, create_graph=True)
    return grad, grad.flatten(1).norm(dim=1)


def _alpha_mistake(seen: list[torch.Tensor], real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Retrouve α sur les points où le critique a été appelé ; échoue sur les erreurs connues."""
    __tracebackhide__ = True
    shaped = [x for x in seen if isinstance(x, torch.Tensor) and tuple(x.shape) == tuple(real.shape)]
    if not shaped:
        _fail("gradient_penalty n'a pas appelé le critique sur un lot de la forme des images "
              f"{tuple(real.shape)} : appelez critic(interpolated), où interpolated mélange real et fake.")
    graded = [x for x in shaped if x.requires_grad] or shaped
    points = graded[-1].detach()
    if torch.equal(points, real):
        _fail("La pénalité est calculée sur les vraies images : il faut la calculer sur des points "
              "INTERPOLÉS entre vraies et fausses images, interpolated = alpha * real + (1 - alpha) * fake. "
              "C'est là, entre les deux distributions, que le critique doit avoir une pente de 1.")
    if torch.equal(points, fake):
        _fail("La pénalité est calculée sur les images générées : il faut la calculer sur des points "
              "INTERPOLÉS entre vraies et fausses images, interpolated = alpha * real + (1 - alpha) * fake.")
    alpha = (points - fake) / (real - fake)
    per_image = alpha.flatten(1)
    spread = (per_image.max(dim=1).values - per_image.min(dim=1).values).max().item()
    if spread > 1e-3:
        _fail("α change d'un pixel à l'autre dans une même image : vous tirez un α par pixel "
              "(torch.rand_like(real) ?). Tirez UN α par image, de forme (N, 1, 1, 1) : "
              "alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device), qui se diffuse sur les pixels. "
              "Sinon les points ne sont plus sur les segments entre une vraie et une fausse image.")
    alpha = per_image.mean(dim=1)
    if alpha.min() < -1e-4 or alpha.max() > 1 + 1e-4:
        _fail(f"α sort de [0, 1] (de {alpha.min().item():.2f} à {alpha.max().item():.2f}) : il est tiré d'une "
              "loi normale (torch.randn ?). Tirez-le uniformément sur [0, 1] avec torch.rand, pour que "
              "les points restent sur les segments entre vraies et fausses images.")
    if alpha.max() - alpha.min() < 1e-4:
        if abs(alpha.mean().item() - 1) < 1e-4:
            _fail("La pénalité est calculée sur les vraies images (α = 1) : il faut des points interpolés "
                  "alpha * real + (1 - alpha) * fake, avec α tiré au hasard.")
        if abs(alpha.mean().item()) < 1e-4:
            _fail("La pénalité est calculée sur les images générées (α = 0) : il faut des points interpolés "
                  "alpha * real + (1 - alpha) * fake, avec α tiré au hasard.")
        _fail(f"Toutes les images ont le même α ({alpha.mean().item():.3f}) : tirez un α PAR IMAGE, "
              "torch.rand(real.shape[0], 1, 1, 1, device=real.device), pas un seul nombre pour tout le lot.")
    if not 0.35 < alpha.mean().item() < 0.65 or not 0.2 < alpha.std().item() < 0.38:
        _fail(f"Les α tirés ont une moyenne de {alpha.mean().item():.2f} et un écart-type de "
              f"{alpha.std().item():.2f}, loin de ceux d'une loi uniforme sur [0, 1] (0,5 et 0,29) : "
              "tirez alpha avec torch.rand.")
    return points


def _explain_penalty_error(error) -> str | None:
    text = str(error)
    if "does not require grad" in text or "does not have a grad_fn" in text:
        return ("torch.autograd.grad dérive par rapport aux points interpolés : ils doivent le permettre. "
                "Écrivez interpolated = (alpha * real + (1 - alpha) * fake).requires_grad_(True) avant "
                "d'appeler le critique.")
    if "grad can be implicitly created only for scalar outputs" in text:
        return ("torch.autograd.grad part d'un seul nombre : donnez-lui la SOMME des scores, "
                "critic(interpolated).sum() (pas la moyenne : chaque image garderait un gradient divisé "
                "par N). Comme chaque score ne dépend que de son image, le gradient de la somme par rapport "
                "à une image est celui de son propre score.")
    if "must match the size of tensor" in text:
        return ("Deux tenseurs de formes incompatibles se rencontrent, le plus souvent α et les images : "
                "les images sont (N, 1, 28, 28), α doit être (N, 1, 1, 1) pour se diffuser sur chaque "
                "image (torch.rand(real.shape[0], 1, 1, 1, device=real.device)), pas (N, 1) ni (N,).")
    if "appears to not have been used" in text:
        return ("Le critique n'a pas été appelé sur les points dont on demande le gradient : "
                "torch.autograd.grad(critic(interpolated).sum(), interpolated, create_graph=True).")
    return None


def check_gradient_penalty(gradient_penalty) -> None:
    """Vérifie ``gradient_penalty(critic, real, fake)`` = moyenne sur les images de (‖∇ₓ̂ C(x̂)‖₂ − 1)²,
    x̂ = α·real + (1 − α)·fake, un α ~ U[0, 1] par image, sans le facteur λ."""
    __tracebackhide__ = True
    _check_function(gradient_penalty, "gradient_penalty")
    _check_argument_order(gradient_penalty, ["critic", "real", "fake"], "gradient_penalty")
    with torch.random.fork_rng():
        torch.manual_seed(40)
        spy = _SpyCritic()
        n = 256
        real = torch.rand(n, 1, 28, 28) * 0.8 + 0.2      # dans [0,2 ; 1]
        fake = -torch.rand(n, 1, 28, 28) * 0.8 - 0.2     # dans [-1 ; -0,2] : jamais égal à real
        torch.manual_seed(41)
        value = _call(gradient_penalty, spy, real, fake, what="gradient_penalty(critic, real, fake)",
                      explain=_explain_penalty_error)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and torch.isfinite(value) and not value.requires_grad:
        _fail("La pénalité n'a pas de gradient : le critique ne pourrait pas apprendre à la réduire. Dans "
              "torch.autograd.grad, ajoutez create_graph=True : le gradient calculé doit lui-même être "
              "dérivable (on dérive la pente du critique par rapport à ses poids).")
    value = _as_scalar(value, "gradient_penalty", hint="Une norme de 0 dérivée (racine en 0) ?")
    points = _alpha_mistake(spy.seen, real, fake)
    grad, norms = _reference_norms(spy.net, points)
    expected = ((norms - 1) ** 2).mean()
    got, want = value.item(), expected.item()

    def near(x):
        return abs(got - x) <= 1e-4 * max(1.0, abs(x))

    if not near(want):
        whole = (grad.flatten().norm() - 1) ** 2
        if near(whole.item()):
            _fail(f"La pénalité vaut {got:.4f} au lieu de {want:.4f} : la norme est prise sur TOUT le lot "
                  "(grad.norm()) au lieu d'une norme par image. Écrivez grad.flatten(1).norm(dim=1) : "
                  "une norme par image, puis la moyenne des (norme - 1)².")
        for factor in (10.0, 10.0 ** 2):
            if near(factor * want):
                _fail(f"La pénalité vaut {got:.4f}, {factor:g} fois la valeur attendue ({want:.4f}) : ne "
                      "multipliez pas par λ dans gradient_penalty, le pas d'entraînement le fait "
                      "(gp_weight * gradient_penalty(...)).")
        variants = {
            "la norme est élevée au carré : (‖∇‖² − 1)². Prenez la norme elle-même, "
            "grad.flatten(1).norm(dim=1)": ((norms ** 2 - 1) ** 2).mean(),
            f"une somme au lieu d'une moyenne sur les {n} images : utilisez .mean()": ((norms - 1) ** 2).sum(),
            "la pénalité n'est pas au carré : ((norme - 1) ** 2).mean()": (norms - 1).abs().mean(),
            "seule la partie au-dessus de 1 est pénalisée (version « un côté ») : le cours suit Gulrajani "
            "et al., ((norme - 1) ** 2).mean(), qui pénalise aussi les pentes plus petites que 1":
                (torch.relu(norms - 1) ** 2).mean(),
            "la norme n'est pas prise par image sur tous les pixels : grad.flatten(1).norm(dim=1)":
                ((grad.norm(dim=1) - 1) ** 2).mean(),
        }
        for reason, variant in variants.items():
            if near(variant.item()):
                _fail(f"La pénalité vaut {got:.4f} au lieu de {want:.4f} : {reason}.")
        _fail(f"La pénalité vaut {got:.4f} au lieu de {want:.4f} sur les mêmes points interpolés. Attendu : "
              "grad = torch.autograd.grad(critic(interpolated).sum(), interpolated, create_graph=True)[0], "
              "puis ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean().")
    params = list(spy.net.parameters())
    # (le biais de la dernière couche ne change pas la pente : son gradient est nul, « None »)
    mine = [torch.zeros_like(p) if g is None else g
            for p, g in zip(params, torch.autograd.grad(value, params, allow_unused=True))]
    ref = [torch.zeros_like(p) if g is None else g
           for p, g in zip(params, torch.autograd.grad(expected, params, allow_unused=True))]
    if not all(torch.allclose(a, b, rtol=1e-3, atol=1e-6) for a, b in zip(mine, ref)):
        _fail("La valeur de la pénalité est juste, mais son gradient par rapport aux poids du critique ne "
              "l'est pas : avez-vous bien create_graph=True dans torch.autograd.grad, et rien de détaché "
              "(.detach(), .item(), torch.no_grad()) dans le calcul ?")
    _ok("gradient_penalty correcte : un α uniforme par image, points interpolés, norme par image, "
        "(‖∇‖₂ − 1)² en moyenne, dérivable par rapport aux poids du critique.")


# --- exercice 5 : le pas d'entraînement -------------------------------------------------

def reference_gradient_penalty(critic, real, fake):
    """La pénalité de référence (Gulrajani et al. 2017), sans λ."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    interpolated = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(interpolated).sum(), interpolated, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def reference_wgan_gp_step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic=5, gp_weight=10.0,
                           _variant=""):
    """Le pas de référence : ``n_critic`` pas du critique (un lot neuf chacun), puis un pas de G.

    ``_variant="g_noise_first"`` : le bruit de G tiré dès le premier lot, avant celui du critique
    (juste aussi : l'énoncé ne fixe pas l'ordre des tirages)."""
    z_g = None
    for step in range(n_critic):
        real = next(batches)
        if step == 0 and _variant == "g_noise_first":
            z_g = torch.randn(real.shape[0], z_dim, device=real.device)
        z = torch.randn(real.shape[0], z_dim, device=real.device)
        fake = generator(z).detach()
        c_real, c_fake = critic(real), critic(fake)
        wasserstein = c_real.mean() - c_fake.mean()
        gp = reference_gradient_penalty(critic, real, fake)
        weight = {"no_gp": 0.0, "lambda_1": 1.0}.get(_variant, gp_weight)
        sign = -1.0 if _variant == "critic_sign" else 1.0
        loss_c = sign * -wasserstein + weight * gp
        opt_c.zero_grad()
        loss_c.backward()
        opt_c.step()
    z = z_g if z_g is not None else torch.randn(real.shape[0], z_dim, device=real.device)
    loss_g = critic(generator(z)).mean() if _variant == "generator_sign" else -critic(generator(z)).mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return {"loss_c": loss_c.item(), "loss_g": loss_g.item(), "wasserstein": wasserstein.item(), "gp": gp.item()}


class _CountingBatches:
    """Un itérateur de lots réels qui compte combien on lui en demande."""

    def __init__(self, batches):
        self._batches, self.taken = batches, 0

    def __iter__(self):
        return self

    def __next__(self):
        self.taken += 1
        return self._batches[(self.taken - 1) % len(self._batches)]


class _CountingOptimizer:
    def __init__(self, optimizer, who, events):
        self._optimizer, self._who, self._events = optimizer, who, events

    def zero_grad(self, *args, **kwargs):
        self._events.append(("zero_grad", self._who))
        return self._optimizer.zero_grad(*args, **kwargs)

    def step(self, *args, **kwargs):
        self._events.append(("step", self._who))
        return self._optimizer.step(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._optimizer, name)


_Z = 8


def _step_models():
    generator = nn.Sequential(nn.Linear(_Z, 32), nn.LeakyReLU(0.2), nn.Linear(32, 784), nn.Tanh(),
                              nn.Unflatten(1, (1, 28, 28)))
    critic = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    return generator, critic, opt_g, opt_c


def _flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _run(step, n_critic, record=False, repeats=1, **kwargs):
    """Joue ``repeats`` pas à la suite sur des modèles et des lots fixés ; renvoie (résultat du
    dernier pas, G, C, lots, événements)."""
    __tracebackhide__ = True
    torch.manual_seed(50)
    data = [torch.rand(16, 1, 28, 28) * 2 - 1 for _ in range(max(6, n_critic * repeats))]
    generator, critic, opt_g, opt_c = _step_models()
    events: list = []
    if record:
        opt_g, opt_c = _CountingOptimizer(opt_g, "g", events), _CountingOptimizer(opt_c, "c", events)
    batches = _CountingBatches(data)
    torch.manual_seed(51)
    for _ in range(repeats):
        result = step(batches, generator, critic, opt_g, opt_c, _Z, n_critic=n_critic, gp_weight=10.0, **kwargs)
    return result, _flat(generator), _flat(critic), batches, events


def check_wgan_gp_step(wgan_gp_step) -> None:
    """Vérifie ``wgan_gp_step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic=5, gp_weight=10.0)``.

    Référence : ``n_critic`` pas du critique, chacun sur un lot neuf ``next(batches)``, avec un bruit
    neuf, les images générées détachées, la perte ``critic_loss + gp_weight · gradient_penalty`` ; puis
    un pas du générateur sur un bruit neuf. Renvoie un dictionnaire de nombres : ``loss_c``,
    ``loss_g``, ``wasserstein`` (moyenne de C(x) − moyenne de C(G(z)), au dernier pas du critique)
    et ``gp``. Les poids après un pas sont comparés à ceux de la référence, pour n_critic = 1 et 3.
    """
    __tracebackhide__ = True
    _check_function(wgan_gp_step, "wgan_gp_step")
    _check_argument_order(wgan_gp_step, ["batches", "generator", "critic", "opt_g", "opt_c", "z_dim",
                                         "n_critic", "gp_weight"], "wgan_gp_step")
    with torch.random.fork_rng():
        for n_critic in (3, 1):
            what = f"wgan_gp_step(..., n_critic={n_critic}, gp_weight=10.0)"
            result, g_new, c_new, batches, events = _call(_run, wgan_gp_step, n_critic, record=True, what=what)
            steps = [who for kind, who in events if kind == "step"]
            if steps.count("c") != n_critic:
                _fail(f"Avec n_critic={n_critic}, opt_c.step() a été appelé {steps.count('c')} fois : il faut "
                      "exactement n_critic pas du critique (une boucle for _ in range(n_critic)).")
            if steps.count("g") != 1:
                _fail(f"opt_g.step() a été appelé {steps.count('g')} fois : un seul pas du générateur, après "
                      "la boucle du critique.")
            if steps.index("g") < len(steps) - 1:
                _fail("Le pas du générateur vient avant la fin des pas du critique : faites d'abord les "
                      "n_critic pas du critique, puis un pas du générateur.")
            if batches.taken != n_critic:
                _fail(f"Avec n_critic={n_critic}, next(batches) a été appelé {batches.taken} fois : chaque pas "
                      "du critique prend un lot de vraies images NEUF (real = next(batches) dans la boucle), "
                      "et le pas du générateur n'en a pas besoin.")
            if not isinstance(result, dict) or any(k not in result for k in ("loss_c", "loss_g", "wasserstein", "gp")):
                got = sorted(result) if isinstance(result, dict) else type(result).__name__
                _fail(f"wgan_gp_step doit renvoyer un dictionnaire avec les clés loss_c, loss_g, wasserstein "
                      f"et gp ; reçu : {got}.")
            bad = [k for k in ("loss_c", "loss_g", "wasserstein", "gp") if not isinstance(result[k], float)]
            if bad:
                _fail(f"Les valeurs {bad} doivent être des nombres Python (float) : utilisez .item().")
            for key in ("loss_c", "loss_g", "wasserstein", "gp"):
                _check_finite(result[key], f"la valeur {key} renvoyée par wgan_gp_step")
            expected, g_ref, c_ref, _, _ = _run(reference_wgan_gp_step, n_critic)
            if not torch.allclose(c_new, c_ref, rtol=1e-4, atol=1e-6):   # l'autre ordre des tirages, juste
                other = _run(reference_wgan_gp_step, n_critic, _variant="g_noise_first")
                if torch.allclose(c_new, other[2], rtol=1e-4, atol=1e-6):
                    expected, g_ref, c_ref = other[:3]
            if not torch.allclose(c_new, c_ref, rtol=1e-4, atol=1e-6):
                gap = (f"Avec n_critic={n_critic}, les poids du critique diffèrent de la référence "
                       f"({describe_difference(c_new, c_ref)})")
                for variant, reason in {
                    "no_gp": "la pénalité de gradient n'entre pas dans la perte du critique : "
                             "loss_c = critic_loss(c_real, c_fake) + gp_weight * gradient_penalty(critic, real, fake)",
                    "lambda_1": "la pénalité n'est pas multipliée par gp_weight",
                    "critic_sign": "le critique maximise sa perte au lieu de la minimiser (signe)",
                }.items():
                    _, _, c_var, _, _ = _run(reference_wgan_gp_step, n_critic, _variant=variant)
                    if torch.allclose(c_new, c_var, rtol=1e-4, atol=1e-6):
                        _fail(f"{gap} : {reason}.")
                _fail(f"{gap}. Dans chaque pas du critique, dans cet ordre : real = next(batches), "
                      "z = torch.randn(real.shape[0], z_dim, device=real.device), fake = generator(z).detach(), "
                      "la perte critic_loss(critic(real), critic(fake)) + gp_weight * "
                      "gradient_penalty(critic, real, fake), puis opt_c.zero_grad(), backward, opt_c.step().")
            if not torch.allclose(g_new, g_ref, rtol=1e-4, atol=1e-6):
                gap = (f"Avec n_critic={n_critic}, le critique est juste mais les poids du générateur diffèrent de "
                       f"la référence ({describe_difference(g_new, g_ref)})")
                _, g_var, _, _, _ = _run(reference_wgan_gp_step, n_critic, _variant="generator_sign")
                if torch.allclose(g_new, g_var, rtol=1e-4, atol=1e-6):
                    _fail(f"{gap} : le signe de la perte du générateur est inversé, il doit minimiser "
                          "wgan_generator_loss(critic(generator(z))) = -mean(C(G(z))).")
                _fail(f"{gap}. Après la boucle : un bruit neuf z = torch.randn(real.shape[0], z_dim, "
                      "device=real.device), loss_g = wgan_generator_loss(critic(generator(z))), "
                      "opt_g.zero_grad(), loss_g.backward(), opt_g.step().")
            for key in ("wasserstein", "gp", "loss_c", "loss_g"):
                if abs(result[key] - expected[key]) > 1e-4 * max(1.0, abs(expected[key])):
                    _fail(f"La valeur renvoyée {key} = {result[key]:.4f} diffère de la référence "
                          f"({expected[key]:.4f}) : wasserstein = c_real.mean() - c_fake.mean() et gp, la "
                          "pénalité sans λ, au DERNIER pas du critique ; loss_c, sa perte totale ; loss_g, "
                          "celle du générateur.")
        # Deux pas à la suite : un zero_grad oublié ne se voit qu'au deuxième (des modèles neufs
        # n'ont pas encore de gradients).
        _, g_new, c_new, _, _ = _call(_run, wgan_gp_step, 2, repeats=2,
                                      what="wgan_gp_step, deux pas à la suite (n_critic=2)")
        _, g_ref, c_ref, _, _ = _run(reference_wgan_gp_step, 2, repeats=2)
        if not torch.allclose(c_new, c_ref, rtol=1e-4, atol=1e-6):   # l'autre ordre des tirages, juste
            _, g_other, c_other, _, _ = _run(reference_wgan_gp_step, 2, repeats=2, _variant="g_noise_first")
            if torch.allclose(c_new, c_other, rtol=1e-4, atol=1e-6):
                g_ref, c_ref = g_other, c_other
        for new, ref, who, opt in ((c_new, c_ref, "critique", "opt_c"), (g_new, g_ref, "générateur", "opt_g")):
            if not torch.allclose(new, ref, rtol=1e-4, atol=1e-6):
                _fail(f"Un pas seul est juste, mais après deux pas à la suite les poids du {who} diffèrent "
                      f"de la référence ({describe_difference(new, ref)}) : des gradients du pas précédent "
                      f"s'ajoutent aux nouveaux. Appelez {opt}.zero_grad() à chaque pas, avant le backward() "
                      f"de la perte du {who}.")
    _ok("wgan_gp_step correct : n_critic pas du critique sur des lots neufs (perte de Wasserstein + "
        "λ · pénalité), puis un pas du générateur ; poids identiques à la référence pour n_critic = 1 et 3, "
        "et après deux pas à la suite.")
