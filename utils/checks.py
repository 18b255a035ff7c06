"""Auto-vérifications des exercices.

Chaque fonction ``check_...`` teste votre réponse contre une référence :

* si elle est juste, elle affiche un verdict ✅ (toujours le même texte, pour
  pouvoir le comparer d'une exécution à l'autre) ;
* sinon elle lève :class:`CheckError` avec un message ❌ qui dit ce qui était
  attendu, ce qui a été reçu, de combien on s'écarte et quoi corriger.

Les vérifications n'utilisent pas l'aléa du notebook : elles tirent leurs
propres nombres et rendent ensuite le générateur aléatoire dans l'état où elles
l'ont trouvé.
"""

from __future__ import annotations

import inspect
import math

import torch
from torch import nn


class CheckError(AssertionError):
    """Une auto-vérification a échoué ; le message dit quoi corriger."""


def _fail(message: str):
    __tracebackhide__ = True
    raise CheckError("❌ " + message)


def _ok(message: str) -> None:
    print("✅ " + message)


def describe_difference(got: torch.Tensor, expected: torch.Tensor) -> str:
    """Résumé de l'écart entre deux tenseurs : exact, approché, ou différence maximale."""
    got, expected = got.detach().double().cpu(), expected.detach().double().cpu()
    if got.shape != expected.shape:
        return f"formes différentes : {tuple(got.shape)} au lieu de {tuple(expected.shape)}"
    diff = (got - expected).abs().max().item() if got.numel() else 0.0
    if diff == 0:
        return "identique"
    if torch.allclose(got, expected, rtol=1e-5, atol=1e-6):
        return f"égal à la précision près (écart max {diff:.1e})"
    return f"écart max {diff:.4g}"


def _call(fn, *args, what: str, **kwargs):
    """Appelle le code de l'étudiant et traduit une exception en message clair."""
    __tracebackhide__ = True
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        _fail(f"{what} n'est pas encore écrit (la cellule lève encore NotImplementedError). "
              "Complétez le bloc « À VOUS DE JOUER », exécutez la cellule, puis relancez la vérification.")
    except CheckError:
        raise
    except Exception as error:  # noqa: BLE001 - on veut tout traduire pour l'étudiant
        text = str(error)
        hint = next((h for key, h in _ERROR_HINTS.items() if key in text),
                    "Lisez le message ci-dessus et corrigez la ligne de votre code qu'il désigne.")
        _fail(f"{what} a levé une erreur : {type(error).__name__} : {text.splitlines()[0]}\n{hint}")


_ERROR_HINTS = {
    "backward through the graph a second time":
        "Cause la plus fréquente : le pas du discriminateur rétropropage jusque dans le générateur. "
        "Donnez-lui fake.detach(), et gardez fake (sans detach) pour le pas du générateur.",
    "shapes cannot be multiplied":
        "Une couche Linear reçoit une entrée de la mauvaise taille : vérifiez que chaque "
        "in_features est égal au out_features de la couche précédente (784 pour une image aplatie).",
    "unexpected keyword argument 'real_label'":
        "La fonction doit accepter le paramètre real_label (voir la signature donnée dans l'énoncé).",
    "unexpected keyword argument 'd_steps'":
        "La fonction doit accepter le paramètre d_steps (voir la signature donnée dans l'énoncé).",
    "Expected all tensors to be on the same device":
        "Un tenseur est sur un autre appareil que le modèle : créez le bruit avec "
        "device=real.device.",
    "all elements of input should be between 0 and 1":
        "nn.BCELoss attend des probabilités : la sortie du discriminateur doit passer par nn.Sigmoid().",
}


def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def _has(model: nn.Module, kind) -> bool:
    return any(isinstance(m, kind) for m in model.modules())


