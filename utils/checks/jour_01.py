"""Jour 1 : GAN entièrement connecté sur MNIST.

Le discriminateur et le générateur, les deux pertes (BCE) et le pas
d'entraînement. Le jour 3 réutilise ``check_discriminator_loss`` (avec
``test_real_label=True``) et ``check_train_step`` (avec ``real_label`` et
``d_steps``) tels quels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..gan import generator_loss, train_step
from .core import (
    _as_scalar,
    _bce,
    _call,
    _check_argument_order,
    _check_gradients,
    _check_linear_stack,
    _check_module,
    _check_update,
    _fail,
    _has,
    _ok,
    _params,
    describe_difference,
)

__all__ = ["check_discriminator", "check_discriminator_loss", "check_generator",
           "check_generator_loss", "check_train_step"]


def check_discriminator(discriminator: nn.Module, n_hidden: int = 3) -> None:
    """Vérifie le discriminateur du jour 1.

    Attendu : une image (N, 1, 28, 28) aplatie en 784 valeurs, ``n_hidden``
    couches cachées ``nn.Linear`` suivies de ``nn.LeakyReLU`` et ``nn.Dropout``,
    une couche de sortie à 1 valeur et une sigmoïde : sortie (N, 1) dans ]0, 1[.
    """
    __tracebackhide__ = True
    _check_module(discriminator, "le discriminateur")
    sizes = _check_linear_stack(discriminator, "Discriminateur", 784, 1, n_hidden + 1)
    for kind, hint in ((nn.LeakyReLU, "nn.LeakyReLU(0.2) après chaque couche cachée"),
                       (nn.Dropout, "nn.Dropout(p) après chaque activation cachée")):
        if not _has(discriminator, kind):
            _fail(f"Discriminateur : aucune couche {kind.__name__} trouvée. Ajoutez {hint}.")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        device = next(discriminator.parameters()).device
        x = (torch.rand(16, 1, 28, 28) * 2 - 1).to(device)
        was_training = discriminator.training
        discriminator.train()
        out = _call(discriminator, x, what="Le discriminateur appliqué à un lot (16, 1, 28, 28)")
        if not isinstance(out, torch.Tensor):
            _fail(f"Le discriminateur doit renvoyer un tenseur, il renvoie {type(out).__name__}.")
        if tuple(out.shape) != (16, 1):
            hint = (" Aplatissez l'image en 784 valeurs au début (nn.Flatten())."
                    if out.dim() > 2 else " La dernière couche doit être nn.Linear(..., 1).")
            _fail(f"Sortie du discriminateur : forme (16, 1) attendue pour 16 images, "
                  f"reçue {tuple(out.shape)}.{hint}")
        with torch.no_grad():  # entrées extrêmes : seule une sigmoïde reste dans [0, 1]
            extreme = discriminator(torch.cat([x * 100, -x * 100]))
        lo = min(out.min().item(), extreme.min().item())
        hi = max(out.max().item(), extreme.max().item())
        if not (0 <= lo and hi <= 1 and 0 < out.min().item() and out.max().item() < 1):
            _fail(f"Le discriminateur doit sortir une probabilité dans ]0, 1[ : valeurs reçues entre "
                  f"{lo:.3g} et {hi:.3g}. Terminez par nn.Sigmoid().")
        _check_gradients(discriminator, out, "Discriminateur")
        with torch.no_grad():
            again = discriminator(x)
            discriminator.eval()
            eval_a, eval_b = discriminator(x), discriminator(x)
        discriminator.train(was_training)
    if torch.equal(out.detach(), again):
        _fail("Discriminateur : en mode entraînement, deux passages du même lot donnent la même "
              "sortie ; le Dropout n'est pas appliqué dans forward.")
    if not torch.equal(eval_a, eval_b):
        _fail("Discriminateur : en mode évaluation (.eval()), la sortie devrait être déterministe.")
    _ok(f"Discriminateur correct : couches {sizes}, LeakyReLU, Dropout, sortie sigmoïde (N, 1) dans ]0, 1[.")


def check_generator(generator: nn.Module, z_dim: int = 64, n_hidden: int = 3) -> None:
    """Vérifie le générateur du jour 1.

    Attendu : un bruit (N, ``z_dim``), ``n_hidden`` couches cachées ``nn.Linear``
    suivies de ``nn.LeakyReLU``, une couche de sortie à 784 valeurs puis ``tanh``,
    remise en forme d'image : sortie (N, 1, 28, 28) dans [-1, 1].
    """
    __tracebackhide__ = True
    _check_module(generator, "le générateur")
    sizes = _check_linear_stack(generator, "Générateur", z_dim, 784, n_hidden + 1)
    if not _has(generator, nn.LeakyReLU):
        _fail("Générateur : aucune couche LeakyReLU trouvée. Ajoutez nn.LeakyReLU(0.2) après "
              "chaque couche cachée.")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        device = next(generator.parameters()).device
        z = torch.randn(16, z_dim).to(device)
        was_training = generator.training
        generator.train()
        out = _call(generator, z, what=f"Le générateur appliqué à un bruit (16, {z_dim})")
        if not isinstance(out, torch.Tensor):
            _fail(f"Le générateur doit renvoyer un tenseur, il renvoie {type(out).__name__}.")
        if tuple(out.shape) != (16, 1, 28, 28):
            hint = (" Remettez les 784 valeurs en image : nn.Unflatten(1, (1, 28, 28)) ou "
                    "x.view(-1, 1, 28, 28)." if tuple(out.shape) == (16, 784) else "")
            _fail(f"Sortie du générateur : forme (16, 1, 28, 28) attendue pour 16 bruits, "
                  f"reçue {tuple(out.shape)}.{hint}")
        lo, hi = out.min().item(), out.max().item()
        if lo < -1 or hi > 1:
            _fail(f"Le générateur doit produire des pixels dans [-1, 1] (comme les images réelles "
                  f"normalisées) : valeurs reçues entre {lo:.3g} et {hi:.3g}. Terminez par nn.Tanh().")
        if lo >= 0:
            _fail(f"Les pixels générés sont tous positifs (min {lo:.3g}) : la sortie doit couvrir "
                  "[-1, 1] ; utilisez nn.Tanh() et non nn.Sigmoid().")
        if torch.allclose(out[0], out[1:], atol=1e-6):
            _fail("Le générateur donne la même image pour des bruits différents : la sortie ne "
                  "dépend pas de z.")
        _check_gradients(generator, out, "Générateur")
        generator.train(was_training)
    _ok(f"Générateur correct : couches {sizes}, LeakyReLU, sortie tanh de forme (N, 1, 28, 28).")


def _loss_probe():
    """Probabilités fixes (avec gradient) pour tester une fonction de perte."""
    gen = torch.Generator().manual_seed(1234)
    d_real = (torch.rand(32, 1, generator=gen) * 0.8 + 0.15).requires_grad_(True)
    d_fake = (torch.rand(32, 1, generator=gen) * 0.8 + 0.05).requires_grad_(True)
    return d_real, d_fake


def _discriminator_loss_value(loss_fn) -> tuple[float, str]:
    """Vérifie ``discriminator_loss(d_real, d_fake)`` sans lissage ; renvoie la valeur et la référence.

    Partagée avec le jour 3, qui vérifie ensuite le lissage des étiquettes.
    """
    __tracebackhide__ = True
    d_real, d_fake = _loss_probe()
    got = _as_scalar(_call(loss_fn, d_real, d_fake, what="discriminator_loss(d_real, d_fake)"),
                     "discriminator_loss")
    with torch.no_grad():
        real_term, fake_term = _bce(d_real, 1.0), _bce(d_fake, 0.0)
        expected = real_term + fake_term
        diagnostics = {
            "les étiquettes sont inversées (vraies → 0, fausses → 1)": _bce(d_real, 0.0) + _bce(d_fake, 1.0),
            "il manque le terme des images générées, BCE(d_fake, 0)": real_term,
            "il manque le terme des images réelles, BCE(d_real, 1)": fake_term,
            "c'est la moitié de la référence : l'énoncé demande la somme des deux termes, pas leur moyenne":
                expected / 2,
            "le signe est inversé : la BCE est déjà l'opposé d'un log, ne remettez pas de moins devant":
                -expected,
            "les pertes sont sommées sur le lot au lieu d'être moyennées": expected * d_real.shape[0],
            "la cible des vraies images est 1 ; le lissage à 0,9 n'est pas demandé ici":
                _bce(d_real, 0.9) + fake_term,
        }
    value = got.item()
    reference = f"{expected.item():.4f}"
    if not math.isclose(value, expected.item(), rel_tol=1e-4, abs_tol=1e-6):
        for reason, candidate in diagnostics.items():
            if math.isclose(value, candidate.item(), rel_tol=1e-4, abs_tol=1e-6):
                _fail(f"discriminator_loss renvoie {value:.4f} au lieu de {reference} : {reason}.")
        _fail(f"discriminator_loss renvoie {value:.4f} au lieu de {reference} "
              f"(écart {value - expected.item():+.4f}). Rappel : BCE(d_real, 1) + BCE(d_fake, 0), "
              "avec nn.BCELoss() et des cibles torch.ones_like / torch.zeros_like.")
    got.backward()
    if d_real.grad is None or d_fake.grad is None:
        _fail("discriminator_loss : le gradient n'atteint pas d_real et d_fake.")
    return value, reference


def check_discriminator_loss(loss_fn) -> None:
    """Vérifie ``discriminator_loss(d_real, d_fake)``.

    Référence : BCE(D(x), 1) + BCE(D(G(z)), 0), chaque terme moyenné sur le
    mini-lot, soit -[log D(x) + log(1 - D(G(z)))] en moyenne. (Le lissage des
    étiquettes du jour 3 se vérifie avec ``check_smoothed_discriminator_loss``.)
    """
    __tracebackhide__ = True
    value, reference = _discriminator_loss_value(loss_fn)
    _ok(f"discriminator_loss correcte : {value:.4f} sur les probabilités de test (référence {reference}).")


def check_generator_loss(loss_fn) -> None:
    """Vérifie ``generator_loss(d_fake)``, la perte non saturante : BCE(D(G(z)), 1) = -log D(G(z))."""
    __tracebackhide__ = True
    _, d_fake = _loss_probe()
    got = _as_scalar(_call(loss_fn, d_fake, what="generator_loss(d_fake)"), "generator_loss")
    with torch.no_grad():
        expected = _bce(d_fake, 1.0)
        diagnostics = {
            "c'est la perte saturante log(1 - D(G(z))) que le générateur minimiserait ; le jour 1 "
            "utilise la version non saturante -log D(G(z)) = BCE(d_fake, 1)": torch.log1p(-d_fake).mean(),
            "la cible est 0 : le générateur veut que D dise « vrai », visez 1": _bce(d_fake, 0.0),
            "le signe est inversé : la BCE est déjà -log D(G(z))": -expected,
            "les pertes sont sommées sur le lot au lieu d'être moyennées": expected * d_fake.shape[0],
        }
    value = got.item()
    if math.isclose(value, expected.item(), rel_tol=1e-4, abs_tol=1e-6):
        got.backward()
        if d_fake.grad is None:
            _fail("generator_loss : le gradient n'atteint pas d_fake.")
        _ok(f"generator_loss correcte (non saturante) : {value:.4f} sur les probabilités de test "
            f"(référence {expected.item():.4f}).")
        return
    for reason, candidate in diagnostics.items():
        if math.isclose(value, candidate.item(), rel_tol=1e-4, abs_tol=1e-6):
            _fail(f"generator_loss renvoie {value:.4f} au lieu de {expected.item():.4f} : {reason}.")
    _fail(f"generator_loss renvoie {value:.4f} au lieu de {expected.item():.4f} "
          f"(écart {value - expected.item():+.4f}). Rappel : BCE(d_fake, 1).")


# --- l'étape d'entraînement -------------------------------------------------

_PROBE_Z_DIM = 4


def _probe_models():
    """Petits G et D déterministes (sans Dropout) pour comparer une étape d'entraînement."""
    torch.manual_seed(7)
    generator = nn.Sequential(nn.Linear(_PROBE_Z_DIM, 16), nn.LeakyReLU(0.2), nn.Linear(16, 784),
                              nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.LeakyReLU(0.2),
                                  nn.Linear(16, 1), nn.Sigmoid())
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    # Des gradients « périmés » déjà présents : une étape qui oublie zero_grad() les utilisera.
    for model in (generator, discriminator):
        for p in model.parameters():
            p.grad = torch.full_like(p, 0.5)
    real = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1
    return real, generator, discriminator, opt_g, opt_d


class _OptimizerVariant:
    """Un optimiseur dont on fausse ``zero_grad`` ou ``step``, pour rejouer une variante du pas."""

    def __init__(self, optimizer, zero_grad=True, step=True):
        self.optimizer, self.do_zero_grad, self.do_step = optimizer, zero_grad, step

    def zero_grad(self, set_to_none=True):
        if self.do_zero_grad:
            self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self):
        if self.do_step:
            self.optimizer.step()


