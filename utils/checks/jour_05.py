"""Jour 5 : autoencodeur et VAE.

L'autoencodeur à code latent en deux dimensions, l'astuce de
reparamétrisation et la perte du VAE (reconstruction + KL).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .core import (
    _activation_variants,
    _as_scalar,
    _backward,
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
    _int_arguments,
    _linear_in_call_order,
    _matching_variant,
    _ok,
    _ReferenceMLP,
    _sizes,
    _untouched,
    describe_difference,
)

__all__ = ["check_autoencoder", "check_reparameterize", "check_vae_loss"]


_NEUTRAL = (nn.Flatten, nn.Unflatten, nn.Identity)


def _layout(part: nn.Module) -> list[nn.Module]:
    """Les couches « feuilles » d'une partie, dans l'ordre où elles ont été créées (une couche
    réutilisée compte à chaque usage), sans Flatten, Unflatten ni Identity."""
    leaves = [m for _, m in part.named_modules(remove_duplicate=False) if not list(m.children())]
    return [m for m in leaves if not isinstance(m, _NEUTRAL)]


def _name(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return f"Linear({module.in_features}, {module.out_features})"
    return f"nn.{type(module).__name__}()"


def _names(modules) -> str:
    return ", ".join(_name(m) for m in modules) or "rien"


def _check_activations(part: nn.Module, which: str) -> bool:
    """Vérifie, couche par couche, les activations de ``model.encoder`` ou ``model.decoder``
    écrits en nn.Sequential (éventuellement imbriqués), où l'ordre de création des couches est
    l'ordre du calcul. Renvoie False pour une partie écrite à la main (une classe avec son
    forward) : ses activations, peut-être écrites dans forward (F.relu), sont alors vérifiées
    sur le calcul, plus loin."""
    __tracebackhide__ = True
    containers = [m for m in part.modules() if list(m.children())]
    if not all(isinstance(m, nn.Sequential) for m in containers):
        return False
    layers = _layout(part)
    where = [i for i, m in enumerate(layers) if isinstance(m, nn.Linear)]
    label = "model.encoder" if which == "encoder" else "model.decoder"
    head, tail = layers[:where[0]], layers[where[-1] + 1:]
    if head:
        _fail(f"{label} : avant la première couche {_name(layers[where[0]])}, l'énoncé ne met "
              f"{'que nn.Flatten()' if which == 'encoder' else 'rien'} ; trouvé {_names(head)}. "
              + ("Le décodeur reçoit le code tel quel : une activation à son entrée écraserait une "
                 "partie de l'espace latent." if which == "decoder" else "Retirez-la."))
    for a, b in zip(where, where[1:]):
        between = layers[a + 1:b]
        if len(between) == 1 and isinstance(between[0], nn.ReLU):
            continue
        if not between:
            _fail(f"{label} : aucune activation entre {_name(layers[a])} et {_name(layers[b])}. "
                  "Ajoutez nn.ReLU() entre les deux : sans activation, deux couches linéaires à la "
                  "suite ne font qu'une seule transformation linéaire, et le réseau perd sa "
                  "profondeur.")
        _fail(f"{label} : entre {_name(layers[a])} et {_name(layers[b])}, l'énoncé met seulement "
              f"nn.ReLU() ; trouvé {_names(between)}.")
    if which == "encoder" and tail:
        _fail(f"{label} : la dernière couche {_name(layers[where[-1]])} ne doit être suivie "
              f"d'aucune activation, trouvé {_names(tail)}. Le code latent doit pouvoir prendre "
              "n'importe quelle valeur réelle (négative, grande…).")
    if which == "decoder" and not (len(tail) == 1 and isinstance(tail[0], nn.Sigmoid)):
        if len(tail) == 1 and isinstance(tail[0], nn.Tanh):
            _fail(f"{label} : terminez par nn.Sigmoid(), pas nn.Tanh() : ici les pixels sont dans "
                  "[0, 1] (tanh rend [-1, 1], c'était pour les images du jour 1).")
        if not tail:
            _fail(f"{label} : terminez la dernière couche {_name(layers[where[-1]])} par "
                  "nn.Sigmoid(), pour que les pixels reconstruits soient dans [0, 1] comme ceux "
                  "des images.")
        _fail(f"{label} : après la dernière couche {_name(layers[where[-1]])}, l'énoncé met "
              f"seulement nn.Sigmoid() ; trouvé {_names(tail)}. Une activation de plus avant ou "
              "après la sigmoïde empêche les pixels de couvrir tout [0, 1] (par exemple une ReLU "
              "avant la sigmoïde ne laisse que des valeurs ≥ 0,5).")
    return True


def _is_affine(fn, a: torch.Tensor, b: torch.Tensor) -> bool:
    """``fn`` est-elle affine (une couche linéaire, ou plusieurs sans activation entre elles) ?"""
    with torch.no_grad():
        gap = fn(a + b) - fn(a) - fn(b) + fn(torch.zeros_like(a))
        scale = fn(a + b).abs().max() + fn(a).abs().max() + 1e-6
    return bool(gap.abs().max() <= 1e-4 * scale)


def _check_z_dim_argument(model: nn.Module) -> None:
    """La classe construite avec un autre ``z_dim`` doit produire un code de cette taille."""
    __tracebackhide__ = True
    cls = type(model)
    if "z_dim" not in _class_parameters(model) or not hasattr(model, "encoder") or not hasattr(model, "decoder"):
        return
    with torch.random.fork_rng():
        other = _call(cls, z_dim=5, what=f"{cls.__name__}(z_dim=5)")
        x = torch.rand(4, 1, 28, 28)
        code = _call(other.encoder, x, what=f"{cls.__name__}(z_dim=5).encoder appliqué à 4 images")
    hint = ("dans __init__, utilisez l'argument z_dim (dernière couche de l'encodeur, première du "
            "décodeur) au lieu d'une taille écrite en dur.")
    if not isinstance(code, torch.Tensor) or tuple(code.shape) != (4, 5):
        shape = tuple(code.shape) if isinstance(code, torch.Tensor) else type(code).__name__
        _fail(f"{cls.__name__}(z_dim=5).encoder donne un code de forme {shape} au lieu de (4, 5) : {hint}")
    with torch.random.fork_rng():
        _call(other.decoder, torch.randn(4, 5), what=f"{cls.__name__}(z_dim=5).decoder appliqué à un code (4, 5)",
              explain=lambda error: f"Le décodeur n'accepte pas un code de taille 5 : {hint}")


class _ReferenceAutoEncoder(nn.Module):
    """L'autoencodeur de l'énoncé : ses poids sont copiés depuis ceux de l'étudiant (encodeur puis
    décodeur, dans l'ordre de création), puis les sorties comparées."""

    def __init__(self, z_dim, hidden=nn.ReLU, final=nn.Sigmoid):
        super().__init__()
        self.encoder = _ReferenceMLP([784, 256, 128, z_dim], hidden)
        self.decoder = _ReferenceMLP([z_dim, 128, 256, 784], hidden, final=final, out_shape=(1, 28, 28))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def check_autoencoder(model: nn.Module, z_dim: int = 2) -> None:
    """Vérifie l'autoencodeur du jour 5.

    Attendu : ``model.encoder`` (784 → 256 → 128 → ``z_dim``, une ReLU entre
    deux couches, rien après la dernière), ``model.decoder`` (``z_dim`` → 128
    → 256 → 784, une ReLU entre deux couches, sigmoïde à la fin, image
    (N, 1, 28, 28) dans [0, 1]) et ``model(x) = decoder(encoder(x))``. Écrits
    avec des modules (nn.Sequential), les activations sont vérifiées couche par
    couche ; écrites dans ``forward`` (F.relu), on vérifie au moins qu'il y en a.
    """
    __tracebackhide__ = True
    _check_module(model, "l'autoencodeur")
    (z_dim,) = _int_arguments(z_dim=z_dim)
    for part in ("encoder", "decoder"):
        if not isinstance(getattr(model, part, None), nn.Module):
            _fail(f"L'autoencodeur doit avoir un attribut self.{part} (un nn.Module, par exemple un "
                  f"nn.Sequential) créé dans __init__.")
    expected = {"encoder": [784, 256, 128, z_dim], "decoder": [z_dim, 128, 256, 784]}
    for part, sizes in expected.items():
        layers = _linear_in_call_order(getattr(model, part))
        got = [layers[0].in_features] + [m.out_features for m in layers] if layers else []
        if got != sizes:
            _fail(f"model.{part} : couches {' → '.join(map(str, sizes))} attendues, trouvées "
                  f"{_sizes(layers)}.")
    by_modules = {part: _check_activations(getattr(model, part), part) for part in expected}
    with torch.random.fork_rng(), _untouched(model):
        torch.manual_seed(0)
        device = next(model.parameters()).device
        x = torch.rand(16, 1, 28, 28).to(device)
        try:
            code = model.encoder(x)
        except Exception:  # noqa: BLE001 - on cherche la cause avant de traduire l'erreur
            try:
                model.encoder(x.flatten(1))
            except Exception:  # noqa: BLE001
                code = _call(model.encoder, x, what="model.encoder appliqué à un lot (16, 1, 28, 28)")
            else:
                _fail("model.encoder reçoit des images (N, 1, 28, 28) : commencez-le par "
                      "nn.Flatten(), qui les met à plat en vecteurs de 784 pixels.")
        if not isinstance(code, torch.Tensor) or tuple(code.shape) != (16, z_dim):
            shape = tuple(code.shape) if isinstance(code, torch.Tensor) else type(code).__name__
            _fail(f"L'encodeur doit renvoyer un code (16, {z_dim}) pour 16 images, reçu {shape}. "
                  "Commencez par nn.Flatten().")
        _check_finite(code, "le code que rend model.encoder", model)
        with torch.no_grad():
            far = _call(model.encoder, torch.randn(256, 1, 28, 28).to(device) * 50,
                        what="model.encoder appliqué à un lot (256, 1, 28, 28)")
        if far.min() >= 0 or far.abs().max() <= 1:
            hidden = _matching_variant(   # une activation cachée fautive borne aussi le code
                model, lambda hidden=nn.ReLU, final=nn.Sigmoid: _ReferenceAutoEncoder(z_dim, hidden, final),
                (x,), {k: v for k, v in _activation_variants("nn.ReLU()", "une sigmoïde").items()
                       if "couche cachée" in k})
            if hidden:
                _fail(f"L'autoencodeur : à poids égaux, il calcule exactement ce que calculerait le réseau "
                      f"de l'énoncé avec {hidden}. L'énoncé demande une ReLU entre deux couches.")
            _fail("Le code latent est borné ou toujours positif : la dernière couche de l'encodeur ne "
                  "doit pas avoir d'activation (ni ReLU, ni sigmoïde, ni tanh).")
        again = _call(lambda v: model.decoder(model.encoder(v)), x,
                      what="model.decoder(model.encoder(x)) sur un lot (16, 1, 28, 28)")
        if not isinstance(again, torch.Tensor) or tuple(again.shape) != (16, 1, 28, 28):
            shape = tuple(again.shape) if isinstance(again, torch.Tensor) else type(again).__name__
            _fail(f"model.decoder doit rendre des images (16, 1, 28, 28), reçu {shape}. Terminez le "
                  "décodeur par nn.Unflatten(1, (1, 28, 28)).")
        _check_finite(again, "les images que rend model.decoder", model)
        try:
            out = model(x)
        except NotImplementedError:
            _fail("forward n'est pas encore écrit (il lève encore NotImplementedError) : il doit "
                  "renvoyer self.decoder(self.encoder(x)).")
        except Exception:  # noqa: BLE001
            _fail("model(x) lève une erreur alors que model.decoder(model.encoder(x)) fonctionne : "
                  "forward doit renvoyer self.decoder(self.encoder(x)).")
        if not isinstance(out, torch.Tensor):
            _fail(f"model(x) renvoie un {type(out).__name__}, pas un tenseur d'images : forward doit "
                  "renvoyer seulement self.decoder(self.encoder(x)).")
        _check_finite(out, "la sortie de model(x)", model)
        if (out.shape != again.shape
                or not torch.allclose(out.detach(), again.detach(), atol=1e-6)):
            if any(isinstance(m, nn.Dropout) for m in model.modules()):
                _fail("Deux passages de la même image donnent des sorties différentes : retirez le "
                      "nn.Dropout, que l'énoncé ne met pas dans l'autoencodeur.")
            _fail("forward doit renvoyer self.decoder(self.encoder(x)) : model(x) donne autre "
                  "chose que le décodeur appliqué au code de l'encodeur.")
        with torch.no_grad():
            extreme = _call(model.decoder, torch.randn(16, z_dim).to(device) * 100,
                            what=f"model.decoder appliqué à un code (16, {z_dim})")
        if out.min() < 0 or out.max() > 1 or extreme.min() < 0 or extreme.max() > 1:
            _fail("Les pixels reconstruits doivent être dans [0, 1], comme les images d'entrée : "
                  "terminez le décodeur par nn.Sigmoid().")
        if not by_modules["encoder"] and _is_affine(model.encoder, x, torch.rand_like(x)):
            _fail("model.encoder est entièrement linéaire : il n'applique aucune ReLU entre ses "
                  "couches. Ajoutez nn.ReLU() après Linear(784, 256) et après Linear(256, 128) "
                  "(ou F.relu dans son forward).")
        if not by_modules["decoder"]:
            def logits(z):
                return torch.logit(model.decoder(z).reshape(len(z), -1).double().clamp(1e-9, 1 - 1e-9))
            z = torch.randn(16, z_dim).to(device) * 0.5
            if _is_affine(logits, z, torch.randn_like(z) * 0.5):
                _fail("model.decoder n'applique aucune ReLU entre ses couches (avant la sigmoïde, "
                      f"tout est linéaire). Ajoutez nn.ReLU() après Linear({z_dim}, 128) et après "
                      "Linear(128, 256) (ou F.relu dans son forward).")
        _check_pure_forward(model, (x,), "L'autoencodeur")
        _check_behaves_like(
            model, lambda hidden=nn.ReLU, final=nn.Sigmoid: _ReferenceAutoEncoder(z_dim, hidden, final),
            (x,), "L'autoencodeur", "encodeur : nn.Flatten(), Linear(784, 256), ReLU, Linear(256, 128), "
            f"ReLU, Linear(128, {z_dim}) ; décodeur : Linear({z_dim}, 128), ReLU, Linear(128, 256), ReLU, "
            "Linear(256, 784), nn.Sigmoid(), forme (N, 1, 28, 28)",
            _activation_variants("nn.ReLU()", "une sigmoïde"))
        model.train()
        _check_gradients(model, out, "Autoencodeur")
    _check_z_dim_argument(model)
    _ok(f"Autoencodeur correct : encodeur {' → '.join(map(str, expected['encoder']))}, décodeur "
        f"{' → '.join(map(str, expected['decoder']))} avec sigmoïde, sortie (N, 1, 28, 28).")