def _check_module(model, name: str):
    __tracebackhide__ = True
    if inspect.isclass(model):
        _fail(f"On attend une instance de {name}, pas la classe : passez {model.__name__}() "
              f"(avec les parenthèses).")
    if not isinstance(model, nn.Module):
        _fail(f"On attend un modèle PyTorch (nn.Module) pour {name}, reçu : {type(model).__name__}.")
    if not any(True for _ in model.parameters()):
        _fail(f"{name} n'a aucun paramètre : avez-vous créé les couches dans __init__ "
              "et appelé super().__init__() ?")


def _sizes(layers: list[nn.Linear]) -> str:
    """Les tailles successives d'une pile de couches, « 784 → 256 → 1 »."""
    return " → ".join([str(layers[0].in_features)] + [str(m.out_features) for m in layers]) if layers else "aucune"


def _check_linear_stack(model, name: str, in_features: int, out_features: int, n_linear: int):
    __tracebackhide__ = True
    layers = _linear_layers(model)
    sizes = _sizes(layers)
    if len(layers) != n_linear:
        _fail(f"{name} : {n_linear} couches nn.Linear attendues ({n_linear - 1} cachées + 1 de sortie), "
              f"{len(layers)} trouvées (tailles : {sizes}).")
    if layers[0].in_features != in_features:
        _fail(f"{name} : la première couche doit recevoir {in_features} valeurs, elle en reçoit "
              f"{layers[0].in_features} (tailles : {sizes}).")
    if layers[-1].out_features != out_features:
        _fail(f"{name} : la dernière couche doit produire {out_features} valeur(s), elle en produit "
              f"{layers[-1].out_features} (tailles : {sizes}).")
    return sizes


def _check_gradients(model, output, name: str):
    __tracebackhide__ = True
    model.zero_grad(set_to_none=True)
    output.float().mean().backward()
    dead = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    if dead:
        _fail(f"{name} : aucun gradient n'arrive aux paramètres {', '.join(dead[:4])}. Une couche "
              "créée dans __init__ n'est pas utilisée dans forward, ou le calcul est détaché "
              "(.detach(), .item(), numpy).")
    model.zero_grad(set_to_none=True)


# ---------------------------------------------------------------------------
# Jour 1 : GAN entièrement connecté sur MNIST
# ---------------------------------------------------------------------------

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


def _bce(p: torch.Tensor, target: float) -> torch.Tensor:
    return nn.functional.binary_cross_entropy(p, torch.full_like(p, target))


def _loss_probe():
    """Probabilités fixes (avec gradient) pour tester une fonction de perte."""
    gen = torch.Generator().manual_seed(1234)
    d_real = (torch.rand(32, 1, generator=gen) * 0.8 + 0.15).requires_grad_(True)
    d_fake = (torch.rand(32, 1, generator=gen) * 0.8 + 0.05).requires_grad_(True)
    return d_real, d_fake


def _as_scalar(value, what: str) -> torch.Tensor:
    __tracebackhide__ = True
    if not isinstance(value, torch.Tensor):
        _fail(f"{what} doit renvoyer un tenseur PyTorch (pour pouvoir appeler .backward()), "
              f"il renvoie {type(value).__name__}. N'utilisez pas .item() ni numpy dans la perte.")
    if value.numel() != 1:
        _fail(f"{what} doit renvoyer un scalaire (la moyenne sur le mini-lot), reçu un tenseur de "
              f"forme {tuple(value.shape)}. Prenez la moyenne (reduction='mean', le défaut de nn.BCELoss).")
    if not value.requires_grad:
        _fail(f"{what} a coupé le graphe de calcul : le résultat n'a pas de gradient. "
              "N'utilisez ni .detach(), ni .item(), ni torch.tensor(...) sur les probabilités.")
    return value.reshape(())