def _reference_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label=1.0,
                    resample=False, zero_grad=True, d_steps=1):
    """La référence, ``utils.gan.train_step``, et deux variantes pour reconnaître une réponse.

    ``zero_grad=False`` : les gradients ne sont jamais remis à zéro (une erreur) ;
    ``resample=True`` : le pas de G tire un bruit neuf au lieu de reprendre les
    images du dernier pas de D (accepté).
    """
    if not zero_grad:
        opt_g = _OptimizerVariant(opt_g, zero_grad=False)
        opt_d = _OptimizerVariant(opt_d, zero_grad=False)
    if not resample:
        return train_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label, d_steps)
    values = train_step(real, generator, discriminator, _OptimizerVariant(opt_g, step=False), opt_d,
                        z_dim, real_label, d_steps)
    fake = generator(torch.randn(real.shape[0], z_dim, device=real.device))
    opt_g.zero_grad()
    loss_g = generator_loss(discriminator(fake))
    loss_g.backward()
    opt_g.step()
    return {**values, "loss_g": loss_g.item()}


def _run_variant(step_fn, **kwargs):
    torch.manual_seed(11)
    real, g, d, opt_g, opt_d = _probe_models()
    before = (_params(g), _params(d))
    torch.manual_seed(11)
    result = step_fn(real, g, d, opt_g, opt_d, _PROBE_Z_DIM, **kwargs)
    return result, before, (_params(g), _params(d))


