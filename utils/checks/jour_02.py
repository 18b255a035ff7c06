"""Jour 2 : GAN jouet en deux dimensions.

Les modèles (un score brut, sans sigmoïde, pour le discriminateur), les trois
pertes (saturante, non saturante, moindres carrés) et le pas d'entraînement à
``d_steps`` pas de D.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .core import (
    _as_scalar,
    _call,
    _check_argument_order,
    _check_gradients,
    _check_linear_stack,
    _check_module,
    _check_update,
    _fail,
    _ok,
    _params,
    describe_difference,
)

__all__ = ["TOY_LOSSES", "check_toy_discriminator", "check_toy_generator", "check_toy_losses",
           "check_toy_train_step"]


TOY_LOSSES = ("saturating", "non_saturating", "least_squares")


def check_toy_generator(generator: nn.Module, z_dim: int = 2, n_hidden: int = 2) -> None:
    """Vérifie le générateur du jour 2 : bruit (N, ``z_dim``) → point du plan (N, 2).

    Attendu : ``n_hidden`` couches cachées ``nn.Linear`` + ``nn.ReLU`` (ou
    LeakyReLU), puis une couche de sortie à 2 valeurs **sans** activation : un
    point du plan peut être n'importe où, pas seulement dans [-1, 1].
    """
    __tracebackhide__ = True
    _check_module(generator, "le générateur")
    sizes = _check_linear_stack(generator, "Générateur", z_dim, 2, n_hidden + 1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        device = next(generator.parameters()).device
        z = torch.randn(64, z_dim).to(device)
        out = _call(generator, z, what=f"Le générateur appliqué à un bruit (64, {z_dim})")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (64, 2):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"Sortie du générateur : forme (64, 2) attendue pour 64 bruits, reçue {shape}.")
        if torch.allclose(out[0], out[1:], atol=1e-6):
            _fail("Le générateur donne le même point pour des bruits différents : la sortie ne "
                  "dépend pas de z.")
        with torch.no_grad():
            far = generator(z * 50)
        if far.abs().max() <= 1 + 1e-6 or (far.min() >= 0):
            _fail("Les sorties du générateur restent bornées (même pour un bruit très grand) : la "
                  "couche de sortie ne doit pas avoir d'activation (ni tanh, ni sigmoïde), sinon "
                  "le générateur ne peut pas atteindre l'anneau de rayon 2.")
        _check_gradients(generator, out, "Générateur")
    _ok(f"Générateur correct : couches {sizes}, sortie (N, 2) sans activation.")


def check_toy_discriminator(discriminator: nn.Module, n_hidden: int = 2) -> None:
    """Vérifie le discriminateur du jour 2 : point (N, 2) → score brut (N, 1).

    Le score est un *logit* (un réel quelconque) : la sigmoïde est appliquée dans
    la perte, ce qui est plus stable numériquement et permet la perte des
    moindres carrés.
    """
    __tracebackhide__ = True
    _check_module(discriminator, "le discriminateur")
    sizes = _check_linear_stack(discriminator, "Discriminateur", 2, 1, n_hidden + 1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        device = next(discriminator.parameters()).device
        x = (torch.randn(64, 2) * 2).to(device)
        out = _call(discriminator, x, what="Le discriminateur appliqué à 64 points (64, 2)")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (64, 1):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"Sortie du discriminateur : forme (64, 1) attendue pour 64 points, reçue {shape}.")
        with torch.no_grad():
            far = discriminator(torch.cat([x * 100, -x * 100]))
        if far.min() >= 0 and far.max() <= 1:
            _fail("Les sorties du discriminateur restent dans [0, 1] : au jour 2, il renvoie un score "
                  "brut (logit), sans nn.Sigmoid() à la fin ; la sigmoïde est dans la perte.")
        _check_gradients(discriminator, out, "Discriminateur")
    _ok(f"Discriminateur correct : couches {sizes}, score brut (N, 1).")


def _toy_d_loss(real_out, fake_out, kind):
    f = nn.functional
    if kind == "least_squares":
        return 0.5 * ((real_out - 1) ** 2).mean() + 0.5 * (fake_out ** 2).mean()
    return f.softplus(-real_out).mean() + f.softplus(fake_out).mean()


def _toy_g_loss(fake_out, kind):
    f = nn.functional
    if kind == "least_squares":
        return 0.5 * ((fake_out - 1) ** 2).mean()
    if kind == "saturating":
        return -f.softplus(fake_out).mean()
    return f.softplus(-fake_out).mean()


def _toy_probe():
    gen = torch.Generator().manual_seed(99)
    real_out = (torch.randn(32, 1, generator=gen) + 1).requires_grad_(True)
    fake_out = (torch.randn(32, 1, generator=gen) - 1).requires_grad_(True)
    return real_out, fake_out


def check_toy_losses(discriminator_loss, generator_loss) -> None:
    """Vérifie les trois pertes du jour 2 sur des scores bruts fixes.

    Références, avec s = score brut et D = sigmoïde(s) :

    * ``discriminator_loss(real_out, fake_out, kind)`` : pour « saturating » et
      « non_saturating », -[log D(x) + log(1 - D(G(z)))] en moyenne ; pour
      « least_squares », ½(s_réel - 1)² + ½ s_faux² en moyenne ;
    * ``generator_loss(fake_out, kind)`` : « saturating » : log(1 - D(G(z))) ;
      « non_saturating » : -log D(G(z)) ; « least_squares » : ½(s_faux - 1)².
    """
    __tracebackhide__ = True
    lines = []
    for kind in TOY_LOSSES:
        real_out, fake_out = _toy_probe()
        got = _as_scalar(_call(discriminator_loss, real_out, fake_out, kind,
                               what=f"discriminator_loss(real_out, fake_out, {kind!r})"),
                         f"discriminator_loss(..., {kind!r})")
        with torch.no_grad():
            expected = _toy_d_loss(real_out, fake_out, kind).item()
            wrong = {
                "les scores bruts sont traités comme des probabilités : appliquez la sigmoïde "
                "(F.binary_cross_entropy_with_logits ou F.softplus)":
                    float("nan") if kind == "least_squares" else
                    (-(real_out.clamp(1e-6, 1).log()).mean()).item(),
                "les cibles sont inversées (vrais → 0, faux → 1)":
                    _toy_d_loss(-real_out, -fake_out, kind).item() if kind != "least_squares" else
                    (0.5 * (real_out ** 2).mean() + 0.5 * ((fake_out - 1) ** 2).mean()).item(),
                "il manque le facteur ½ des moindres carrés": 2 * expected,
            }
        if not math.isclose(got.item(), expected, rel_tol=1e-4, abs_tol=1e-6):
            reason = next((r for r, v in wrong.items() if math.isclose(got.item(), v, rel_tol=1e-4)),
                          "relisez la formule de référence dans l'énoncé")
            _fail(f"discriminator_loss(..., {kind!r}) renvoie {got.item():.4f} au lieu de "
                  f"{expected:.4f} : {reason}.")
        got_g = _as_scalar(_call(generator_loss, fake_out, kind,
                                 what=f"generator_loss(fake_out, {kind!r})"),
                           f"generator_loss(..., {kind!r})")
        with torch.no_grad():
            expected_g = _toy_g_loss(fake_out, kind).item()
            wrong_g = {
                "c'est la perte non saturante ; « saturating » est log(1 - D(G(z))) = "
                "-softplus(s)": _toy_g_loss(fake_out, "non_saturating").item(),
                "c'est la perte saturante ; « non_saturating » est -log D(G(z)) = softplus(-s)":
                    _toy_g_loss(fake_out, "saturating").item(),
                "le signe est inversé": -expected_g,
                "il manque le facteur ½ des moindres carrés": 2 * expected_g,
                "la cible des moindres carrés pour G est 1 (« vrai »), pas 0":
                    (0.5 * (fake_out ** 2).mean()).item(),
            }
        if not math.isclose(got_g.item(), expected_g, rel_tol=1e-4, abs_tol=1e-6):
            reason = next((r for r, v in wrong_g.items()
                           if math.isclose(got_g.item(), v, rel_tol=1e-4)),
                          "relisez la formule de référence dans l'énoncé")
            _fail(f"generator_loss(..., {kind!r}) renvoie {got_g.item():.4f} au lieu de "
                  f"{expected_g:.4f} : {reason}.")
        lines.append(f"{kind} : D {expected:.4f}, G {expected_g:.4f}")
    _ok("Les trois pertes sont correctes sur les scores de test (" + " ; ".join(lines) + ").")


def _toy_probe_models(z_dim=2):
    torch.manual_seed(5)
    generator = nn.Sequential(nn.Linear(z_dim, 16), nn.ReLU(), nn.Linear(16, 2))
    discriminator = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    for model in (generator, discriminator):
        for p in model.parameters():
            p.grad = torch.full_like(p, 0.5)
    batches = torch.randn(4, 8, 2, generator=torch.Generator().manual_seed(2)) + 1
    calls = []

    def sample_real(n):
        batch = batches[len(calls) % len(batches)][:n]
        calls.append(n)
        return batch
    return generator, discriminator, opt_g, opt_d, sample_real


def _toy_reference_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                        loss, d_steps, reuse=False, zero_grad=True):
    for _ in range(d_steps):
        real = sample_real(batch_size)
        fake = generator(torch.randn(batch_size, z_dim))
        if zero_grad:
            opt_d.zero_grad()
        loss_d = _toy_d_loss(discriminator(real), discriminator(fake.detach()), loss)
        loss_d.backward()
        opt_d.step()
    if not reuse:
        fake = generator(torch.randn(batch_size, z_dim))
    if zero_grad:
        opt_g.zero_grad()
    loss_g = _toy_g_loss(discriminator(fake), loss)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}


def check_toy_train_step(train_step) -> None:
    """Vérifie ``train_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
    loss, d_steps)``.

    Même ordre qu'au jour 1 (les données, les réseaux, leurs optimiseurs, ``z_dim``,
    puis les options) ; les données sont une fonction ``sample_real(n)``.

    Référence : ``d_steps`` pas du discriminateur (chacun avec un lot réel
    ``sample_real(batch_size)`` et un lot généré détaché), puis un pas du
    générateur ; ``zero_grad()`` avant chaque ``backward()``. Renvoie
    ``{"loss_d": float, "loss_g": float}`` (valeurs du dernier pas de D et du
    pas de G). Comparé sur de petits modèles, à graine égale, pour plusieurs
    pertes et plusieurs valeurs de ``d_steps``.
    """
    __tracebackhide__ = True
    _check_argument_order(train_step, ["sample_real", "generator", "discriminator", "opt_g", "opt_d",
                                       "z_dim", "batch_size", "loss", "d_steps"], "train_step")
    for loss, d_steps in (("non_saturating", 1), ("least_squares", 3)):
        call = f"train_step(sample_real, ..., z_dim=2, batch_size=8, loss={loss!r}, d_steps={d_steps})"
        outcomes = {}
        with torch.random.fork_rng():
            for variant in ("student", "reference", "reuse", "no_zero_grad"):
                g, d, opt_g, opt_d, sample_real = _toy_probe_models()
                before = (_params(g), _params(d))
                torch.manual_seed(21)
                if variant == "student":
                    result = _call(train_step, sample_real, g, d, opt_g, opt_d, 2, 8, loss, d_steps,
                                   what=call)
                else:
                    result = _toy_reference_step(sample_real, g, d, opt_g, opt_d, 2, 8, loss,
                                                 d_steps, reuse=variant == "reuse",
                                                 zero_grad=variant != "no_zero_grad")
                outcomes[variant] = (result, _params(g), _params(d))
        result, g_new, d_new = outcomes["student"]
        if not isinstance(result, dict) or not {"loss_d", "loss_g"} <= set(result):
            _fail(f"{call} doit renvoyer un dictionnaire {{'loss_d': ..., 'loss_g': ...}}, "
                  f"reçu : {result!r:.80}.")
        if not all(isinstance(result[k], float) for k in ("loss_d", "loss_g")):
            _fail("Les valeurs renvoyées doivent être des nombres Python (float) : utilisez .item().")
        _, g_ref, d_ref = outcomes["reference"]
        _check_update(d_new, before[1], outcomes["no_zero_grad"][2], [d_ref], "discriminateur",
                      "opt_d", "loss_d")
        if not torch.allclose(d_new, d_ref, rtol=1e-4, atol=1e-5):
            _fail(f"Avec loss={loss!r} et d_steps={d_steps}, le discriminateur diffère de la "
                  f"référence ({describe_difference(d_new, d_ref)} sur ses poids). Vérifiez : "
                  "d_steps pas de D, chacun avec un nouveau lot réel sample_real(batch_size) puis "
                  "un bruit torch.randn(batch_size, z_dim), et fake.detach() pour D.")
        _check_update(g_new, before[0], outcomes["no_zero_grad"][1],
                      [g_ref, outcomes["reuse"][1]], "générateur", "opt_g", "loss_g")
        if not (torch.allclose(g_new, g_ref, rtol=1e-4, atol=1e-5)
                or torch.allclose(g_new, outcomes["reuse"][1], rtol=1e-4, atol=1e-5)):
            _fail(f"Avec loss={loss!r} et d_steps={d_steps}, le générateur diffère de la "
                  f"référence ({describe_difference(g_new, g_ref)} sur ses poids). Vérifiez que "
                  "son pas vient après les d_steps pas de D et utilise generator_loss(..., loss).")
    _ok("train_step correct : d_steps pas de D puis un pas de G, poids identiques à la référence "
        "(pertes non saturante et moindres carrés, d_steps = 1 et 3).")