def check_discriminator_loss(loss_fn, test_real_label: bool = False) -> None:
    """Vérifie ``discriminator_loss(d_real, d_fake)``.

    Référence : BCE(D(x), 1) + BCE(D(G(z)), 0), chaque terme moyenné sur le
    mini-lot, soit -[log D(x) + log(1 - D(G(z)))] en moyenne. Avec
    ``test_real_label=True`` (lissage des étiquettes), la fonction doit aussi
    accepter ``real_label=0.9`` : BCE(D(x), 0,9) + BCE(D(G(z)), 0).
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
    if not test_real_label:
        _ok(f"discriminator_loss correcte : {value:.4f} sur les probabilités de test (référence {reference}).")
        return
    smoothed = _as_scalar(_call(loss_fn, d_real, d_fake, real_label=0.9,
                                what="discriminator_loss(d_real, d_fake, real_label=0.9)"),
                          "discriminator_loss")
    with torch.no_grad():
        expected_smooth = _bce(d_real, 0.9) + fake_term
    if not math.isclose(smoothed.item(), expected_smooth.item(), rel_tol=1e-4, abs_tol=1e-6):
        hint = (" : real_label est ignoré, la cible des vraies images reste 1"
                if math.isclose(smoothed.item(), value, rel_tol=1e-6) else "")
        _fail(f"discriminator_loss(..., real_label=0.9) renvoie {smoothed.item():.4f} au lieu de "
              f"{expected_smooth.item():.4f}{hint}. Utilisez torch.full_like(d_real, real_label) "
              "comme cible des vraies images.")
    _ok(f"discriminator_loss correcte : {value:.4f} sur les probabilités de test (référence "
        f"{reference}), et {smoothed.item():.4f} avec real_label=0.9 (référence {expected_smooth.item():.4f}).")


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


def _reference_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label=1.0,
                    resample=False, zero_grad=True, d_steps=1):
    batch = real.shape[0]
    for _ in range(d_steps):
        z = torch.randn(batch, z_dim, device=real.device)
        fake = generator(z)
        if zero_grad:
            opt_d.zero_grad()
        d_real, d_fake = discriminator(real), discriminator(fake.detach())
        loss_d = _bce(d_real, real_label) + _bce(d_fake, 0.0)
        loss_d.backward()
        opt_d.step()
    if resample:
        fake = generator(torch.randn(batch, z_dim, device=real.device))
    if zero_grad:
        opt_g.zero_grad()
    loss_g = _bce(discriminator(fake), 1.0)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
            "d_real": d_real.mean().item(), "d_fake": d_fake.mean().item()}


def _params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _run_variant(step_fn, **kwargs):
    torch.manual_seed(11)
    real, g, d, opt_g, opt_d = _probe_models()
    before = (_params(g), _params(d))
    torch.manual_seed(11)
    result = step_fn(real, g, d, opt_g, opt_d, _PROBE_Z_DIM, **kwargs)
    return result, before, (_params(g), _params(d))


def _check_update(new, before, stale, references, who: str, opt: str, loss: str):
    """Les poids ont-ils bougé, et sans reprendre des gradients « périmés » ?"""
    __tracebackhide__ = True
    if torch.equal(new, before):
        _fail(f"Les poids du {who} n'ont pas bougé : appelez {loss}.backward() puis {opt}.step().")
    if torch.allclose(new, stale, atol=1e-6) and not any(torch.allclose(new, r, atol=1e-6) for r in references):
        _fail(f"Le {who} a utilisé des gradients restés d'avant : appelez {opt}.zero_grad() "
              f"avant {loss}.backward().")


def check_train_step(train_step, real_label: float | None = None, d_steps: int | None = None) -> None:
    """Vérifie ``train_step(real, generator, discriminator, opt_g, opt_d, z_dim)``.

    Avec ``real_label`` (lissage des étiquettes), la fonction est appelée avec
    ``real_label=...`` en plus et la référence vise cette valeur pour les vraies images.
    Avec ``d_steps`` (jour 3), elle est aussi appelée avec ``d_steps=...`` : la
    référence fait alors ``d_steps`` pas de D, chacun avec un bruit neuf et le
    même lot réel, puis un pas de G sur les images du dernier pas de D ; ``d_real``
    et ``d_fake`` sont ceux du dernier pas de D.

    Référence : un pas de D (images réelles → 1, images générées détachées → 0)
    puis un pas de G (perte non saturante sur D mis à jour), chaque pas précédé
    de ``zero_grad()``. La fonction renvoie un dictionnaire de nombres (float) :
    ``loss_d``, ``loss_g``, ``d_real`` (moyenne de D(x)) et ``d_fake`` (moyenne
    de D(G(z)) vue par le pas de D). On compare les poids après une étape sur de
    petits modèles avec ceux de la référence, à graine égale.
    """
    __tracebackhide__ = True
    label = {} if real_label is None else {"real_label": real_label}
    if d_steps is not None:
        label["d_steps"] = d_steps
    call = ("train_step(real, generator, discriminator, opt_g, opt_d, z_dim"
            + "".join(f", {k}={v}" for k, v in label.items()) + ")")
    with torch.random.fork_rng():
        expected, before, (g_ref, d_ref) = _run_variant(_reference_step, **label)
        _, _, (g_ref2, _) = _run_variant(_reference_step, resample=True, **label)
        torch.manual_seed(11)
        real, g, d, opt_g, opt_d = _probe_models()
        torch.manual_seed(11)
        result = _call(train_step, real, g, d, opt_g, opt_d, _PROBE_Z_DIM, **label, what=call)
        g_new, d_new = _params(g), _params(d)
        _, _, (g_nozero, d_nozero) = _run_variant(_reference_step, zero_grad=False, **label)
        _, _, (_, d_unsmoothed) = _run_variant(_reference_step, d_steps=d_steps or 1)
        _, _, (_, d_single) = _run_variant(_reference_step, real_label=real_label or 1.0)

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
    # Le discriminateur
    _check_update(d_new, before[1], d_nozero, [d_ref], "discriminateur", "opt_d", "loss_d")
    smoothed = real_label is not None and real_label != 1.0
    if smoothed and torch.allclose(d_new, d_unsmoothed, rtol=1e-4, atol=1e-5):
        _fail("Le pas du discriminateur ignore real_label : passez-le à discriminator_loss "
              "(discriminator_loss(d_real, d_fake, real_label)).")
    if d_steps and d_steps > 1 and torch.allclose(d_new, d_single, rtol=1e-4, atol=1e-5):
        _fail(f"Le discriminateur n'a fait qu'un pas alors que d_steps={d_steps} : répétez le pas de "
              "D dans une boucle for _ in range(d_steps), avec un bruit neuf à chaque tour.")
    if not torch.allclose(d_new, d_ref, rtol=1e-4, atol=1e-5):
        _fail(f"Le pas du discriminateur diffère de la référence ({describe_difference(d_new, d_ref)} "
              "sur ses poids). Vérifiez : un seul bruit z tiré par torch.randn(batch, z_dim, "
              "device=real.device), fake.detach() pour le pas de D, la perte discriminator_loss.")
    # Le générateur
    _check_update(g_new, before[0], g_nozero, [g_ref, g_ref2], "générateur", "opt_g", "loss_g")
    if not (torch.allclose(g_new, g_ref, rtol=1e-4, atol=1e-5)
            or torch.allclose(g_new, g_ref2, rtol=1e-4, atol=1e-5)):
        _fail(f"Le pas du générateur diffère de la référence ({describe_difference(g_new, g_ref)} "
              "sur ses poids). Vérifiez : la perte generator_loss(discriminator(fake)) calculée avec "
              "le discriminateur *après* son pas, sans .detach() sur fake.")
    for key in ("loss_d", "d_real", "d_fake"):
        if not math.isclose(result[key], expected[key], rel_tol=1e-4, abs_tol=1e-5):
            _fail(f"train_step renvoie {key} = {result[key]:.4f} au lieu de {expected[key]:.4f}. "
                  "d_real et d_fake sont les moyennes de D(x) et D(G(z)) calculées au pas de D.")
    d_part = f"{d_steps} pas de D" if d_steps and d_steps > 1 else "un pas de D"
    _ok(f"train_step correct : {d_part} puis un pas de G, poids identiques à la référence "
        "après une étape.")


# ---------------------------------------------------------------------------
# Jour 2 : GAN jouet en deux dimensions
# ---------------------------------------------------------------------------

TOY_LOSSES = ("saturating", "non_saturating", "least_squares")


def check_toy_generator(generator: nn.Module, noise_dim: int = 2, n_hidden: int = 2) -> None:
    """Vérifie le générateur du jour 2 : bruit (N, ``noise_dim``) → point du plan (N, 2).

    Attendu : ``n_hidden`` couches cachées ``nn.Linear`` + ``nn.ReLU`` (ou
    LeakyReLU), puis une couche de sortie à 2 valeurs **sans** activation : un
    point du plan peut être n'importe où, pas seulement dans [-1, 1].
    """
    __tracebackhide__ = True
    _check_module(generator, "le générateur")
    sizes = _check_linear_stack(generator, "Générateur", noise_dim, 2, n_hidden + 1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        device = next(generator.parameters()).device
        z = torch.randn(64, noise_dim).to(device)
        out = _call(generator, z, what=f"Le générateur appliqué à un bruit (64, {noise_dim})")
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


def _toy_probe_models(noise_dim=2):
    torch.manual_seed(5)
    generator = nn.Sequential(nn.Linear(noise_dim, 16), nn.ReLU(), nn.Linear(16, 2))
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


def _toy_reference_step(generator, discriminator, opt_g, opt_d, sample_real, batch_size,
                        noise_dim, loss, d_steps, reuse=False, zero_grad=True):
    for _ in range(d_steps):
        real = sample_real(batch_size)
        fake = generator(torch.randn(batch_size, noise_dim))
        if zero_grad:
            opt_d.zero_grad()
        loss_d = _toy_d_loss(discriminator(real), discriminator(fake.detach()), loss)
        loss_d.backward()
        opt_d.step()
    if not reuse:
        fake = generator(torch.randn(batch_size, noise_dim))
    if zero_grad:
        opt_g.zero_grad()
    loss_g = _toy_g_loss(discriminator(fake), loss)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}


def check_toy_train_step(train_step) -> None:
    """Vérifie ``train_step(generator, discriminator, opt_g, opt_d, sample_real, batch_size,
    noise_dim, loss, d_steps)``.

    Référence : ``d_steps`` pas du discriminateur (chacun avec un lot réel
    ``sample_real(batch_size)`` et un lot généré détaché), puis un pas du
    générateur ; ``zero_grad()`` avant chaque ``backward()``. Renvoie
    ``{"loss_d": float, "loss_g": float}`` (valeurs du dernier pas de D et du
    pas de G). Comparé sur de petits modèles, à graine égale, pour plusieurs
    pertes et plusieurs valeurs de ``d_steps``.
    """
    __tracebackhide__ = True
    for loss, d_steps in (("non_saturating", 1), ("least_squares", 3)):
        call = f"train_step(..., batch_size=8, noise_dim=2, loss={loss!r}, d_steps={d_steps})"
        outcomes = {}
        with torch.random.fork_rng():
            for variant in ("student", "reference", "reuse", "no_zero_grad"):
                g, d, opt_g, opt_d, sample_real = _toy_probe_models()
                before = (_params(g), _params(d))
                torch.manual_seed(21)
                if variant == "student":
                    result = _call(train_step, g, d, opt_g, opt_d, sample_real, 8, 2, loss, d_steps,
                                   what=call)
                else:
                    result = _toy_reference_step(g, d, opt_g, opt_d, sample_real, 8, 2, loss,
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
                  "un bruit torch.randn(batch_size, noise_dim), et fake.detach() pour D.")
        _check_update(g_new, before[0], outcomes["no_zero_grad"][1],
                      [g_ref, outcomes["reuse"][1]], "générateur", "opt_g", "loss_g")
        if not (torch.allclose(g_new, g_ref, rtol=1e-4, atol=1e-5)
                or torch.allclose(g_new, outcomes["reuse"][1], rtol=1e-4, atol=1e-5)):
            _fail(f"Avec loss={loss!r} et d_steps={d_steps}, le générateur diffère de la "
                  f"référence ({describe_difference(g_new, g_ref)} sur ses poids). Vérifiez que "
                  "son pas vient après les d_steps pas de D et utilise generator_loss(..., loss).")
    _ok("train_step correct : d_steps pas de D puis un pas de G, poids identiques à la référence "
        "(pertes non saturante et moindres carrés, d_steps = 1 et 3).")


# ---------------------------------------------------------------------------
# Jour 5 : autoencodeur et VAE
# ---------------------------------------------------------------------------

def check_autoencoder(model: nn.Module, latent_dim: int = 2) -> None:
    """Vérifie l'autoencodeur du jour 5.

    Attendu : ``model.encoder`` (784 → 256 → 128 → ``latent_dim``, ReLU entre
    les couches, rien après la dernière), ``model.decoder`` (``latent_dim`` → 128
    → 256 → 784, ReLU entre les couches, sigmoïde à la fin, image (N, 1, 28, 28)
    dans [0, 1]) et ``model(x) = decoder(encoder(x))``.
    """
    __tracebackhide__ = True
    _check_module(model, "l'autoencodeur")
    for part in ("encoder", "decoder"):
        if not isinstance(getattr(model, part, None), nn.Module):
            _fail(f"L'autoencodeur doit avoir un attribut self.{part} (un nn.Module, par exemple un "
                  f"nn.Sequential) créé dans __init__.")
    expected = {"encoder": [784, 256, 128, latent_dim], "decoder": [latent_dim, 128, 256, 784]}
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
        if not isinstance(code, torch.Tensor) or tuple(code.shape) != (16, latent_dim):
            shape = tuple(code.shape) if isinstance(code, torch.Tensor) else type(code).__name__
            _fail(f"L'encodeur doit renvoyer un code (16, {latent_dim}) pour 16 images, reçu {shape}. "
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
            extreme = model.decoder(torch.randn(16, latent_dim).to(device) * 100)
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


# ---------------------------------------------------------------------------
# Jour 3 : DCGAN sur MNIST
# ---------------------------------------------------------------------------

_CONV_T_CASES = [  # (taille d'entrée, noyau, pas, marge, marge de sortie)
    (7, 4, 2, 1, 0), (14, 4, 2, 1, 0), (7, 3, 2, 1, 1), (7, 5, 1, 2, 0), (4, 3, 2, 0, 0),
    (10, 5, 3, 2, 2), (1, 7, 1, 0, 0),
]


def check_conv_transpose_size(fn) -> None:
    """Vérifie ``conv_transpose_output_size(size, kernel, stride, padding, output_padding=0)``.

    Référence : la taille que produit vraiment ``nn.ConvTranspose2d`` sur une
    entrée carrée, soit (size - 1) · stride - 2 · padding + kernel + output_padding.
    """
    __tracebackhide__ = True
    for size, kernel, stride, padding, extra in _CONV_T_CASES:
        with torch.random.fork_rng():  # créer la couche tire ses poids : l'aléa du notebook n'en sait rien
            layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding=extra)
        expected = layer(torch.zeros(1, 1, size, size)).shape[-1]
        call = f"conv_transpose_output_size({size}, {kernel}, {stride}, {padding}, {extra})"
        got = _call(fn, size, kernel, stride, padding, extra, what=call)
        if isinstance(got, float) and got.is_integer():
            got = int(got)
        if not isinstance(got, int) or isinstance(got, bool):
            _fail(f"{call} doit renvoyer un entier (int), reçu {type(got).__name__} ({got!r}).")
        if got == expected:
            continue
        guesses = {
            "c'est la formule de la convolution ordinaire (elle réduit l'image) ; la convolution "
            "transposée fait le chemin inverse": (size + 2 * padding - kernel) // stride + 1,
            "la marge (padding) retire 2 · padding pixels, un de chaque côté":
                (size - 1) * stride - padding + kernel + extra,
            "il manque la marge de sortie (output_padding), ajoutée d'un seul côté":
                (size - 1) * stride - 2 * padding + kernel,
            "c'est (size - 1) · stride, pas size · stride : le noyau est posé size fois, "
            "tous les stride pixels": size * stride - 2 * padding + kernel + extra,
        }
        reason = next((r for r, v in guesses.items() if v == got),
                      "relisez la formule : (size - 1) · stride - 2 · padding + kernel + output_padding")
        _fail(f"{call} renvoie {got}, alors que nn.ConvTranspose2d produit {expected} pixels : {reason}.")
    _ok(f"conv_transpose_output_size correcte sur {len(_CONV_T_CASES)} cas comparés à "
        "nn.ConvTranspose2d (dont 7 → 14 → 28 avec noyau 4, pas 2, marge 1).")


def _layer_counts(model: nn.Module, kinds) -> dict:
    return {kind.__name__: sum(isinstance(m, kind) for m in model.modules()) for kind in kinds}


def check_dcgan_generator(generator: nn.Module, z_dim: int = 256, base_channels: int = 128) -> None:
    """Vérifie le générateur DCGAN du jour 3 : bruit (N, ``z_dim``) → image (N, 1, 28, 28).

    Attendu : une couche ``nn.Linear(z_dim, base_channels · 7 · 7)`` remise en
    forme (base_channels, 7, 7), au moins deux ``nn.ConvTranspose2d`` (7 → 14 → 28),
    de la ``BatchNorm`` et des ``LeakyReLU`` entre elles, et ``nn.Tanh()`` à la fin.
    """
    __tracebackhide__ = True
    _check_module(generator, "le générateur")
    linears = _linear_layers(generator)
    if not linears or linears[0].in_features != z_dim or linears[0].out_features != base_channels * 49:
        _fail(f"Le générateur doit commencer par nn.Linear({z_dim}, {base_channels} * 7 * 7), soit "
              f"{z_dim} → {base_channels * 49} valeurs remises en forme ({base_channels}, 7, 7) ; "
              f"couches Linear trouvées : {_sizes(linears)}.")
    counts = _layer_counts(generator, (nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.LeakyReLU))
    if counts["ConvTranspose2d"] < 2:
        _fail(f"Il faut au moins deux nn.ConvTranspose2d (7 → 14, puis 14 → 28) ; trouvées : "
              f"{counts['ConvTranspose2d']}.")
    if counts["BatchNorm2d"] == 0:
        _fail("Aucune nn.BatchNorm2d : mettez-en une après chaque convolution transposée, sauf la "
              "dernière (celle qui produit l'image).")
    if counts["LeakyReLU"] == 0:
        _fail("Aucune nn.LeakyReLU : chaque couche cachée se termine par nn.LeakyReLU(0.2).")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        device = next(generator.parameters()).device
        z = torch.randn(8, z_dim).to(device)
        out = _call(generator, z, what=f"Le générateur appliqué à un bruit (8, {z_dim})")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (8, 1, 28, 28):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"Sortie du générateur : forme (8, 1, 28, 28) attendue pour 8 bruits, reçue {shape}. "
                  "Vérifiez nn.Unflatten(1, (base, 7, 7)) après la couche Linear et la taille de "
                  "chaque convolution transposée (exercice 1).")
        with torch.no_grad():
            far = generator(z * 100)
        if far.min() < -1 - 1e-6 or far.max() > 1 + 1e-6 or not isinstance(list(generator.modules())[-1], nn.Tanh):
            _fail("Les pixels générés doivent être dans [-1, 1], comme les vraies images : la "
                  "dernière couche du générateur est nn.Tanh().")
        if torch.allclose(out[0], out[1:], atol=1e-6):
            _fail("Le générateur dessine la même image pour des bruits différents : la sortie ne "
                  "dépend pas de z.")
        _check_gradients(generator, out, "Générateur")
    n_conv = counts["ConvTranspose2d"]
    _ok(f"Générateur DCGAN correct : Linear {z_dim} → {base_channels}×7×7, {n_conv} convolutions "
        "transposées avec BatchNorm et LeakyReLU, sortie tanh (N, 1, 28, 28).")


def check_dcgan_discriminator(discriminator: nn.Module) -> None:
    """Vérifie le discriminateur DCGAN du jour 3 : image (N, 1, 28, 28) → probabilité (N, 1).

    Attendu : au moins deux ``nn.Conv2d`` suivies de ``nn.LeakyReLU``, un
    ``nn.Dropout``, ``nn.Flatten``, puis une couche ``nn.Linear(..., 1)`` et
    ``nn.Sigmoid()``.
    """
    __tracebackhide__ = True
    _check_module(discriminator, "le discriminateur")
    counts = _layer_counts(discriminator, (nn.Conv2d, nn.LeakyReLU, nn.Dropout, nn.Sigmoid))
    if counts["Conv2d"] < 2:
        _fail(f"Il faut au moins deux nn.Conv2d (28 → 14 → 7) ; trouvées : {counts['Conv2d']}.")
    if counts["LeakyReLU"] < counts["Conv2d"]:
        _fail("Chaque nn.Conv2d doit être suivie de nn.LeakyReLU(0.2) : "
              f"{counts['Conv2d']} convolutions pour {counts['LeakyReLU']} LeakyReLU.")
    if counts["Dropout"] == 0:
        _fail("Aucun nn.Dropout : la recette place un Dropout avant nn.Flatten().")
    if not isinstance(list(discriminator.modules())[-1], nn.Sigmoid):
        _fail("La dernière couche du discriminateur doit être nn.Sigmoid() : il renvoie une probabilité, "
              "que nn.BCELoss attend.")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        device = next(discriminator.parameters()).device
        x = (torch.rand(8, 1, 28, 28) * 2 - 1).to(device)
        out = _call(discriminator, x, what="Le discriminateur appliqué à 8 images (8, 1, 28, 28)")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (8, 1):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"Sortie du discriminateur : forme (8, 1) attendue pour 8 images, reçue {shape}. "
                  "Après les convolutions, nn.Flatten() puis nn.Linear(canaux * 7 * 7, 1).")
        if out.min() <= 0 or out.max() >= 1:
            _fail("Les sorties du discriminateur doivent être des probabilités dans ]0, 1[.")
        was_training = discriminator.training
        discriminator.train()
        with torch.no_grad():
            noisy = [discriminator(x) for _ in range(2)]
            discriminator.eval()
            calm = [discriminator(x) for _ in range(2)]
        discriminator.train(was_training)
        if torch.equal(noisy[0], noisy[1]) or not torch.equal(calm[0], calm[1]):
            _fail("Le Dropout devrait changer la sortie d'un appel à l'autre en mode train(), et plus "
                  "du tout en mode eval() : utilisez nn.Dropout (pas F.dropout avec training=True).")
        _check_gradients(discriminator, out, "Discriminateur")
    _ok(f"Discriminateur DCGAN correct : {counts['Conv2d']} convolutions avec LeakyReLU, Dropout, "
        "sortie sigmoïde (N, 1) dans ]0, 1[.")