def _noise_diagnosis(fn) -> str | None:
    """Ce qui cloche dans la loi de z, tirée en grand nombre avec mu = 0 et logvar = log 4
    (z devrait suivre N(0, 2²)) ; None si la loi est la bonne."""
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(5)
        mu, logvar = torch.zeros(20000, 2), torch.full((20000, 2), math.log(4.0))
        draws = fn(mu, logvar).double()
        again = fn(mu, logvar).double()
    mean, sd = draws.mean().item(), draws.std().item()
    seen = f"tirages reçus de moyenne {mean:.3f} et d'écart type {sd:.3f}"
    if draws.std(dim=0).max() < 1e-6:
        if torch.equal(draws, again):
            return ("z ne contient pas de bruit (deux appels donnent le même z) : ajoutez "
                    "eps * écart type, avec eps = torch.randn_like(mu)")
        return ("toutes les lignes du lot reçoivent le même bruit : tirez un eps par valeur de mu, "
                "de la même forme, avec torch.randn_like(mu) (pas torch.randn(1) ni torch.randn(z_dim))")
    centered = (draws - mean) / max(sd, 1e-12)
    if centered.pow(4).mean().item() < 2.2:   # loi normale : 3 ; loi uniforme : 1,8
        return (f"avec mu = 0 et logvar = log 4, z devrait suivre N(0, 2²) ; {seen}, répartis "
                "uniformément. Le bruit doit être gaussien : torch.randn_like, pas torch.rand_like")
    if abs(mean) > max(0.05, 5 * sd / math.sqrt(draws.numel())):   # 5 erreurs types
        return (f"avec mu = 0 et logvar = log 4, z devrait être centré sur mu = 0 ; {seen}. "
                "z = mu + écart type · eps, avec eps centré (torch.randn_like)")
    if abs(sd - 2.0) > 0.05:
        if abs(sd - 1.0) < 0.05:
            return (f"avec mu = 0 et logvar = log 4, z devrait avoir pour écart type "
                    f"exp(0,5 · log 4) = 2 ; {seen} : le bruit eps n'est pas multiplié par l'écart "
                    "type, std * eps")
        return (f"avec mu = 0 et logvar = log 4, z devrait avoir pour écart type exp(0,5 · log 4) "
                f"= 2 ; {seen}. L'écart type est torch.exp(0.5 * logvar)")
    return None