def _train_step_call(options: dict) -> str:
    """L'appel tel que l'étudiant le lira dans un message d'erreur."""
    return ("train_step(real, generator, discriminator, opt_g, opt_d, z_dim"
            + "".join(f", {k}={v}" for k, v in options.items()) + ")")


def _train_step_outcomes(train_step, **options) -> dict:
    """Rejoue un pas de l'étudiant et de la référence (et de ses variantes) sur les mêmes petits modèles.

    ``options`` : arguments nommés passés aux deux (``real_label``, ``d_steps`` au jour 3).
    """
    __tracebackhide__ = True
    _check_argument_order(train_step, ["real", "generator", "discriminator", "opt_g", "opt_d", "z_dim",
                                       "real_label", "d_steps"], "train_step")
    with torch.random.fork_rng():
        expected, before, (g_ref, d_ref) = _run_variant(_reference_step, **options)
        _, _, (g_ref2, _) = _run_variant(_reference_step, resample=True, **options)
        torch.manual_seed(11)
        real, g, d, opt_g, opt_d = _probe_models()
        torch.manual_seed(11)
        result = _call(train_step, real, g, d, opt_g, opt_d, _PROBE_Z_DIM, **options,
                       what=_train_step_call(options))
        _, _, (g_nozero, d_nozero) = _run_variant(_reference_step, zero_grad=False, **options)
    return {"result": result, "expected": expected, "before": before, "g_new": _params(g),
            "d_new": _params(d), "g_ref": g_ref, "g_ref2": g_ref2, "d_ref": d_ref,
            "g_nozero": g_nozero, "d_nozero": d_nozero}


