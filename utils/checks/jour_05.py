"""Jour 5 : autoencodeur et VAE.

L'autoencodeur à code latent en deux dimensions, l'astuce de
reparamétrisation et la perte du VAE (reconstruction + KL).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .core import (
    _as_scalar,
    _call,
    _check_gradients,
    _check_module,
    _fail,
    _linear_layers,
    _ok,
    _sizes,
    describe_difference,
)

__all__ = ["check_autoencoder", "check_reparameterize", "check_vae_loss"]


def check_autoencoder(model: nn.Module, z_dim: int = 2) -> None:
    """Vérifie l'autoencodeur du jour 5.

    Attendu : ``model.encoder`` (784 → 256 → 128 → ``z_dim``, ReLU entre
    les couches, rien après la dernière), ``model.decoder`` (``z_dim`` → 128
    → 256 → 784, ReLU entre les couches, sigmoïde à la fin, image (N, 1, 28, 28)
    dans [0, 1]) et ``model(x) = decoder(encoder(x))``.
    """
    __tracebackhide__ = True
    _check_module(model, "l'autoencodeur")
    for part in ("encoder", "decoder"):
        if not isinstance(getattr(model, part, None), nn.Module):
            _fail(f"L'autoencodeur doit avoir un attribut self.{part} (un nn.Module, par exemple un "
                  f"nn.Sequential) créé dans __init__.")
    expected = {"encoder": [784, 256, 128, z_dim], "decoder": [z_dim, 128, 256, 784]}
    for part, sizes in expected.items():
        layers = _linear_layers(getattr(model, part))
        got = [layers[0].in_features] + [m.out_features for m in layers] if layers else []
        if got != sizes:
            _fail(f"{part} : couches {' → '.join(map(str, sizes))} attendues, trouvées "
                  f"{_sizes(layers)}.")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        device = next(model.parameters()).device
        x = torch.rand(16, 1, 28, 28).to(device)
        code = _call(model.encoder, x, what="model.encoder appliqué à un lot (16, 1, 28, 28)")
        if not isinstance(code, torch.Tensor) or tuple(code.shape) != (16, z_dim):
            shape = tuple(code.shape) if isinstance(code, torch.Tensor) else type(code).__name__
            _fail(f"L'encodeur doit renvoyer un code (16, {z_dim}) pour 16 images, reçu {shape}. "
                  "Commencez par nn.Flatten().")
        with torch.no_grad():
            far = model.encoder(torch.randn(256, 1, 28, 28).to(device) * 50)
        if far.min() >= 0 or far.abs().max() <= 1:
            _fail("Le code latent est borné ou toujours positif : la dernière couche de l'encodeur ne "
                  "doit pas avoir d'activation (ni ReLU, ni sigmoïde, ni tanh).")
        out = _call(model, x, what="model(x) sur un lot (16, 1, 28, 28)")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (16, 1, 28, 28):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"model(x) doit rendre des images (16, 1, 28, 28), reçu {shape}. Terminez le "
                  "décodeur par nn.Unflatten(1, (1, 28, 28)).")
        with torch.no_grad():
            extreme = model.decoder(torch.randn(16, z_dim).to(device) * 100)
        if out.min() < 0 or out.max() > 1 or extreme.min() < 0 or extreme.max() > 1:
            _fail("Les pixels reconstruits doivent être dans [0, 1], comme les images d'entrée : "
                  "terminez le décodeur par nn.Sigmoid().")
        with torch.no_grad():
            again = model.decoder(model.encoder(x))
        if not torch.allclose(out.detach(), again, atol=1e-6):
            _fail("model(x) doit renvoyer self.decoder(self.encoder(x)).")
        _check_gradients(model, out, "Autoencodeur")
    _ok(f"Autoencodeur correct : encodeur {' → '.join(map(str, expected['encoder']))}, décodeur "
        f"{' → '.join(map(str, expected['decoder']))} avec sigmoïde, sortie (N, 1, 28, 28).")


def check_reparameterize(fn) -> None:
    """Vérifie ``reparameterize(mu, logvar)`` : z = mu + exp(logvar / 2) * eps, eps ~ N(0, I).

    On compare, à graine égale, avec la référence qui tire ``eps`` par
    ``torch.randn_like``, puis on vérifie la loi de z sur beaucoup de tirages et
    que le gradient atteint ``mu`` et ``logvar``.
    """
    __tracebackhide__ = True
    gen = torch.Generator().manual_seed(4)
    mu = (torch.randn(8, 2, generator=gen)).requires_grad_(True)
    logvar = (torch.randn(8, 2, generator=gen) - 1).requires_grad_(True)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        z = _call(fn, mu, logvar, what="reparameterize(mu, logvar)")
        torch.manual_seed(3)
        eps = torch.randn_like(mu)
    if not isinstance(z, torch.Tensor) or z.shape != mu.shape:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        _fail(f"reparameterize doit renvoyer un tenseur de la forme de mu {tuple(mu.shape)}, reçu {shape}.")
    with torch.no_grad():
        std = torch.exp(0.5 * logvar)
        expected = mu + std * eps
        diagnostics = {
            "z ne contient pas de bruit : il faut ajouter eps * écart type, eps = torch.randn_like(mu)": mu,
            "exp(logvar) est la variance ; l'écart type est exp(logvar / 2) = torch.exp(0.5 * logvar)":
                mu + torch.exp(logvar) * eps,
            "logvar n'est pas l'écart type : prenez torch.exp(0.5 * logvar)": mu + logvar * eps,
        }
    if not torch.allclose(z.detach(), expected, atol=1e-5):
        for reason, candidate in diagnostics.items():
            if torch.allclose(z.detach(), candidate, atol=1e-5):
                _fail(f"reparameterize : {reason}.")
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(5)
            many_mu, many_logvar = torch.zeros(20000, 2), torch.full((20000, 2), math.log(4.0))
            draws = fn(many_mu, many_logvar)
        mean, sd = draws.mean().item(), draws.std().item()
        if abs(mean) > 0.05 or abs(sd - 2.0) > 0.05:
            _fail(f"reparameterize : avec mu = 0 et logvar = log 4, z devrait suivre N(0, 2²) ; "
                  f"tirages reçus de moyenne {mean:.3f} et d'écart type {sd:.3f}. Le bruit doit être "
                  "gaussien (torch.randn_like), pas uniforme (torch.rand_like).")
        _fail(f"reparameterize diffère de mu + exp(0,5·logvar)·eps à graine égale "
              f"({describe_difference(z, expected)}). Tirez eps avec torch.randn_like(mu) "
              "(ou torch.randn_like(std)), une seule fois.")
    if not z.requires_grad:
        _fail("reparameterize a coupé le graphe : z doit rester dérivable par rapport à mu et logvar.")
    z.sum().backward()
    if mu.grad is None or logvar.grad is None or logvar.grad.abs().sum() == 0:
        _fail("Le gradient n'atteint pas mu et logvar : c'est tout l'intérêt de l'astuce de "
              "reparamétrisation. N'utilisez ni .detach() ni torch.normal(mu, std).")
    _ok("reparameterize correcte : z = mu + exp(logvar / 2) · eps, et le gradient atteint mu et logvar.")


def _vae_reference(recon, x, mu, logvar):
    n = x.shape[0]
    rec = nn.functional.binary_cross_entropy(recon, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return rec + kl, rec, kl


def check_vae_loss(fn) -> None:
    """Vérifie ``vae_loss(recon, x, mu, logvar)`` sur des tenseurs fixes.

    Référence, par image puis en moyenne sur le lot : reconstruction = entropie
    croisée binaire **sommée sur les 784 pixels** ; KL = -½ Σ_j (1 + logvar_j -
    mu_j² - exp(logvar_j)) sommée sur les dimensions latentes. La fonction renvoie
    le triplet ``(total, reconstruction, kl)`` avec total = reconstruction + KL.
    """
    __tracebackhide__ = True
    gen = torch.Generator().manual_seed(8)
    x = torch.rand(16, 1, 28, 28, generator=gen)
    recon = (torch.rand(16, 1, 28, 28, generator=gen) * 0.9 + 0.05).requires_grad_(True)
    mu = torch.randn(16, 2, generator=gen).requires_grad_(True)
    logvar = (torch.randn(16, 2, generator=gen) * 0.5).requires_grad_(True)
    result = _call(fn, recon, x, mu, logvar, what="vae_loss(recon, x, mu, logvar)")
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        _fail("vae_loss doit renvoyer un triplet (total, reconstruction, kl), reçu "
              f"{type(result).__name__}.")
    total, rec, kl = (_as_scalar(v, f"vae_loss (terme {name})")
                      for v, name in zip(result, ("total", "reconstruction", "kl")))
    with torch.no_grad():
        ref_total, ref_rec, ref_kl = _vae_reference(recon, x, mu, logvar)
        n = x.shape[0]
        rec_diag = {
            "la reconstruction est moyennée sur les pixels (reduction='mean') : sommez sur les 784 "
            "pixels de chaque image, puis moyennez sur le lot (reduction='sum' puis / taille du lot)":
                ref_rec / 784,
            "la reconstruction est sommée sur tout le lot : divisez par la taille du lot": ref_rec * n,
            "la reconstruction utilise l'erreur quadratique ; ce VAE utilise l'entropie croisée "
            "binaire (F.binary_cross_entropy)":
                ((recon - x) ** 2).sum() / n,
            "les arguments de l'entropie croisée sont inversés : F.binary_cross_entropy(recon, x)":
                None,
        }
        kl_diag = {
            "le signe de la KL est inversé : KL = -0,5 · Σ (1 + logvar - mu² - exp(logvar))": -ref_kl,
            "il manque le facteur 0,5 de la KL": 2 * ref_kl,
            "la KL est moyennée sur les dimensions latentes au lieu d'être sommée": ref_kl / mu.shape[1],
            "la KL est sommée sur le lot : divisez par la taille du lot": ref_kl * n,
            "la KL utilise exp(logvar)² ou logvar² : le terme est exp(logvar), la variance":
                -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.pow(2)) / n,
        }
    if not math.isclose(rec.item(), ref_rec.item(), rel_tol=1e-4):
        reason = next((r for r, v in rec_diag.items()
                       if v is not None and math.isclose(rec.item(), v.item(), rel_tol=1e-4)),
                      "relisez la formule de référence de l'énoncé")
        _fail(f"Terme de reconstruction : {rec.item():.4f} au lieu de {ref_rec.item():.4f} : {reason}.")
    if not math.isclose(kl.item(), ref_kl.item(), rel_tol=1e-4):
        reason = next((r for r, v in kl_diag.items() if math.isclose(kl.item(), v.item(), rel_tol=1e-4)),
                      "relisez la formule fermée de la KL dans l'énoncé")
        _fail(f"Terme KL : {kl.item():.4f} au lieu de {ref_kl.item():.4f} : {reason}.")
    if not math.isclose(total.item(), ref_total.item(), rel_tol=1e-4):
        _fail(f"Total : {total.item():.4f} au lieu de {ref_total.item():.4f} : le total est la somme "
              "reconstruction + KL.")
    total.backward()
    if mu.grad is None or logvar.grad is None or recon.grad is None:
        _fail("vae_loss : le gradient du total n'atteint pas recon, mu et logvar.")
    _ok(f"vae_loss correcte : reconstruction {ref_rec.item():.2f} + KL {ref_kl.item():.4f} = "
        f"{ref_total.item():.2f} par image sur les tenseurs de test.")