def check_reparameterize(fn) -> None:
    """Vérifie ``reparameterize(mu, logvar)`` : z = mu + exp(logvar / 2) * eps, eps ~ N(0, I).

    On compare, à graine égale, avec la référence qui tire ``eps`` par
    ``torch.randn_like`` (les erreurs typiques sont reconnues à leur valeur), puis
    on vérifie la loi de z sur beaucoup de tirages et que le gradient atteint
    ``mu`` et ``logvar``.
    """
    __tracebackhide__ = True
    _check_function(fn, "reparameterize")
    _check_argument_order(fn, ["mu", "logvar"], "reparameterize")
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
    if z.dtype != mu.dtype:
        _fail(f"reparameterize renvoie un tenseur de type {z.dtype}, alors que mu est de type {mu.dtype} : "
              "tirez eps avec torch.randn_like(mu), qui garde le type de mu (dtype=torch.float64 ou un "
              "tableau NumPy donnent du float64).")
    with torch.no_grad():
        std = torch.exp(0.5 * logvar)
        expected = mu + std * eps
        accepted = [expected, mu - std * eps]      # -eps suit la même loi que eps
        diagnostics = {
            "z ne contient pas de bruit : il faut ajouter eps * écart type, eps = torch.randn_like(mu)": mu,
            "exp(logvar) est la variance ; l'écart type est exp(logvar / 2) = torch.exp(0.5 * logvar)":
                mu + torch.exp(logvar) * eps,
            "le facteur 0,5 va dans l'exponentielle : std = torch.exp(0.5 * logvar), pas "
            "0.5 * torch.exp(logvar)": mu + 0.5 * torch.exp(logvar) * eps,
            "le signe est inversé dans l'exponentielle : std = torch.exp(0.5 * logvar), pas "
            "torch.exp(-0.5 * logvar)": mu + torch.exp(-0.5 * logvar) * eps,
            "logvar n'est pas l'écart type : prenez torch.exp(0.5 * logvar)": mu + logvar * eps,
            "logvar est le logarithme de la variance, pas la variance : l'écart type est "
            "torch.exp(0.5 * logvar), pas torch.sqrt(logvar)": mu + torch.sqrt(logvar) * eps,
            "mu et logvar sont inversés : z = mu + torch.exp(0.5 * logvar) * eps":
                logvar + torch.exp(0.5 * mu) * eps,
            "le bruit eps n'est pas multiplié par l'écart type : z = mu + std * eps": mu + eps,
        }
    if not any(torch.allclose(z.detach(), ok, atol=1e-5) for ok in accepted):
        for reason, candidate in diagnostics.items():
            if torch.allclose(z.detach(), candidate, atol=1e-5, equal_nan=True):
                _fail(f"reparameterize : {reason}.")
        _check_finite(z, "le z que renvoie reparameterize")
        reason = _noise_diagnosis(fn)
        if reason:
            _fail(f"reparameterize : {reason}.")
        _fail(f"reparameterize diffère de mu + exp(0,5·logvar)·eps à graine égale "
              f"({describe_difference(z, expected)}), bien que la loi de z semble juste. Tirez eps "
              "avec torch.randn_like(mu) (ou torch.randn_like(std)), une seule fois, sans fixer "
              "de graine dans la fonction.")
    if not z.requires_grad:
        _fail("reparameterize a coupé le graphe : z doit rester dérivable par rapport à mu et logvar. "
              "N'utilisez ni .detach(), ni torch.no_grad(), ni .sample() (mais .rsample()).")
    _backward(z.sum(), "reparameterize")
    if mu.grad is None or logvar.grad is None or logvar.grad.abs().sum() == 0:
        _fail("Le gradient n'atteint pas mu et logvar : c'est tout l'intérêt de l'astuce de "
              "reparamétrisation. N'utilisez ni .detach() ni torch.normal(mu, std) : écrivez "
              "z = mu + std * eps avec eps = torch.randn_like(std).")
    _ok("reparameterize correcte : z = mu + exp(logvar / 2) · eps, et le gradient atteint mu et logvar.")


