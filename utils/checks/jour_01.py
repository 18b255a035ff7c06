"""Jour 1 : GAN entièrement connecté sur MNIST.

Le discriminateur et le générateur, les deux pertes (BCE) et le pas
d'entraînement. Le jour 3 réutilise la vérification de la perte du
discriminateur (``_discriminator_loss_value``) et celle du pas
d'entraînement (``_train_step_outcomes`` et ``_check_steps_against_reference``,
avec ``real_label`` et ``d_steps``).

Les réseaux sont vérifiés sur les couches réellement appelées, dans l'ordre
(``core._forward_trace``) : un ``nn.Sequential`` ou des couches appelées une à
une dans ``forward`` passent de la même façon. Le pas d'entraînement est joué
avec des optimiseurs qui notent leurs appels (``_RecordingOptimizer``) et des
crochets sur les gradients : l'ordre des ``zero_grad``, ``backward`` et
``step`` dit quelle ligne corriger avant même de comparer les poids.
"""

from __future__ import annotations

import inspect
import math
from collections import Counter

import torch
from torch import nn

from ..gan import generator_loss, train_step
from .core import (
    _NON_FINITE_CAUSES,
    _STEP_DIVERGED,
    _activation_variants,
    _as_scalar,
    _backward,
    _bce,
    _call,
    _check_argument_order,
    _check_behaves_like,
    _check_finite,
    _check_function,
    _check_gradients,
    _check_linear_stack,
    _check_module,
    _check_pure_forward,
    _check_update,
    _diverged,
    _fail,
    _forward_trace,
    _has,
    _int_arguments,
    _layer_groups,
    _linear_in_call_order,
    _matching_variant,
    _names,
    _ok,
    _params,
    _ReferenceMLP,
    _sizes,
    _source_text,
    _untouched,
    describe_difference,
)

__all__ = ["check_discriminator", "check_discriminator_loss", "check_generator",
           "check_generator_loss", "check_train_step"]


_SLOPE = 0.2