def _check_returned_values(result) -> None:
    """Le pas renvoie un dictionnaire de quatre nombres Python."""
    __tracebackhide__ = True
    if not isinstance(result, dict):
        _fail(f"train_step doit renvoyer un dictionnaire {{'loss_d': ..., 'loss_g': ..., 'd_real': ..., "
              f"'d_fake': ...}}, il renvoie {type(result).__name__}.")
    missing = [k for k in ("loss_d", "loss_g", "d_real", "d_fake") if k not in result]
    if missing:
        _fail(f"Clés absentes du dictionnaire renvoyé par train_step : {missing} "
              f"(clés reçues : {sorted(result)}).")
    not_float = [k for k in ("loss_d", "loss_g", "d_real", "d_fake") if not isinstance(result[k], float)]
    if not_float:
        _fail(f"Les valeurs {not_float} doivent être des nombres Python (float) : utilisez .item(), "
              "sinon l'historique garde en mémoire tout le graphe de calcul.")


def _check_steps_against_reference(o: dict) -> None:
    """Les poids de D puis de G, et les valeurs renvoyées, comparés à la référence."""
    __tracebackhide__ = True
    d_new, g_new, result, expected = o["d_new"], o["g_new"], o["result"], o["expected"]
    if not torch.allclose(d_new, o["d_ref"], rtol=1e-4, atol=1e-5):
        _fail(f"Le pas du discriminateur diffère de la référence ({describe_difference(d_new, o['d_ref'])} "
              "sur ses poids). Vérifiez : un seul bruit z tiré par torch.randn(batch, z_dim, "
              "device=real.device), fake.detach() pour le pas de D, la perte discriminator_loss.")
    _check_update(g_new, o["before"][0], o["g_nozero"], [o["g_ref"], o["g_ref2"]], "générateur", "opt_g",
                  "loss_g")
    if not (torch.allclose(g_new, o["g_ref"], rtol=1e-4, atol=1e-5)
            or torch.allclose(g_new, o["g_ref2"], rtol=1e-4, atol=1e-5)):
        _fail(f"Le pas du générateur diffère de la référence ({describe_difference(g_new, o['g_ref'])} "
              "sur ses poids). Vérifiez : la perte generator_loss(discriminator(fake)) calculée avec "
              "le discriminateur *après* son pas, sans .detach() sur fake.")
    for key in ("loss_d", "d_real", "d_fake"):
        if not math.isclose(result[key], expected[key], rel_tol=1e-4, abs_tol=1e-5):
            _fail(f"train_step renvoie {key} = {result[key]:.4f} au lieu de {expected[key]:.4f}. "
                  "d_real et d_fake sont les moyennes de D(x) et D(G(z)) calculées au pas de D.")


def check_train_step(train_step) -> None:
    """Vérifie ``train_step(real, generator, discriminator, opt_g, opt_d, z_dim)``.

    Référence : un pas de D (images réelles → 1, images générées détachées → 0)
    puis un pas de G (perte non saturante sur D mis à jour), chaque pas précédé
    de ``zero_grad()``. La fonction renvoie un dictionnaire de nombres (float) :
    ``loss_d``, ``loss_g``, ``d_real`` (moyenne de D(x)) et ``d_fake`` (moyenne
    de D(G(z)) vue par le pas de D). On compare les poids après une étape sur de
    petits modèles avec ceux de la référence, à graine égale. (Le pas du jour 3,
    avec lissage et plusieurs pas de D, se vérifie avec ``check_dcgan_train_step``.)
    """
    __tracebackhide__ = True
    o = _train_step_outcomes(train_step)
    _check_returned_values(o["result"])
    _check_update(o["d_new"], o["before"][1], o["d_nozero"], [o["d_ref"]], "discriminateur", "opt_d", "loss_d")
    _check_steps_against_reference(o)
    _ok("train_step correct : un pas de D puis un pas de G, poids identiques à la référence "
        "après une étape.")