def _vae_reference(recon, x, mu, logvar):
    n = x.shape[0]
    rec = nn.functional.binary_cross_entropy(recon, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return rec + kl, rec, kl


def _kl_sum(mu, logvar, var=None):
    """Σ (1 + logvar - mu² - variance) sur tout le lot, la somme de la formule fermée."""
    return torch.sum(1 + logvar - mu.pow(2) - (logvar.exp() if var is None else var))


def check_vae_loss(fn) -> None:
    """Vérifie ``vae_loss(recon, x, mu, logvar)`` sur des tenseurs fixes.

    Référence, par image puis en moyenne sur le lot : reconstruction = entropie
    croisée binaire **sommée sur les 784 pixels** ; KL = -½ Σ_j (1 + logvar_j -
    mu_j² - exp(logvar_j)) sommée sur les dimensions latentes. La fonction renvoie
    le triplet ``(total, reconstruction, kl)`` avec total = reconstruction + KL.
    Les tenseurs de test ont 3 dimensions latentes (le VAE du lab en a 2) : une KL
    moyennée sur les dimensions au lieu d'être sommée ne peut pas y compenser par
    hasard un facteur 0,5 oublié.
    """
    __tracebackhide__ = True
    _check_function(fn, "vae_loss")
    _check_argument_order(fn, ["recon", "x", "mu", "logvar"], "vae_loss")
    gen = torch.Generator().manual_seed(8)
    n, d = 16, 3
    x = torch.rand(n, 1, 28, 28, generator=gen)
    recon = (torch.rand(n, 1, 28, 28, generator=gen) * 0.9 + 0.05).requires_grad_(True)
    mu = torch.randn(n, d, generator=gen).requires_grad_(True)
    logvar = (torch.randn(n, d, generator=gen) * 0.5).requires_grad_(True)
    result = _call(fn, recon, x, mu, logvar, what="vae_loss(recon, x, mu, logvar)")
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        _fail("vae_loss doit renvoyer un triplet (total, reconstruction, kl), reçu "
              f"{type(result).__name__}.")
    for value, name in zip(result, ("total", "reconstruction", "kl")):
        if isinstance(value, torch.Tensor) and value.numel() != 1:
            per_image = tuple(value.shape) == (n,)
            _fail(f"vae_loss : le terme {name} doit être un nombre (un tenseur scalaire), reçu un "
                  f"tenseur de forme {tuple(value.shape)}"
                  + (", un nombre par image : moyennez-le sur le lot (.mean())." if per_image else
                     ". Sommez sur les pixels (et sur les dimensions latentes pour la KL) de chaque "
                     "image, puis moyennez sur le lot."))
    total, rec, kl = (_as_scalar(v, f"vae_loss (terme {name})")
                      for v, name in zip(result, ("total", "reconstruction", "kl")))
    with torch.no_grad():
        ref_total, ref_rec, ref_kl = _vae_reference(recon, x, mu, logvar)
        got = [total.item(), rec.item(), kl.item()]
        ref = [ref_total.item(), ref_rec.item(), ref_kl.item()]
        names = ("total", "reconstruction", "kl")
        bce = nn.functional.binary_cross_entropy
        rec_diag = {
            "la reconstruction est moyennée sur les pixels (reduction='mean', le défaut) : sommez sur "
            "les 784 pixels de chaque image, puis moyennez sur le lot (reduction='sum' puis / "
            "x.shape[0])": ref_rec / 784,
            "la reconstruction est sommée sur tout le lot : divisez par la taille du lot, x.shape[0]":
                ref_rec * n,
            "divisez par la taille du lot reçu, x.shape[0], pas par CONFIG['batch_size'] (128) : "
            "le dernier lot d'une époque est plus petit": ref_rec * n / 128,
            "la reconstruction utilise l'erreur quadratique ; ce VAE utilise l'entropie croisée "
            "binaire (F.binary_cross_entropy), sommée sur les pixels":
                ((recon - x) ** 2).sum() / n,
            "la reconstruction utilise l'erreur quadratique moyenne (F.mse_loss) ; ce VAE utilise "
            "l'entropie croisée binaire, sommée sur les 784 pixels de chaque image puis moyennée "
            "sur le lot": ((recon - x) ** 2).mean(),
            "les arguments de l'entropie croisée sont inversés : F.binary_cross_entropy(recon, x), "
            "la reconstruction d'abord, l'image cible ensuite (x_i log x̂_i : le log porte sur la "
            "reconstruction)": bce(x, recon, reduction="sum") / n,
            "il manque le signe moins de l'entropie croisée : -Σ [x log x̂ + (1 - x) log(1 - x̂)]":
                -ref_rec,
            "recon est déjà une probabilité (sortie de la sigmoïde) : utilisez "
            "F.binary_cross_entropy, pas F.binary_cross_entropy_with_logits":
                nn.functional.binary_cross_entropy_with_logits(recon, x, reduction="sum") / n,
        }
        kl_diag = {
            "le signe de la KL est inversé : KL = -0,5 · Σ (1 + logvar - mu² - exp(logvar))": -ref_kl,
            "il manque le facteur 0,5 de la KL": 2 * ref_kl,
            "la KL est moyennée sur les dimensions latentes au lieu d'être sommée (torch.mean au "
            "lieu de torch.sum ?)": ref_kl / d,
            "la KL est moyennée sur les dimensions latentes au lieu d'être sommée, et il lui "
            "manque le facteur 0,5": 2 * ref_kl / d,
            "la KL est sommée sur le lot : divisez par la taille du lot, x.shape[0]": ref_kl * n,
            "divisez la KL par la taille du lot reçu, x.shape[0], pas par CONFIG['batch_size'] "
            "(128)": ref_kl * n / 128,
            "la KL utilise logvar² : le dernier terme est exp(logvar), la variance":
                -0.5 * _kl_sum(mu, logvar, logvar.pow(2)) / n,
            "la KL utilise exp(logvar)² : le dernier terme est exp(logvar), la variance σ², pas σ⁴":
                -0.5 * _kl_sum(mu, logvar, logvar.exp().pow(2)) / n,
            "la KL utilise l'écart type exp(logvar / 2) : le dernier terme est la variance, "
            "exp(logvar)": -0.5 * _kl_sum(mu, logvar, (0.5 * logvar).exp()) / n,
            "mu n'est pas élevé au carré dans la KL : mu.pow(2)":
                -0.5 * torch.sum(1 + logvar - mu - logvar.exp()) / n,
            "mu et logvar sont inversés dans la KL : -0,5 · Σ (1 + logvar - mu² - exp(logvar))":
                -0.5 * _kl_sum(logvar, mu) / n,
            "il manque le « 1 + » dans la KL : -0,5 · Σ (1 + logvar - mu² - exp(logvar))":
                ref_kl + 0.5 * d,
        }
    if not all(math.isclose(g, r, rel_tol=1e-4) for g, r in zip(got, ref)):
        for order in ((1, 2, 0), (0, 2, 1), (1, 0, 2), (2, 0, 1), (2, 1, 0)):
            if all(math.isclose(got[i], ref[j], rel_tol=1e-4) for i, j in enumerate(order)):
                _fail("vae_loss renvoie les bons termes dans le désordre : renvoyez "
                      "(total, reconstruction, kl), reçu (" + ", ".join(names[j] for j in order) + ").")
    if not math.isclose(rec.item(), ref_rec.item(), rel_tol=1e-4):
        reason = next((r for r, v in rec_diag.items() if math.isclose(rec.item(), v.item(), rel_tol=1e-4)),
                      "relisez la formule de l'énoncé : -Σ_i [x_i log x̂_i + (1 - x_i) log(1 - x̂_i)] "
                      "sur les 784 pixels, en moyenne sur le lot")
        _fail(f"Terme de reconstruction : {rec.item():.4f} au lieu de {ref_rec.item():.4f} : {reason}.")
    if not math.isclose(kl.item(), ref_kl.item(), rel_tol=1e-4):
        reason = next((r for r, v in kl_diag.items() if math.isclose(kl.item(), v.item(), rel_tol=1e-4)),
                      "relisez la formule fermée de la KL dans l'énoncé")
        _fail(f"Terme KL : {kl.item():.4f} au lieu de {ref_kl.item():.4f} : {reason}.")
    if not math.isclose(total.item(), ref_total.item(), rel_tol=1e-4):
        _fail(f"Total : {total.item():.4f} au lieu de {ref_total.item():.4f} : le total est la somme "
              "reconstruction + kl, sans coefficient ni soustraction.")
    _backward(total, "vae_loss")
    if mu.grad is None or logvar.grad is None or recon.grad is None:
        _fail("vae_loss : le gradient du total n'atteint pas recon, mu et logvar. N'utilisez ni "
              ".detach() ni .item() dans la perte.")
    _ok(f"vae_loss correcte : reconstruction {ref_rec.item():.2f} + KL {ref_kl.item():.4f} = "
        f"{ref_total.item():.2f} par image sur les tenseurs de test.")