def _init_parameters(cls) -> dict:
    """Les paramètres du constructeur de ``cls`` (vide si on ne peut pas les lire)."""
    try:
        return dict(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return {}


def _probe_hidden(n_hidden: int) -> tuple:
    """Des tailles cachées inhabituelles, pour voir si le constructeur utilise bien ``hidden``."""
    return tuple(8 * (n_hidden + 2 - i) for i in range(n_hidden))


def _check_slopes(calls, name: str) -> None:
    """Chaque LeakyReLU appelée a la pente 0,2 demandée."""
    __tracebackhide__ = True
    for module, _ in calls:
        if isinstance(module, nn.LeakyReLU) and not math.isclose(module.negative_slope, _SLOPE):
            default = (", la valeur par défaut de nn.LeakyReLU() sans argument"
                       if math.isclose(module.negative_slope, 0.01) else "")
            _fail(f"{name} : une nn.LeakyReLU a une pente de {module.negative_slope:g} pour les entrées "
                  f"négatives{default} ; l'exercice demande nn.LeakyReLU(0.2).")


def _check_discriminator_layers(calls) -> None:
    """L'ordre des couches réellement appelées : Linear → LeakyReLU → Dropout, ..., Linear → Sigmoid."""
    __tracebackhide__ = True
    before, groups = _layer_groups(calls)
    if before:
        _fail(f"Discriminateur : l'image aplatie doit entrer directement dans la première couche "
              f"nn.Linear(784, ...) ; avant elle, on trouve {_names(before)}. Le Dropout se place "
              "après chaque activation cachée.")
    for k, (linear, _, after) in enumerate(groups[:-1], start=1):
        if sorted(type(m).__name__ for m in after) != ["Dropout", "LeakyReLU"]:
            _fail(f"Discriminateur : la couche cachée {k}, nn.Linear({linear.in_features}, "
                  f"{linear.out_features}), doit être suivie de nn.LeakyReLU(0.2) puis de "
                  f"nn.Dropout(dropout) ; elle est suivie de : {_names(after)}.")
    last, _, after = groups[-1]
    if [type(m) for m in after] not in ([], [nn.Sigmoid]):
        note = ""
        if any(isinstance(m, nn.Softmax) for m in after):
            note = " (nn.Softmax sur une seule valeur renvoie toujours 1)"
        elif any(isinstance(m, (nn.LeakyReLU, nn.Dropout)) for m in after):
            note = ". LeakyReLU et Dropout ne vont qu'après les couches cachées"
        _fail(f"Discriminateur : la couche de sortie nn.Linear({last.in_features}, 1) doit être suivie de "
              f"nn.Sigmoid() seulement ; elle est suivie de : {_names(after)}{note}.")


def _rebuild(model, **kwargs):
    """Reconstruit un modèle de la même classe avec d'autres arguments (ceux que la classe accepte).

    Renvoie ``(appel lisible, modèle)``, ou ``None`` si la classe n'accepte aucun de ces arguments
    (un ``nn.Sequential``, par exemple).
    """
    __tracebackhide__ = True
    cls = type(model)
    params = _init_parameters(cls)
    kwargs = {k: v for k, v in kwargs.items() if k in params}
    required = [name for name, p in params.items() if p.default is inspect.Parameter.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and name not in kwargs]
    if not kwargs or required:
        return None
    call = f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    return call, _call(cls, what=call, **kwargs)


def _check_discriminator_arguments(discriminator, n_hidden: int) -> None:
    """``Discriminator(hidden=...)`` et ``Discriminator(dropout=...)`` utilisent bien leur argument."""
    __tracebackhide__ = True
    hidden = _probe_hidden(n_hidden)
    rebuilt = _rebuild(discriminator, hidden=hidden)
    if rebuilt is not None:
        call, other = rebuilt
        got = _linear_in_call_order(other)
        if [m.out_features for m in got[:-1]] != list(hidden):
            want = " → ".join(map(str, [784, *hidden, 1]))
            _fail(f"Discriminateur : {call} crée les couches {_sizes(got)} au lieu de {want} : le "
                  "paramètre hidden n'est pas utilisé. Construisez les couches cachées dans une boucle "
                  "for width in hidden.")
        _call(other, torch.rand(4, 1, 28, 28) * 2 - 1, what=f"{call} appliqué à un lot (4, 1, 28, 28)")
    rebuilt = _rebuild(discriminator, dropout=0.37)
    if rebuilt is not None:
        call, other = rebuilt
        rates = sorted({m.p for m in other.modules() if isinstance(m, nn.Dropout)})
        if not rates:   # F.dropout dans forward : le taux se juge sur ce que fait le réseau
            widths = [m.out_features for m in _linear_in_call_order(other)]
            x = torch.rand(8, 1, 28, 28) * 2 - 1
            with _untouched(other):
                same = _matching_variant(other, lambda: _ReferenceMLP(
                    [784, *widths], lambda: nn.LeakyReLU(0.2), dropout=0.37, final=nn.Sigmoid), (x,), {"oui": {}})
            if same is None:
                _fail(f"Discriminateur : {call} n'applique pas un Dropout de taux 0.37 : le paramètre "
                      "dropout n'est pas utilisé (le taux est écrit en dur ?). Passez-le à "
                      "F.dropout(x, self.dropout, self.training), ou écrivez nn.Dropout(dropout).")
        elif rates != [0.37]:
            shown = ", ".join(f"{r:g}" for r in rates)
            why = "nn.Dropout() sans argument prend p = 0.5" if rates == [0.5] else "le taux est écrit en dur"
            _fail(f"Discriminateur : {call} crée des nn.Dropout de taux p = {shown} au lieu de 0.37 : le "
                  f"paramètre dropout n'est pas utilisé ({why}). Écrivez nn.Dropout(dropout), pour que "
                  "Discriminator(dropout=0.3) change vraiment le taux.")


def _dropout_rate(model: nn.Module) -> float:
    """Le taux de Dropout du discriminateur : celui de ses nn.Dropout, sinon son attribut ou
    l'argument ``dropout`` de sa classe, sinon 0,1 (la valeur de l'énoncé)."""
    rates = [m.p for m in model.modules() if isinstance(m, nn.Dropout)]
    if rates:
        return rates[0]
    if isinstance(getattr(model, "dropout", None), float):
        return model.dropout
    try:
        default = inspect.signature(type(model)).parameters["dropout"].default
    except (TypeError, ValueError, KeyError):
        default = None
    return default if isinstance(default, float) else 0.1


def check_discriminator(discriminator: nn.Module, n_hidden: int = 3) -> None:
    """Vérifie le discriminateur du jour 1.

    Attendu : une image (N, 1, 28, 28) aplatie en 784 valeurs, ``n_hidden``
    couches cachées ``nn.Linear`` suivies de ``nn.LeakyReLU(0.2)`` et
    ``nn.Dropout(dropout)``, une couche de sortie à 1 valeur et une sigmoïde :
    sortie (N, 1) dans ]0, 1[. Si la classe accepte ``hidden`` et ``dropout``,
    on vérifie aussi qu'elle s'en sert.
    """
    __tracebackhide__ = True
    _check_module(discriminator, "le discriminateur")
    (n_hidden,) = _int_arguments(n_hidden=n_hidden)
    sizes = _check_linear_stack(discriminator, "Discriminateur", 784, 1, n_hidden + 1)
    # Activations et Dropout écrits en fonctions dans forward (F.leaky_relu, F.dropout) : ni module à
    # lire, ni ordre de modules ; le réseau est alors jugé seulement sur ce qu'il calcule.
    functional = not _has(discriminator, (nn.LeakyReLU, nn.Dropout, nn.ReLU, nn.Sigmoid))
    for kind, hint in ((nn.LeakyReLU, "nn.LeakyReLU(0.2) après chaque couche cachée"),
                       (nn.Dropout, "nn.Dropout(dropout) après chaque activation cachée")):
        if not functional and not _has(discriminator, kind):
            _fail(f"Discriminateur : aucune couche {kind.__name__} trouvée. Ajoutez {hint}.")
    with torch.random.fork_rng(), _untouched(discriminator):
        torch.manual_seed(0)
        device = next(discriminator.parameters()).device
        x = (torch.rand(16, 1, 28, 28) * 2 - 1).to(device)
        discriminator.train()
        out, calls = _call(_forward_trace, discriminator, x,
                           what="Le discriminateur appliqué à un lot (16, 1, 28, 28)")
        if not isinstance(out, torch.Tensor):
            _fail(f"Le discriminateur doit renvoyer un tenseur, il renvoie {type(out).__name__}.")
        if tuple(out.shape) != (16, 1):
            if out.dim() > 2:
                hint = " Aplatissez l'image en 784 valeurs au début (nn.Flatten())."
            elif tuple(out.shape) == (16,):
                hint = (" Gardez la dimension de taille 1 (pas de .squeeze() ni de .view(-1)) : les cibles "
                        "torch.ones_like(d_real) auront ainsi la même forme (N, 1).")
            else:
                hint = " La dernière couche doit être nn.Linear(..., 1)."
            _fail(f"Sortie du discriminateur : forme (16, 1) attendue pour 16 images, "
                  f"reçue {tuple(out.shape)}.{hint}")
        _check_finite(out, "la sortie du discriminateur", discriminator)
        if not functional:
            _check_discriminator_layers(calls)
            _check_slopes(calls, "Discriminateur")
        with torch.no_grad():  # entrées extrêmes : seule une sigmoïde reste dans [0, 1]
            extreme = _call(discriminator, torch.cat([x * 100, -x * 100]),
                            what="Le discriminateur appliqué à un lot (32, 1, 28, 28)")
        lo = min(out.min().item(), extreme.min().item())
        hi = max(out.max().item(), extreme.max().item())
        if not (0 <= lo and hi <= 1 and 0 < out.min().item() and out.max().item() < 1):
            _fail(f"Le discriminateur doit sortir une probabilité dans ]0, 1[ : valeurs reçues entre "
                  f"{lo:.3g} et {hi:.3g}. Terminez par nn.Sigmoid().")
        last_output = _layer_groups(calls)[1][-1][1]
        if not torch.allclose(out, torch.sigmoid(last_output), atol=1e-6):
            _fail("Discriminateur : la sortie n'est pas la sigmoïde de la dernière couche nn.Linear(..., 1). "
                  "Terminez par nn.Sigmoid(), juste après elle.")
        _check_pure_forward(discriminator, (x,), "Le discriminateur")
        widths = [m.out_features for m in _linear_in_call_order(discriminator, x)]
        p = _dropout_rate(discriminator)
        _check_behaves_like(
            discriminator, lambda hidden=lambda: nn.LeakyReLU(0.2), final=nn.Sigmoid, dropout=p: _ReferenceMLP(
                [784, *widths], hidden, dropout=dropout, final=final),
            (x,), "Le discriminateur", "l'image aplatie, puis pour chaque couche cachée nn.Linear, "
            f"nn.LeakyReLU(0.2), nn.Dropout({p:g}) ; enfin nn.Linear(..., 1) et nn.Sigmoid()",
            {**_activation_variants("nn.LeakyReLU(0.2)", "une sigmoïde"),
             "aucun Dropout": {"dropout": 0.0}})
        discriminator.train()
        _check_gradients(discriminator, out, "Discriminateur")
        with torch.no_grad():
            again = discriminator(x)
            discriminator.eval()
            eval_a, eval_b = discriminator(x), discriminator(x)
        if torch.equal(out.detach(), again):
            _fail("Discriminateur : en mode entraînement, deux passages du même lot donnent la même "
                  "sortie ; le Dropout n'est pas appliqué dans forward.")
        if not torch.equal(eval_a, eval_b):
            _fail("Discriminateur : en mode évaluation (.eval()), la sortie devrait être déterministe.")
        _check_discriminator_arguments(discriminator, n_hidden)
    _ok(f"Discriminateur correct : couches {sizes}, LeakyReLU, Dropout, sortie sigmoïde (N, 1) dans ]0, 1[.")


def _check_generator_layers(calls) -> None:
    """L'ordre des couches réellement appelées : Linear → BatchNorm1d → LeakyReLU, ..., Linear → Tanh."""
    __tracebackhide__ = True
    before, groups = _layer_groups(calls)
    if before:
        _fail(f"Générateur : le bruit z doit entrer directement dans la première couche nn.Linear(z_dim, ...) ; "
              f"avant elle, on trouve {_names(before)}.")
    for k, (linear, _, after) in enumerate(groups[:-1], start=1):
        kinds = [type(m) for m in after]
        layer = f"nn.Linear({linear.in_features}, {linear.out_features})"
        if kinds == [nn.LeakyReLU, nn.BatchNorm1d]:
            _fail(f"Générateur : après la couche cachée {k}, {layer}, la BatchNorm1d vient après la "
                  "LeakyReLU ; l'exercice demande l'ordre Linear → BatchNorm1d → LeakyReLU : on normalise "
                  "la sortie de la couche Linear, puis on applique l'activation.")
        if kinds != [nn.BatchNorm1d, nn.LeakyReLU]:
            _fail(f"Générateur : la couche cachée {k}, {layer}, doit être suivie de "
                  f"nn.BatchNorm1d({linear.out_features}) puis de nn.LeakyReLU(0.2) ; elle est suivie de : "
                  f"{_names(after)}.")
    last, _, after = groups[-1]
    if [type(m) for m in after] not in ([], [nn.Tanh]):
        note = ""
        if any(isinstance(m, nn.Hardtanh) and not isinstance(m, nn.Tanh) for m in after):
            note = " (nn.Hardtanh coupe net à -1 et 1 : au-delà, plus aucun gradient ne passe)"
        elif any(isinstance(m, (nn.BatchNorm1d, nn.LeakyReLU)) for m in after):
            note = ". BatchNorm et LeakyReLU ne vont qu'après les couches cachées"
        _fail(f"Générateur : la couche de sortie nn.Linear({last.in_features}, 784) doit être suivie de "
              f"nn.Tanh() seulement ; elle est suivie de : {_names(after)}{note}.")
    for module, _ in calls:
        if isinstance(module, nn.BatchNorm1d) and module.eps > 1e-3:
            _fail(f"Générateur : nn.BatchNorm1d({module.num_features}, {module.eps:g}) : le deuxième argument "
                  "de BatchNorm1d est eps (la petite constante ajoutée à la variance), pas momentum. "
                  f"Écrivez simplement nn.BatchNorm1d({module.num_features}).")


def _check_generator_arguments(generator, n_hidden: int) -> None:
    """``Generator(z_dim=..., hidden=...)`` utilise bien ses arguments (ceux que la classe accepte)."""
    __tracebackhide__ = True
    hidden = _probe_hidden(n_hidden)
    rebuilt = _rebuild(generator, z_dim=5, hidden=hidden)
    if rebuilt is None:
        return
    call, other = rebuilt
    got = _linear_in_call_order(other)
    if not got:
        return
    z_dim = 5 if "z_dim=5" in call else got[0].in_features
    if got[0].in_features != z_dim:
        _fail(f"Générateur : {call} crée une première couche qui reçoit {got[0].in_features} valeurs au "
              "lieu de 5 : le paramètre z_dim n'est pas utilisé (la constante Z_DIM l'est peut-être à sa "
              "place). Écrivez nn.Linear(z_dim, ...).")
    if "hidden=" in call and [m.out_features for m in got[:-1]] != list(hidden):
        want = " → ".join(map(str, [z_dim, *hidden, 784]))
        _fail(f"Générateur : {call} crée les couches {_sizes(got)} au lieu de {want} : le paramètre hidden "
              "n'est pas utilisé. Construisez les couches cachées dans une boucle for width in hidden.")
    _call(other, torch.randn(4, z_dim), what=f"{call} appliqué à un bruit (4, {z_dim})")


def check_generator(generator: nn.Module, z_dim: int = 64, n_hidden: int = 3) -> None:
    """Vérifie le générateur du jour 1.

    Attendu : un bruit (N, ``z_dim``), ``n_hidden`` couches cachées ``nn.Linear``
    suivies de ``nn.BatchNorm1d`` puis ``nn.LeakyReLU(0.2)``, une couche de
    sortie à 784 valeurs puis ``tanh``, remise en forme d'image : sortie
    (N, 1, 28, 28) dans [-1, 1]. Pas de Dropout. Si la classe accepte ``z_dim``
    et ``hidden``, on vérifie aussi qu'elle s'en sert.
    """
    __tracebackhide__ = True
    _check_module(generator, "le générateur")
    z_dim, n_hidden = _int_arguments(z_dim=z_dim, n_hidden=n_hidden)
    sizes = _check_linear_stack(generator, "Générateur", z_dim, 784, n_hidden + 1)
    functional = not _has(generator, (nn.LeakyReLU, nn.ReLU, nn.Tanh, nn.Sigmoid))   # F.leaky_relu...
    if not functional and not _has(generator, nn.LeakyReLU):
        _fail("Générateur : aucune couche LeakyReLU trouvée. Ajoutez nn.LeakyReLU(0.2) après "
              "chaque couche cachée.")
    if not _has(generator, (nn.BatchNorm1d, nn.BatchNorm2d)):
        _fail("Générateur : aucune couche BatchNorm1d trouvée. L'exercice en demande une après chaque couche "
              "cachée, avant l'activation (Linear → BatchNorm1d → LeakyReLU) : c'est elle qui permet "
              "d'obtenir des chiffres nets en quelques minutes sur CPU.")
    if _has(generator, nn.Dropout):
        _fail("Générateur : il contient un nn.Dropout. Le Dropout est pour le discriminateur ; retirez-le "
              "du générateur (Linear → BatchNorm1d → LeakyReLU, sans Dropout).")
    with torch.random.fork_rng(), _untouched(generator):
        torch.manual_seed(0)
        device = next(generator.parameters()).device
        z = torch.randn(16, z_dim).to(device)
        generator.train()
        out, calls = _call(_forward_trace, generator, z,
                           what=f"Le générateur appliqué à un bruit (16, {z_dim})")
        if not isinstance(out, torch.Tensor):
            _fail(f"Le générateur doit renvoyer un tenseur, il renvoie {type(out).__name__}.")
        if tuple(out.shape) != (16, 1, 28, 28):
            hint = (" Remettez les 784 valeurs en image : nn.Unflatten(1, (1, 28, 28)) ou "
                    "x.view(-1, 1, 28, 28)." if tuple(out.shape) in ((16, 784), (16, 28, 28)) else "")
            _fail(f"Sortie du générateur : forme (16, 1, 28, 28) attendue pour 16 bruits, "
                  f"reçue {tuple(out.shape)}.{hint}")
        _check_finite(out, "la sortie du générateur", generator)
        lo, hi = out.min().item(), out.max().item()
        if lo < -1 or hi > 1:
            _fail(f"Le générateur doit produire des pixels dans [-1, 1] (comme les images réelles "
                  f"normalisées) : valeurs reçues entre {lo:.3g} et {hi:.3g}. Terminez par nn.Tanh().")
        if lo >= 0:
            _fail(f"Les pixels générés sont tous positifs (min {lo:.3g}) : la sortie doit couvrir "
                  "[-1, 1] ; utilisez nn.Tanh() et non nn.Sigmoid().")
        if not functional:
            _check_generator_layers(calls)
            _check_slopes(calls, "Générateur")
        last_output = _layer_groups(calls)[1][-1][1].detach()
        flat = out.detach().reshape(out.shape[0], -1)
        if flat.shape == last_output.shape and not torch.allclose(flat, torch.tanh(last_output), atol=1e-6):
            if torch.allclose(flat, last_output, atol=1e-6):
                why = ("la sortie de la dernière couche Linear est renvoyée telle quelle : elle reste dans "
                       "[-1, 1] sur ce bruit par hasard, mais rien ne l'y oblige")
            elif torch.allclose(flat, last_output.clamp(-1, 1), atol=1e-6):
                why = ("la sortie est coupée net à [-1, 1] (nn.Hardtanh ou clamp) : au-delà, plus aucun "
                       "gradient ne passe")
            else:
                why = "la sortie n'est pas tanh(dernière couche Linear)"
            _fail(f"Générateur : {why}. Terminez par nn.Tanh(), juste après nn.Linear(..., 784).")
        if torch.allclose(out[0], out[1:], atol=1e-6):
            _fail("Le générateur donne la même image pour des bruits différents : la sortie ne "
                  "dépend pas de z.")
        _check_pure_forward(generator, (z,), "Le générateur")
        widths = [m.out_features for m in _linear_in_call_order(generator, z)]
        _check_behaves_like(
            generator, lambda hidden=lambda: nn.LeakyReLU(0.2), final=nn.Tanh: _ReferenceMLP(
                [z_dim, *widths], hidden, batchnorm=True, final=final, out_shape=(1, 28, 28)),
            (z,), "Le générateur", "pour chaque couche cachée nn.Linear, nn.BatchNorm1d, nn.LeakyReLU(0.2) ; "
            "enfin nn.Linear(..., 784), nn.Tanh() et la forme (N, 1, 28, 28)",
            _activation_variants("nn.LeakyReLU(0.2)", "une tanh"))
        generator.train()
        _check_gradients(generator, out, "Générateur")
        _check_generator_arguments(generator, n_hidden)
    _ok(f"Générateur correct : couches {sizes}, LeakyReLU, sortie tanh de forme (N, 1, 28, 28).")


def _loss_probe():
    """Probabilités fixes (avec gradient) pour tester une fonction de perte."""
    gen = torch.Generator().manual_seed(1234)
    d_real = (torch.rand(32, 1, generator=gen) * 0.8 + 0.15).requires_grad_(True)
    d_fake = (torch.rand(32, 1, generator=gen) * 0.8 + 0.05).requires_grad_(True)
    return d_real, d_fake


def _written_with(loss_fn) -> str:
    """« bce » si la perte s'écrit avec l'entropie croisée de PyTorch, « log » si elle écrit les log à la
    main, « » si on ne sait pas (code source introuvable, ou fonction qui en appelle une autre)."""
    text = _source_text(loss_fn).lower()
    if "bce" in text or "binary_cross_entropy" in text:
        return "bce"
    if "log(" in text or "log1p(" in text:
        return "log"
    return ""


def _loss_hints(error) -> str | None:
    """Conseils propres aux pertes de l'entropie croisée, pour les erreurs que lève leur écriture."""
    text = str(error)
    if "Boolean value of Tensor with more than one value is ambiguous" in text:
        return ("Cause fréquente : nn.BCELoss(d_real, cible) crée une nouvelle fonction de perte au lieu de "
                "la calculer. Créez-la une fois, bce = nn.BCELoss(), puis appelez-la : bce(d_real, cible).")
    if "object has no attribute 'size'" in text or "object has no attribute 'shape'" in text:
        return ("La cible doit être un tenseur de la même forme que la prédiction, pas un nombre : "
                "torch.ones_like(d_real) ou torch.zeros_like(d_fake).")
    return None


_SIGN_MESSAGES = {
    "bce": "le signe est inversé : nn.BCELoss renvoie déjà l'opposé d'un log (BCE(p, 1) = −log p), ne "
           "mettez pas de moins devant les BCE",
    "log": "le signe est inversé : vous renvoyez log D(x) + log(1 − D(G(z))), c'est-à-dire V(D, G), que le "
           "discriminateur cherche à maximiser ; la perte qu'on minimise est son opposé, "
           "−[log D(x) + log(1 − D(G(z)))] en moyenne : mettez un moins devant",
    "": "le signe est inversé : la perte est l'opposé de V(D, G) = log D(x) + log(1 − D(G(z))). Avec "
        "nn.BCELoss, ne mettez pas de moins devant (BCE(p, 1) = −log p déjà) ; avec des log écrits à la "
        "main, mettez-en un",
}


def _discriminator_loss_value(loss_fn, smoothing_taught: bool = False) -> tuple[float, str]:
    """Vérifie ``discriminator_loss(d_real, d_fake)`` sans lissage ; renvoie la valeur et la référence.

    Partagée avec le jour 3 (``smoothing_taught=True``), qui vérifie ensuite le lissage des
    étiquettes : une cible de 0,9 y est dite mal prise de ``real_label``, pas « non demandée ».
    """
    __tracebackhide__ = True
    _check_function(loss_fn, "discriminator_loss")
    d_real, d_fake = _loss_probe()
    got = _as_scalar(_call(loss_fn, d_real, d_fake, what="discriminator_loss(d_real, d_fake)",
                           explain=_loss_hints),
                     "discriminator_loss")
    ones, zeros = torch.ones_like(d_real), torch.zeros_like(d_fake)
    with torch.no_grad():
        real_term, fake_term = _bce(d_real, 1.0), _bce(d_fake, 0.0)
        expected = real_term + fake_term
        logits = nn.functional.binary_cross_entropy_with_logits
        diagnostics = {
            "les étiquettes sont inversées (vraies → 0, fausses → 1)": _bce(d_real, 0.0) + _bce(d_fake, 1.0),
            "il manque le terme des images générées, BCE(d_fake, 0)": real_term,
            "il manque le terme des images réelles, BCE(d_real, 1)": fake_term,
            "c'est la moitié de la référence : l'énoncé demande la somme des deux termes, pas leur moyenne":
                expected / 2,
            _SIGN_MESSAGES[_written_with(loss_fn)]: -expected,
            "le terme des images générées a le mauvais signe : les deux termes s'ajoutent, "
            "BCE(d_real, 1) + BCE(d_fake, 0) = −log D(x) − log(1 − D(G(z)))": real_term - fake_term,
            "le terme des images réelles a le mauvais signe : les deux termes s'ajoutent, "
            "BCE(d_real, 1) + BCE(d_fake, 0) = −log D(x) − log(1 − D(G(z)))": fake_term - real_term,
            "les pertes sont sommées sur le lot au lieu d'être moyennées": expected * d_real.shape[0],
            ("sans real_label (il vaut 1.0 par défaut), la cible des vraies images est 1, pas 0,9 : la "
             "cible est real_label lui-même, torch.full_like(d_real, real_label)" if smoothing_taught else
             "la cible des vraies images est 1 ; le lissage à 0,9 n'est pas demandé ici"):
                _bce(d_real, 0.9) + fake_term,
            "d_real et d_fake sont déjà des probabilités (le discriminateur finit par nn.Sigmoid()) : "
            "utilisez nn.BCELoss ; BCEWithLogitsLoss appliquerait une seconde sigmoïde":
                logits(d_real, ones) + logits(d_fake, zeros),
            "les arguments de la BCE sont inversés : d'abord la prédiction, ensuite la cible, "
            "bce(d_real, torch.ones_like(d_real))":
                nn.functional.binary_cross_entropy(ones, d_real) + nn.functional.binary_cross_entropy(zeros, d_fake),
            "c'est l'erreur quadratique (MSE) ; l'exercice demande l'entropie croisée binaire, nn.BCELoss()":
                nn.functional.mse_loss(d_real, ones) + nn.functional.mse_loss(d_fake, zeros),
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
    _backward(got, "discriminator_loss")
    lost = [term for term, p in (("des images réelles, BCE(d_real, 1)", d_real),
                                 ("des images générées, BCE(d_fake, 0)", d_fake)) if p.grad is None]
    if len(lost) == 2:
        _fail("discriminator_loss : la valeur est juste, mais aucun gradient ne remonte vers d_real ni "
              "d_fake : le résultat a été recréé hors du graphe de calcul (torch.tensor(...), "
              "requires_grad_()). Renvoyez directement la somme des deux BCE.")
    if lost:
        _fail(f"discriminator_loss : la valeur est juste, mais le terme {lost[0]}, ne transmet aucun gradient. "
              "Un .item() ou un .detach() sur ce terme (ou sur sa probabilité) le sort du graphe de calcul : "
              "loss_d.backward() ne corrigerait alors le discriminateur que par l'autre terme. Gardez les deux "
              "termes comme des tenseurs.")
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
    _check_function(loss_fn, "generator_loss")
    _, d_fake = _loss_probe()
    got = _as_scalar(_call(loss_fn, d_fake, what="generator_loss(d_fake)", explain=_loss_hints),
                     "generator_loss")
    written = _written_with(loss_fn)
    ones = torch.ones_like(d_fake)
    with torch.no_grad():
        expected = _bce(d_fake, 1.0)
        target_zero = ("vous renvoyez −log(1 − D(G(z))) = BCE(d_fake, 0), la perte du discriminateur sur les "
                       "images générées : la minimiser aiderait D à les reconnaître. Le générateur minimise "
                       "−log D(G(z)) = BCE(d_fake, 1)" if written == "log" else
                       "la cible est 0 : le générateur veut que D dise « vrai », visez 1")
        sign = {"bce": "le signe est inversé : nn.BCELoss renvoie déjà −log D(G(z)), ne mettez pas de moins devant",
                "log": "le signe est inversé : vous renvoyez log D(G(z)), que le générateur cherche à maximiser ; "
                       "la perte qu'il minimise est son opposé, −log D(G(z)) en moyenne : mettez un moins devant",
                "": "le signe est inversé : la perte est −log D(G(z)) en moyenne, soit BCE(d_fake, 1) sans "
                    "moins devant"}[written]
        diagnostics = {
            "c'est la perte saturante log(1 - D(G(z))) que le générateur minimiserait ; le jour 1 "
            "utilise la version non saturante -log D(G(z)) = BCE(d_fake, 1)": torch.log1p(-d_fake).mean(),
            target_zero: _bce(d_fake, 0.0),
            sign: -expected,
            "les pertes sont sommées sur le lot au lieu d'être moyennées": expected * d_fake.shape[0],
            "d_fake est déjà une probabilité (le discriminateur finit par nn.Sigmoid()) : utilisez "
            "nn.BCELoss ; BCEWithLogitsLoss appliquerait une seconde sigmoïde":
                nn.functional.binary_cross_entropy_with_logits(d_fake, ones),
            "les arguments de la BCE sont inversés : d'abord la prédiction, ensuite la cible, "
            "bce(d_fake, torch.ones_like(d_fake))": nn.functional.binary_cross_entropy(ones, d_fake),
            "c'est l'erreur quadratique (MSE) ; l'exercice demande l'entropie croisée binaire, nn.BCELoss()":
                nn.functional.mse_loss(d_fake, ones),
        }
    value = got.item()
    if math.isclose(value, expected.item(), rel_tol=1e-4, abs_tol=1e-6):
        _backward(got, "generator_loss")
        if d_fake.grad is None:
            _fail("generator_loss : la valeur est juste, mais aucun gradient ne remonte vers d_fake : un "
                  ".item() ou un .detach() le sort du graphe de calcul, et loss_g.backward() n'atteindrait "
                  "jamais le générateur. Renvoyez directement le tenseur de la BCE.")
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


def _probe_models(clean=()):
    """Petits G et D déterministes (sans Dropout) pour comparer une étape d'entraînement.

    Leurs gradients contiennent déjà des valeurs « périmées », comme après un pas précédent : une
    étape qui oublie ``zero_grad()`` les utilisera. ``clean`` : les réseaux (« g », « d ») qui n'en
    ont pas, comme après un pas précédent qui a remis leurs gradients à zéro à la fin.
    """
    torch.manual_seed(7)
    generator = nn.Sequential(nn.Linear(_PROBE_Z_DIM, 16), nn.LeakyReLU(0.2), nn.Linear(16, 784),
                              nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.LeakyReLU(0.2),
                                  nn.Linear(16, 1), nn.Sigmoid())
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    for who, model in (("g", generator), ("d", discriminator)):
        if who in clean:
            continue
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


# Le journal d'un pas : ce que l'étudiant appelle, dans l'ordre. Trois sortes d'événements :
# ("zero_grad", "d" ou "g", None), ("step", "d" ou "g", None), et ("grad", "d" ou "g", i) quand une
# rétropropagation atteint le i-ième paramètre du discriminateur ou du générateur.

class _RecordingOptimizer:
    """Un optimiseur qui note dans le journal ses appels à ``zero_grad`` et ``step``, puis les exécute."""

    def __init__(self, optimizer, who: str, events: list):
        self._optimizer, self._who, self._events = optimizer, who, events

    def zero_grad(self, *args, **kwargs):
        self._events.append(("zero_grad", self._who, None))
        return self._optimizer.zero_grad(*args, **kwargs)

    def step(self, *args, **kwargs):
        self._events.append(("step", self._who, None))
        return self._optimizer.step(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._optimizer, name)


def _watch_gradients(events: list, **models) -> list:
    """Note dans le journal chaque gradient calculé pour un paramètre ; renvoie les crochets à retirer."""
    handles = []
    for who, model in models.items():
        for i, p in enumerate(model.parameters()):
            handles.append(p.register_hook(lambda grad, who=who, i=i: events.append(("grad", who, i))))
    return handles


def _backward_passes(events, start: int, stop: int) -> dict:
    """Combien de rétropropagations ont atteint chaque réseau entre deux positions du journal."""
    seen = {}
    for kind, who, i in events[start:stop]:
        if kind == "grad":
            seen.setdefault(who, Counter())[i] += 1
    return {who: max(counts.values()) for who, counts in seen.items()}


_WHO = {"d": ("discriminateur", "opt_d", "loss_d"), "g": ("générateur", "opt_g", "loss_g")}


def _zero_grad_at_end(events: list, who: str) -> str:
    """La remise à zéro « en fin de pas » : ``zero_grad`` de ce réseau appelé seulement après son step.

    Renvoie « » si ce n'est pas le cas ; « propre » si aucun gradient n'arrive ensuite à ce réseau
    (le pas suivant partira de gradients nuls : c'est correct) ; « sale » sinon.
    """
    first = next((i for i, (kind, w, _) in enumerate(events) if kind == "step" and w == who), None)
    zeros = [i for i, (kind, w, _) in enumerate(events) if kind == "zero_grad" and w == who]
    if first is None or not zeros or zeros[0] < first:
        return ""
    later = any(kind == "grad" and w == who for kind, w, _ in events[zeros[-1]:])
    return "sale" if later else "propre"


def _check_call_sequence(events: list, d_steps: int) -> None:
    """Lit le journal d'un pas (l'ordre des zero_grad, backward et step) et dit ce qui est mal placé."""
    __tracebackhide__ = True
    steps = [(i, who) for i, (kind, who, _) in enumerate(events) if kind == "step"]
    count = Counter(who for _, who in steps)
    if count["g"] == 0 and count["d"] > d_steps:
        _fail(f"Au pas du générateur, vous appelez opt_d.step() au lieu de opt_g.step() : le discriminateur "
              f"fait {count['d']} pas et le générateur aucun. Terminez le pas du générateur par opt_g.step().")
    if count["d"] == 0 and count["g"] > 1:
        _fail(f"Au pas du discriminateur, vous appelez opt_g.step() au lieu de opt_d.step() : le générateur "
              f"fait {count['g']} pas et le discriminateur aucun. Terminez le pas du discriminateur par "
              "opt_d.step().")
    for who, other in (("d", "g"), ("g", "d")):
        name, opt, _ = _WHO[who]
        if count[who] == 0 and count[other] <= (d_steps if other == "d" else 1):
            _fail(f"Les poids du {name} n'ont pas bougé : {opt}.step() n'est jamais appelé. Terminez le pas "
                  f"du {name} par {opt}.step().")
    if _zero_grad_at_end(events, "d") == "sale":
        _fail("Au pas du discriminateur, opt_d.zero_grad() est appelé après opt_d.step() au lieu d'avant "
              "loss_d.backward(). Or le pas du générateur, dont la perte traverse D, dépose ensuite des "
              "gradients dans D, qui s'ajouteraient à ceux du pas de D suivant. Appelez opt_d.zero_grad() "
              "avant loss_d.backward().")
    if steps and steps[0][1] == "g" and count["d"] and set(_backward_passes(events, 0, steps[0][0])) == {"d"}:
        _fail("Les deux optimiseurs sont échangés : le pas du discriminateur se termine par opt_g.step(), et "
              "celui du générateur par opt_d.step(). Au pas de D : opt_d.zero_grad(), loss_d.backward(), "
              "opt_d.step() ; au pas de G : opt_g.zero_grad(), loss_g.backward(), opt_g.step().")
    if steps and steps[0][1] == "g" and count["d"]:
        _fail("Le pas du générateur vient avant celui du discriminateur. Faites d'abord le pas de D "
              "(jusqu'à opt_d.step()), puis celui de G, évalué par le discriminateur mis à jour.")
    for i, who in steps:
        name, opt, loss = _WHO[who]
        previous = max([j for j, w in steps if w == who and j < i], default=-1)
        mine = [(j, kind) for j, (kind, w, _) in enumerate(events[previous + 1:i], start=previous + 1)
                if w == who and kind in ("grad", "zero_grad")]
        if mine and mine[-1][1] == "zero_grad" and any(kind == "grad" for _, kind in mine):
            _fail(f"Au pas du {name}, {opt}.zero_grad() est appelé entre {loss}.backward() et {opt}.step() : "
                  f"il efface les gradients qui viennent d'être calculés, et {opt}.step() n'a plus rien à "
                  f"appliquer. Appelez {opt}.zero_grad() avant {loss}.backward().")
    start = 0
    for i, who in steps:
        reached = _backward_passes(events, start, i)
        if who == "d" and "g" in reached:
            if reached.get("d", 0) >= 2:
                _fail("loss_g.backward() est appelé avant opt_d.step() : les gradients de la perte du "
                      "générateur s'ajoutent à ceux du discriminateur, et le générateur est jugé par le "
                      "discriminateur d'avant son pas. Terminez le pas de D (loss_d.backward(), "
                      "opt_d.step()) avant de calculer generator_loss(discriminator(fake)).")
            _fail("Le pas du discriminateur rétropropage jusque dans le générateur : loss_d.backward() "
                  "calcule aussi des gradients pour G, car fake n'est pas détaché. Donnez "
                  "discriminator(fake.detach()) au pas de D, et gardez fake (sans detach) pour le pas de G "
                  "(si vous aviez ajouté retain_graph=True pour éviter une erreur, retirez-le).")
        if who == "g" and "g" not in reached:
            _fail("Aucun gradient n'atteint le générateur à son pas : loss_g.backward() ne remonte pas "
                  "jusqu'à lui. Calculez loss_g = generator_loss(discriminator(fake)) avec fake = "
                  "generator(z) tel quel, sans .detach() ni torch.no_grad().")
        start = i + 1


def _explain_divergence(**models) -> str | None:
    """Si un réseau du pas a des poids NaN ou infinis, le conseil qui le dit (l'erreur qui a suivi,
    comme le refus de nn.BCELoss devant une sortie NaN, n'en est que la conséquence) ; sinon None."""
    names = {"d": "du discriminateur", "g": "du générateur"}
    diverged = [names[who] for who, model in models.items() if _diverged(model)]
    if not diverged:
        return None
    return (f"Les poids {' et '.join(diverged)} contiennent des NaN ou des infinis pendant le pas : le "
            "pas a divergé, et l'erreur ci-dessus n'en est que la conséquence (nn.BCELoss refuse une "
            f"sortie NaN). Une perte a sans doute renvoyé NaN ou l'infini. {_NON_FINITE_CAUSES}")


def _explain_step_error(events: list, error) -> str | None:
    """Un conseil pour une erreur levée pendant le pas, d'après ce que le journal a noté avant elle."""
    text = str(error)
    steps = [(i, who) for i, (kind, who, _) in enumerate(events) if kind == "step"]
    first_d = next((i for i, who in steps if who == "d"), None)
    if "backward through the graph a second time" in text and first_d is not None:
        if "g" in _backward_passes(events, 0, first_d):
            return ("Le pas du discriminateur a rétropropagé jusque dans le générateur, puis le pas du "
                    "générateur a voulu repasser par le même calcul. Donnez discriminator(fake.detach()) au "
                    "pas de D, et gardez fake (sans detach) pour le pas de G.")
        return ("Le pas du générateur réutilise une sortie du discriminateur déjà rétropropagée au pas de D "
                "(par exemple d_fake, calculé sur fake.detach()). Après opt_d.step(), recalculez "
                "discriminator(fake) pour la perte du générateur : generator_loss(discriminator(fake)).")
    if "modified by an inplace operation" in text:
        grads_g = [i for i, (kind, who, _) in enumerate(events) if kind == "grad" and who == "g"]
        early_g = next((i for i, who in steps if who == "g"), None)
        if early_g is not None and (not grads_g or early_g < grads_g[0]):
            return ("Au pas du discriminateur, vous appelez opt_g.step() au lieu de opt_d.step() : le "
                    "générateur a changé avant que sa perte soit rétropropagée. Terminez le pas du "
                    "discriminateur par opt_d.step().")
        if first_d is not None:
            return ("La perte du générateur (ou la sortie du discriminateur qu'elle utilise) a été calculée "
                    "avant opt_d.step(), qui a ensuite modifié les poids de D. Calculez "
                    "generator_loss(discriminator(fake)) après opt_d.step().")
    if "shapes cannot be multiplied" in text:
        return ("Le bruit z n'a pas la taille qu'attend le générateur. La vérification appelle train_step "
                f"avec un petit générateur et z_dim={_PROBE_Z_DIM} : tirez le bruit avec "
                "torch.randn(real.shape[0], z_dim, device=real.device), avec le paramètre z_dim de "
                "train_step et non la constante Z_DIM.")
    if "' is not defined" in text and ("'batch'" in text or "'batch_size'" in text):
        return ("Cette variable n'existe pas dans train_step : la taille du mini-lot se lit sur les données, "
                "real.shape[0].")
    if "Dimension out of range" in text:
        return ("Le bruit doit avoir la forme (taille du lot, z_dim) : "
                "torch.randn(real.shape[0], z_dim, device=real.device).")
    if "all elements of input should be between 0 and 1" in text:
        return ("discriminator_loss et generator_loss reçoivent les sorties du discriminateur (des "
                "probabilités), pas les images : discriminator_loss(discriminator(real), "
                "discriminator(fake.detach())), puis generator_loss(discriminator(fake)).")
    if "cannot be converted to Scalar" in text:
        return ("d_real et d_fake ont une valeur par image : pour les renvoyer, prenez d'abord la moyenne, "
                "d_real.mean().item() et d_fake.mean().item().")
    return None


def _train_step_outcomes(train_step, **options) -> dict:
    """Rejoue un pas de l'étudiant et de la référence (et de ses variantes) sur les mêmes petits modèles.

    ``options`` : arguments nommés passés aux deux (``real_label``, ``d_steps`` au jour 3). Le pas
    de l'étudiant est joué avec des optimiseurs qui notent leurs appels : un ``zero_grad`` mal
    placé, un ``step`` du mauvais optimiseur ou un ``detach`` oublié sont dits avant tout écart de poids.
    """
    __tracebackhide__ = True
    _check_function(train_step, "train_step")
    _check_argument_order(train_step, ["real", "generator", "discriminator", "opt_g", "opt_d", "z_dim",
                                       "real_label", "d_steps"], "train_step")
    events = []
    with torch.random.fork_rng():
        expected, before, (g_ref, d_ref) = _run_variant(_reference_step, **options)
        expected2, _, (g_ref2, _) = _run_variant(_reference_step, resample=True, **options)
        torch.manual_seed(11)
        real, g, d, opt_g, opt_d = _probe_models()
        handles = _watch_gradients(events, g=g, d=d)
        torch.manual_seed(11)
        try:
            result = _call(train_step, real, g, d, _RecordingOptimizer(opt_g, "g", events),
                           _RecordingOptimizer(opt_d, "d", events), _PROBE_Z_DIM, **options,
                           what=_train_step_call(options),
                           explain=lambda error: (_explain_divergence(g=g, d=d)
                                                  or _explain_step_error(events, error)))
        finally:
            for handle in handles:
                handle.remove()
        clean = [who for who in ("g", "d") if _zero_grad_at_end(events, who) == "propre"]
        if clean:
            # zero_grad() en fin de pas, après lequel plus aucun gradient n'arrive : le pas précédent a
            # donc laissé des gradients nuls à ce réseau. On rejoue le pas dans cet état.
            torch.manual_seed(11)
            real, g, d, opt_g, opt_d = _probe_models(clean=clean)
            torch.manual_seed(11)
            result = _call(train_step, real, g, d, opt_g, opt_d, _PROBE_Z_DIM, **options,
                           what=_train_step_call(options))
        _, _, (g_nozero, d_nozero) = _run_variant(_reference_step, zero_grad=False, **options)
    _check_call_sequence(events, options.get("d_steps", 1))
    for who, model in (("discriminateur", d), ("générateur", g)):
        _check_finite(_params(model), f"les poids du {who} après un appel à train_step",
                      hint=_STEP_DIVERGED)
    return {"result": result, "expected": expected, "expected2": expected2, "before": before,
            "g_new": _params(g), "d_new": _params(d), "g_ref": g_ref, "g_ref2": g_ref2, "d_ref": d_ref,
            "g_nozero": g_nozero, "d_nozero": d_nozero, "options": options}


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
    for key in ("loss_d", "loss_g", "d_real", "d_fake"):
        _check_finite(result[key], f"la valeur {key} renvoyée par train_step")


def _d_step_variant(real, generator, discriminator, opt_g, opt_d, z_dim, real_label=1.0, d_steps=1,
                    variant=""):
    """Le pas (ou les ``d_steps`` pas) de D de la référence, faussé comme le ferait un étudiant."""
    for _ in range(d_steps):
        draw = torch.rand if variant == "uniform" else torch.randn
        fake = generator(draw(real.shape[0], z_dim, device=real.device))
        opt_d.zero_grad()
        d_real, d_fake = discriminator(real), discriminator(fake.detach())
        loss = {"real_only": lambda: _bce(d_real, real_label),
                "fake_only": lambda: _bce(d_fake, 0.0),
                "swapped": lambda: _bce(d_real, 0.0) + _bce(d_fake, real_label)}.get(
            variant, lambda: _bce(d_real, real_label) + _bce(d_fake, 0.0))()
        loss.backward()
        opt_d.step()
    return {}


_D_STEP_MISTAKES = {
    "real_only": "le discriminateur n'apprend que sur les vraies images. Sa perte doit aussi compter les "
                 "images générées : discriminator_loss(discriminator(real), discriminator(fake.detach()))",
    "fake_only": "le discriminateur n'apprend que sur les images générées. Sa perte doit aussi compter les "
                 "vraies images : discriminator_loss(discriminator(real), discriminator(fake.detach()))",
    "swapped": "les vraies et les fausses images sont échangées. discriminator_loss(d_real, d_fake) prend "
               "d'abord la sortie de D sur les vraies images (real), puis sur les images générées "
               "(fake.detach())",
    "uniform": "le bruit doit suivre une loi normale : torch.randn(real.shape[0], z_dim, device=real.device), "
               "pas torch.rand (loi uniforme sur [0, 1])",
}


def _check_steps_against_reference(o: dict) -> None:
    """Les poids de D puis de G, et les valeurs renvoyées, comparés à la référence."""
    __tracebackhide__ = True
    d_new, g_new, result, expected = o["d_new"], o["g_new"], o["result"], o["expected"]
    if not torch.allclose(d_new, o["d_ref"], rtol=1e-4, atol=1e-5):
        gap = f"Le pas du discriminateur diffère de la référence ({describe_difference(d_new, o['d_ref'])} sur ses poids)"
        with torch.random.fork_rng():
            for variant, reason in _D_STEP_MISTAKES.items():
                _, _, (_, d_variant) = _run_variant(_d_step_variant, variant=variant, **o.get("options", {}))
                if torch.allclose(d_new, d_variant, rtol=1e-4, atol=1e-5):
                    _fail(f"{gap} : {reason}.")
        _fail(f"{gap}. Vérifiez : un seul bruit z tiré par torch.randn(real.shape[0], z_dim, "
              "device=real.device), fake.detach() pour le pas de D, la perte discriminator_loss.")
    _check_update(g_new, o["before"][0], o["g_nozero"], [o["g_ref"], o["g_ref2"]], "générateur", "opt_g",
                  "loss_g")
    resampled = (not torch.allclose(g_new, o["g_ref"], rtol=1e-4, atol=1e-5)
                 and torch.allclose(g_new, o["g_ref2"], rtol=1e-4, atol=1e-5))
    if not (resampled or torch.allclose(g_new, o["g_ref"], rtol=1e-4, atol=1e-5)):
        _fail(f"Le pas du générateur diffère de la référence ({describe_difference(g_new, o['g_ref'])} "
              "sur ses poids). Vérifiez : la perte generator_loss(discriminator(fake)) calculée avec "
              "le discriminateur *après* son pas, sans .detach() sur fake.")
    for key in ("loss_d", "d_real", "d_fake"):
        if not math.isclose(result[key], expected[key], rel_tol=1e-4, abs_tol=1e-5):
            _fail(f"train_step renvoie {key} = {result[key]:.4f} au lieu de {expected[key]:.4f}. "
                  "d_real et d_fake sont les moyennes de D(x) et D(G(z)) calculées au pas de D.")
    loss_g = (o["expected2"] if resampled and "expected2" in o else expected)["loss_g"]
    if not math.isclose(result["loss_g"], loss_g, rel_tol=1e-4, abs_tol=1e-5):
        same = next((k for k in ("loss_d", "d_real", "d_fake")
                     if math.isclose(result["loss_g"], result[k], rel_tol=1e-6)), None)
        why = (f"la valeur renvoyée est celle de {same}" if same else
               "loss_g étant la perte calculée au pas du générateur, sur le discriminateur mis à jour")
        _fail(f"train_step renvoie loss_g = {result['loss_g']:.4f} au lieu de {loss_g:.4f} : renvoyez "
              f"loss_g.item() ({why}).")


def check_train_step(train_step) -> None:
    """Vérifie ``train_step(real, generator, discriminator, opt_g, opt_d, z_dim)``.

    Référence : un pas de D (images réelles → 1, images générées détachées → 0)
    puis un pas de G (perte non saturante sur D mis à jour), chaque pas précédé
    de ``zero_grad()``. La fonction renvoie un dictionnaire de nombres (float) :
    ``loss_d``, ``loss_g``, ``d_real`` (moyenne de D(x)) et ``d_fake`` (moyenne
    de D(G(z)) vue par le pas de D). On compare les poids après une étape sur de
    petits modèles avec ceux de la référence, à graine égale, et on lit l'ordre
    des appels (``zero_grad``, ``backward``, ``step``). (Le pas du jour 3, avec
    lissage et plusieurs pas de D, se vérifie avec ``check_dcgan_train_step``.)
    """
    __tracebackhide__ = True
    o = _train_step_outcomes(train_step)
    _check_returned_values(o["result"])
    _check_update(o["d_new"], o["before"][1], o["d_nozero"], [o["d_ref"]], "discriminateur", "opt_d", "loss_d")
    _check_steps_against_reference(o)
    _ok("train_step correct : un pas de D puis un pas de G, poids identiques à la référence "
        "après une étape.")
