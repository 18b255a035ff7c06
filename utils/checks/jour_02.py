"""Jour 2 : GAN jouet en deux dimensions.

Les modèles (un score brut, sans sigmoïde, pour le discriminateur), les trois
pertes (saturante, non saturante, moindres carrés) et le pas d'entraînement à
``d_steps`` pas de D.

Pour nommer la ligne fautive, les vérifications lisent l'ordre dans lequel
``forward`` exécute les couches (crochets ``register_forward_hook``), comparent
une perte fausse aux valeurs que donnent les erreurs typiques, et rejouent le
pas d'entraînement de référence avec chacune de ces erreurs ; un journal des
appels à ``zero_grad``, ``backward`` et ``step`` dit pourquoi des poids n'ont
pas bougé.
"""

from __future__ import annotations

import inspect
import math
from copy import deepcopy as copy_module

import torch
from torch import nn

from .core import (
    _STEP_DIVERGED,
    _activation_variants,
    _as_scalar,
    _call,
    _check_argument_order,
    _check_behaves_like,
    _check_finite,
    _check_function,
    _check_gradients,
    _check_linear_stack,
    _check_module,
    _check_pure_forward,
    _fail,
    _int_arguments,
    _linear_in_call_order,
    _linear_layers,
    _matching_variant,
    _ok,
    _params,
    _ReferenceMLP,
    _sizes,
    _untouched,
    describe_difference,
)

__all__ = ["TOY_LOSSES", "check_toy_discriminator", "check_toy_generator", "check_toy_losses",
           "check_toy_train_step"]


TOY_LOSSES = ("saturating", "non_saturating", "least_squares")


_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.ELU, nn.SELU, nn.GELU, nn.SiLU,
                nn.Softplus, nn.Hardtanh, nn.ReLU6, nn.PReLU, nn.Mish)
_EXTRAS = {nn.BatchNorm1d: "BatchNorm", nn.Dropout: "Dropout", nn.LayerNorm: "LayerNorm"}


def _execution_trace(model, x):
    """Les sous-modules « feuilles » du modèle, dans l'ordre où ``forward`` les exécute."""
    trace, hooks = [], []
    for module in model.modules():
        if not any(True for _ in module.children()):
            hooks.append(module.register_forward_hook(lambda m, i, o: trace.append(m)))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return trace


def _explain_shapes(model, who: str):
    """Appelle ``model`` ; une couche de la mauvaise largeur est expliquée avec les tailles."""
    def guarded(x):
        __tracebackhide__ = True
        try:
            return model(x)
        except RuntimeError as error:
            if "shapes cannot be multiplied" in str(error):
                layers = ", ".join(f"nn.Linear({m.in_features}, {m.out_features})"
                                   for m in _linear_layers(model))
                _fail(f"{who.capitalize()} : une couche nn.Linear reçoit une entrée de la mauvaise "
                      f"largeur (vos couches : {layers}). Chacune reçoit la largeur de sortie de la "
                      "précédente : la première a pour entrée la taille de l'entrée, les suivantes "
                      "hidden.")
            raise
    return guarded


def _name(module) -> str:
    if isinstance(module, nn.LeakyReLU):
        return f"nn.LeakyReLU({module.negative_slope:g})"
    return f"nn.{type(module).__name__}()"


def _check_toy_layers(model, x, who: str, hidden_ok, hidden_hint: str, output_hint: str):
    """Lit l'ordre d'exécution des couches : pas de couche en trop, la bonne activation après
    chaque couche cachée, aucune après la couche de sortie.

    ``hidden_ok(module)`` renvoie ``None`` si l'activation convient, sinon la raison.
    Une activation écrite dans ``forward`` avec ``torch``/``F`` n'apparaît pas dans la trace :
    on vérifie alors seulement que le réseau n'est pas affine.
    """
    __tracebackhide__ = True
    trace = _call(_execution_trace, model, x, what=f"Le {who} appliqué à un lot {tuple(x.shape)}")
    for kind, label in _EXTRAS.items():
        if any(isinstance(m, kind) for m in trace):
            _fail(f"{who.capitalize()} : il contient une couche {label}, que l'énoncé ne demande pas "
                  f"(ce n'est pas le réseau du jour 1) : seulement des nn.Linear, chacune cachée "
                  f"suivie de {hidden_hint}. Retirez-la.")
    linear_at = [i for i, m in enumerate(trace) if isinstance(m, nn.Linear)]
    if not linear_at:
        return
    after_output = [m for m in trace[linear_at[-1] + 1:] if isinstance(m, _ACTIVATIONS)]
    if after_output:
        _fail(f"{who.capitalize()} : la couche de sortie est suivie de {_name(after_output[0])}. "
              f"{output_hint}")
    uses_modules = any(isinstance(m, _ACTIVATIONS) for m in trace)
    for rank, (i, j) in enumerate(zip(linear_at, linear_at[1:]), start=1):
        between = [m for m in trace[i + 1:j] if isinstance(m, _ACTIVATIONS)]
        if not between and uses_modules:
            _fail(f"{who.capitalize()} : aucune activation après la couche cachée n° {rank} "
                  f"(nn.Linear({trace[i].in_features}, {trace[i].out_features})) : ajoutez "
                  f"{hidden_hint} juste après elle.")
        for module in between:
            reason = hidden_ok(module)
            if reason:
                _fail(f"{who.capitalize()} : la couche cachée n° {rank} est suivie de "
                      f"{_name(module)} ; {reason}")


def _check_not_affine(model, x, who: str, hidden_hint: str):
    """Échoue si le réseau est affine : ses activations ne sont pas appliquées."""
    __tracebackhide__ = True
    a, b = x, x.flip(0) * 1.5
    with torch.no_grad():
        gap = model(a) + model(b) - model(torch.zeros_like(a)) - model(a + b)
        scale = model(a).abs().max()
    if gap.abs().max() <= 1e-4 * (1 + scale):
        _fail(f"{who.capitalize()} : ses sorties sont une fonction affine de l'entrée, comme s'il "
              f"n'avait aucune activation. Ajoutez {hidden_hint} après chaque couche cachée, et "
              "appelez-les dans forward (une couche créée dans __init__ mais pas appelée ne fait "
              "rien).")


def _check_constructor(model, kwargs: dict, expected_sizes: str, n_in: int, why: str = ""):
    """Reconstruit la classe de l'étudiant avec d'autres arguments : les utilise-t-elle ?"""
    __tracebackhide__ = True
    cls = type(model)
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return
    if not set(kwargs) <= set(params):
        return
    call = f"{cls.__name__}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    names = ", ".join(kwargs)
    names = " et ".join(names.rsplit(", ", 1))
    with torch.random.fork_rng():
        other = _call(cls, what=call, **kwargs)
        sizes = _sizes(_linear_in_call_order(other))
        if sizes != expected_sizes:
            _fail(f"{call} crée les couches {sizes} au lieu de {expected_sizes} : dans __init__, "
                  f"utilisez les arguments {names} au lieu de valeurs écrites en dur{why}.")
        device = next(other.parameters()).device
        _call(other, torch.randn(5, n_in).to(device), what=f"{call} appliqué à un lot (5, {n_in})")


def _generator_hidden_ok(module):
    if isinstance(module, (nn.ReLU, nn.LeakyReLU)):
        return None
    return "l'énoncé demande nn.ReLU() après chaque couche cachée."


def _discriminator_hidden_ok(module):
    if isinstance(module, nn.LeakyReLU):
        if math.isclose(module.negative_slope, 0.2):
            return None
        slope = f"{module.negative_slope:g}".replace(".", ",")
        return (f"sa pente pour les valeurs négatives vaut {slope} (0,01 est la "
                "valeur par défaut de nn.LeakyReLU()) : écrivez nn.LeakyReLU(0.2).")
    return ("l'énoncé demande nn.LeakyReLU(0.2), qui garde une pente de 0,2 pour les valeurs "
            "négatives : le gradient de D par rapport au point, celui qui guide G, ne s'y "
            "éteint pas.")


def check_toy_generator(generator: nn.Module, z_dim: int = 2, n_hidden: int = 2) -> None:
    """Vérifie le générateur du jour 2 : bruit (N, ``z_dim``) → point du plan (N, 2).

    Attendu : ``n_hidden`` couches cachées ``nn.Linear`` + ``nn.ReLU`` (ou
    ``LeakyReLU(0.2)``), puis une couche de sortie à 2 valeurs **sans** activation : un
    point du plan peut être n'importe où, pas seulement dans [-1, 1]. Ni
    BatchNorm ni Dropout. Si la classe a les paramètres ``z_dim``, ``hidden`` et
    ``n_hidden`` de l'énoncé, elle doit s'en servir.
    """
    __tracebackhide__ = True
    _check_module(generator, "le générateur")
    z_dim, n_hidden = _int_arguments(z_dim=z_dim, n_hidden=n_hidden)
    sizes = _check_linear_stack(generator, "Générateur", z_dim, 2, n_hidden + 1)
    with torch.random.fork_rng(), _untouched(generator):
        torch.manual_seed(0)
        device = next(generator.parameters()).device
        z = torch.randn(64, z_dim).to(device)
        out = _call(_explain_shapes(generator, "générateur"), z,
                    what=f"Le générateur appliqué à un bruit (64, {z_dim})")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (64, 2):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"Sortie du générateur : forme (64, 2) attendue pour 64 bruits, reçue {shape}.")
        _check_finite(out, "la sortie du générateur", generator)
        output_hint = ("La sortie doit rester sans activation : un point du plan peut être "
                       "n'importe où, alors qu'une tanh ou une sigmoïde l'enferme dans un carré et "
                       "qu'une ReLU interdit les coordonnées négatives (l'anneau a un rayon de 2).")
        _check_toy_layers(generator, z, "générateur", _generator_hidden_ok, "nn.ReLU()",
                          output_hint)
        widths = [layer.out_features for layer in _linear_in_call_order(generator, z)]

        def build(hidden=nn.ReLU, final=None):   # le réseau de l'énoncé, aux poids de l'étudiant
            return _ReferenceMLP([z_dim] + widths, hidden, final=final)
        variants = _activation_variants("nn.ReLU()", "aucune activation")
        if torch.allclose(out[0], out[1:], atol=1e-6):
            _fail("Le générateur donne le même point pour des bruits différents : la sortie ne "
                  "dépend pas de z.")
        _check_not_affine(generator, z, "générateur", "nn.ReLU()")
        with torch.no_grad():
            far = generator(z * 50)
        if far.abs().max() <= 1 + 1e-6:
            # Une sigmoïde cachée borne aussi la sortie : si c'est elle, elle est nommée.
            hidden = _matching_variant(generator, build, (z,), {
                k: v for k, v in variants.items() if "couche cachée" in k})
            if hidden:
                _fail(f"Le générateur : à poids égaux, il calcule exactement ce que calculerait le réseau "
                      f"de l'énoncé avec {hidden}. L'énoncé demande nn.ReLU() après chaque couche cachée.")
            _fail("Les sorties du générateur restent dans [-1, 1], même pour un bruit très grand : "
                  "forward applique une tanh ou une sigmoïde à la fin. " + output_hint)
        _check_pure_forward(generator, (z,), "Le générateur")
        _check_behaves_like(generator, build, (z,), "Le générateur", "nn.Linear puis nn.ReLU() (ou "
                            "nn.LeakyReLU(0.2)) pour chaque couche cachée, puis nn.Linear(hidden, 2) sans "
                            "activation", variants, accepted=({"hidden": lambda: nn.LeakyReLU(0.2)},))
        _check_gradients(generator, out, "Générateur")
        _check_constructor(generator, {"z_dim": 3, "hidden": 16, "n_hidden": 3},
                           "3 → 16 → 16 → 16 → 2", 3,
                           " (le terrain de jeu, par exemple, change la dimension du bruit)")
    _ok(f"Générateur correct : couches {sizes}, sortie (N, 2) sans activation.")


def _with_very_negative_score(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Sorties d'une copie du modèle dont la dernière ``nn.Linear`` a un biais de -1000.

    Le score avant une éventuelle activation de sortie devient alors très négatif :
    une sigmoïde donne 0, une tanh -1, un score brut un grand négatif. Sans cela, un
    réseau dont les scores sont tous positifs ne permet pas de distinguer une tanh
    d'une sigmoïde.
    """
    copy = copy_module(model)
    last = [m for m in copy.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        if last and last[-1].bias is not None:
            last[-1].bias -= 1000.0
        return copy(x)


def check_toy_discriminator(discriminator: nn.Module, n_hidden: int = 2) -> None:
    """Vérifie le discriminateur du jour 2 : point (N, 2) → score brut (N, 1).

    Attendu : ``n_hidden`` couches cachées ``nn.Linear`` + ``nn.LeakyReLU(0.2)``,
    puis une couche de sortie à 1 valeur sans activation. Le score est un
    *logit* (un réel quelconque) : la sigmoïde est appliquée dans la perte, ce
    qui est plus stable numériquement et permet la perte des moindres carrés.
    Si la classe a les paramètres ``hidden`` et ``n_hidden`` de l'énoncé, elle
    doit s'en servir.
    """
    __tracebackhide__ = True
    _check_module(discriminator, "le discriminateur")
    (n_hidden,) = _int_arguments(n_hidden=n_hidden)
    sizes = _check_linear_stack(discriminator, "Discriminateur", 2, 1, n_hidden + 1)
    with torch.random.fork_rng(), _untouched(discriminator):
        torch.manual_seed(0)
        device = next(discriminator.parameters()).device
        x = (torch.randn(64, 2) * 2).to(device)
        out = _call(_explain_shapes(discriminator, "discriminateur"), x,
                    what="Le discriminateur appliqué à 64 points (64, 2)")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (64, 1):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"Sortie du discriminateur : forme (64, 1) attendue pour 64 points, reçue {shape}.")
        _check_finite(out, "la sortie du discriminateur", discriminator)
        output_hint = ("Au jour 2, D renvoie un score brut (logit), un réel quelconque, positif ou "
                       "négatif : pas d'activation après la dernière nn.Linear, la sigmoïde est "
                       "appliquée dans la perte.")
        _check_toy_layers(discriminator, x, "discriminateur", _discriminator_hidden_ok,
                          "nn.LeakyReLU(0.2)", output_hint)
        _check_not_affine(discriminator, x, "discriminateur", "nn.LeakyReLU(0.2)")
        with torch.no_grad():
            far = torch.cat([discriminator(torch.cat([x * 100, -x * 100])),
                             _with_very_negative_score(discriminator, x)])
        if far.min() >= 0 and far.max() <= 1:
            _fail("Les sorties du discriminateur restent dans [0, 1] : forward applique une "
                  "sigmoïde. " + output_hint)
        if far.min() >= -1 and far.max() <= 1:
            _fail("Les sorties du discriminateur restent dans [-1, 1] : forward applique une "
                  "tanh. " + output_hint)
        _check_pure_forward(discriminator, (x,), "Le discriminateur")
        widths = [layer.out_features for layer in _linear_in_call_order(discriminator, x)]
        _check_behaves_like(
            discriminator,
            lambda hidden=lambda: nn.LeakyReLU(0.2), final=None: _ReferenceMLP([2] + widths, hidden, final=final),
            (x,), "Le discriminateur", "nn.Linear puis nn.LeakyReLU(0.2) pour chaque couche cachée, puis "
            "nn.Linear(hidden, 1) sans activation (un score brut)",
            _activation_variants("nn.LeakyReLU(0.2)", "aucune activation"))
        _check_gradients(discriminator, out, "Discriminateur")
        _check_constructor(discriminator, {"hidden": 16, "n_hidden": 3},
                           "2 → 16 → 16 → 16 → 1", 2)
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


_PROBABILITY_ERROR = "all elements of input should be between 0 and 1"


def _call_loss(fn, *args, what: str):
    """Appelle une perte de l'étudiant ; F.binary_cross_entropy sur des scores bruts est expliqué."""
    __tracebackhide__ = True

    def guarded():
        try:
            return fn(*args)
        except RuntimeError as error:
            if _PROBABILITY_ERROR in str(error):
                _fail(f"{what} : F.binary_cross_entropy (ou nn.BCELoss) attend des probabilités, "
                      "mais les scores que reçoit la perte sont bruts, de signe quelconque. "
                      "Utilisez F.binary_cross_entropy_with_logits (ou nn.BCEWithLogitsLoss), qui "
                      "applique la sigmoïde elle-même, ou F.softplus.")
            raise
    return _call(guarded, what=what)


def _diagnose(got: float, expected: float, wrong: dict, what: str, where: str) -> None:
    """Échoue si ``got`` s'écarte de ``expected``, en nommant l'erreur typique reconnue."""
    __tracebackhide__ = True
    if math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-6):
        return
    reason = next((r for r, v in wrong.items()
                   if math.isfinite(v) and math.isclose(got, v, rel_tol=1e-4, abs_tol=1e-6)),
                  f"relisez la formule de {where} dans le tableau de l'énoncé")
    _fail(f"{what} renvoie {got:.4f} au lieu de {expected:.4f} : {reason}.")


# Un NaN dans une perte du jour 2 : la cause la plus probable (voir core._check_finite).
_LOG_OF_SCORE = ("Ici, un logarithme reçoit sans doute un nombre négatif ou nul : les scores que reçoit "
                 "la perte sont bruts, pas des probabilités ; passez par la sigmoïde "
                 "(F.binary_cross_entropy_with_logits, F.softplus ou F.logsigmoid) avant le log.")

_NO_SIGMOID = ("le log est pris sur le score brut, comme si c'était une probabilité : D = "
               "sigmoïde(s), passez par F.binary_cross_entropy_with_logits, F.softplus ou "
               "F.logsigmoid")


def _d_loss_mistakes(r, f, kind, expected):
    """Les valeurs que donnent les erreurs typiques sur la perte de D, avec leur explication."""
    sp, sig = nn.functional.softplus, torch.sigmoid
    ls = 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean()
    bce = sp(-r).mean() + sp(f).mean()
    branch = ("vérifiez le test sur kind : les trois valeurs possibles s'écrivent « saturating », "
              "« non_saturating » et « least_squares »")
    if kind == "least_squares":
        return {
            "c'est l'entropie croisée qui est calculée, pas les moindres carrés : la branche "
            "« least_squares » n'est pas prise ; " + branch: bce,
            "il manque le facteur ½ des moindres carrés (F.mse_loss n'a pas ce ½)": 2 * expected,
            "les cibles sont inversées : le score des vrais doit aller vers 1, celui des faux vers 0":
                0.5 * (r ** 2).mean() + 0.5 * ((f - 1) ** 2).mean(),
            "pas de sigmoïde pour les moindres carrés : l'écart se mesure sur le score brut s":
                0.5 * ((sig(r) - 1) ** 2).mean() + 0.5 * (sig(f) ** 2).mean(),
            "pas de sigmoïde, et il manque le facteur ½ : ½(s(x) − 1)² + ½ s(G(z))², sur le "
            "score brut": ((sig(r) - 1) ** 2).mean() + (sig(f) ** 2).mean(),
            "c'est une somme sur le mini-lot : prenez la moyenne (.mean())":
                0.5 * ((r - 1) ** 2).sum() + 0.5 * (f ** 2).sum(),
            "il manque le terme des faux, ½ s(G(z))²": 0.5 * ((r - 1) ** 2).mean(),
            "il manque le terme des vrais, ½ (s(x) − 1)²": 0.5 * (f ** 2).mean(),
            "la perte est divisée par 2 : c'est la somme des deux termes": expected / 2,
        }
    return {
        "le signe est inversé : c'est V = log D(x) + log(1 − D(G(z))), que D maximise ; sa perte "
        "à minimiser est l'opposé, −log D(x) − log(1 − D(G(z)))": -expected,
        "les cibles sont inversées : les vrais ont la cible 1 (torch.ones_like(real_out)), les "
        "faux la cible 0 (torch.zeros_like(fake_out))": sp(r).mean() + sp(-f).mean(),
        "les faux reçoivent aussi la cible 1 : leur cible est 0 (torch.zeros_like(fake_out))":
            sp(-r).mean() + sp(-f).mean(),
        "les vrais reçoivent aussi la cible 0 : leur cible est 1 (torch.ones_like(real_out))":
            sp(r).mean() + sp(f).mean(),
        "il manque le terme des faux, −log(1 − D(G(z)))": sp(-r).mean(),
        "il manque le terme des vrais, −log D(x)": sp(f).mean(),
        "la perte est divisée par 2 : c'est la somme des deux termes, sans facteur ½":
            expected / 2,
        "c'est une somme sur le mini-lot (reduction='sum') : prenez la moyenne, le défaut":
            sp(-r).sum() + sp(f).sum(),
        "la cible des vrais vaut 0,9 (lissage des étiquettes) : ici, elle vaut 1":
            nn.functional.binary_cross_entropy_with_logits(r, torch.full_like(r, 0.9))
            + sp(f).mean(),
        f"c'est la perte des moindres carrés qui est calculée pour {kind!r} : {branch}": ls,
        _NO_SIGMOID: (-torch.log(r) - torch.log(1 - f)).mean(),
    }


def _g_loss_mistakes(f, kind, expected):
    """Les valeurs que donnent les erreurs typiques sur la perte de G, avec leur explication."""
    sp, sig = nn.functional.softplus, torch.sigmoid
    values = {k: _toy_g_loss(f, k) for k in TOY_LOSSES}
    branch = ("vérifiez le test sur kind : les trois valeurs possibles s'écrivent « saturating », "
              "« non_saturating » et « least_squares »")
    names = {"saturating": "saturante", "non_saturating": "non saturante",
             "least_squares": "des moindres carrés"}
    wrong = {f"pour {kind!r}, c'est la perte {names[other]} qui est calculée : {branch}":
             values[other] for other in TOY_LOSSES if other != kind}
    if kind == "saturating":
        wrong = {
            "c'est la perte non saturante ; « saturating » est log(1 − D(G(z))) = −softplus(s), "
            "en moyenne": values["non_saturating"],
            "le signe est inversé : la perte saturante est log(1 − D(G(z))), que G minimise, "
            "soit −softplus(s) (ou −F.binary_cross_entropy_with_logits(s, torch.zeros_like(s)))":
                -expected,
            "c'est log D(G(z)) ; la perte saturante est log(1 − D(G(z)))": -values["non_saturating"],
            _NO_SIGMOID: torch.log(1 - f).mean(),
            "c'est une somme sur le mini-lot : prenez la moyenne (.mean())": -sp(f).sum(),
            **wrong,
        }
    elif kind == "non_saturating":
        wrong = {
            "c'est la perte saturante ; « non_saturating » est −log D(G(z)) = softplus(−s), "
            "en moyenne": values["saturating"],
            "le signe est inversé : la perte non saturante est −log D(G(z)), pas log D(G(z))":
                -expected,
            "la cible est 0 : G veut que D prenne ses points pour des vrais, sa cible est 1 "
            "(torch.ones_like(fake_out))": sp(f).mean(),
            "c'est une somme sur le mini-lot (reduction='sum') : prenez la moyenne, le défaut":
                sp(-f).sum(),
            _NO_SIGMOID: -torch.log(f).mean(),
            **wrong,
        }
    else:
        wrong = {
            "il manque le facteur ½ des moindres carrés (F.mse_loss n'a pas ce ½)": 2 * expected,
            "la cible des moindres carrés pour G est 1 (« vrai »), pas 0": 0.5 * (f ** 2).mean(),
            "pas de sigmoïde pour les moindres carrés : l'écart se mesure sur le score brut s":
                0.5 * ((sig(f) - 1) ** 2).mean(),
            "c'est une somme sur le mini-lot : prenez la moyenne (.mean())":
                0.5 * ((f - 1) ** 2).sum(),
            **wrong,
        }
    return wrong


def _check_loss_gradients(value, inputs, reference, what: str, names) -> None:
    """La perte a la bonne valeur ; son gradient par rapport à chaque score doit être celui de la
    référence (un .detach() sur un terme garde la valeur et coupe ce gradient)."""
    __tracebackhide__ = True
    got = torch.autograd.grad(value, inputs, allow_unused=True, retain_graph=True)
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    expected = torch.autograd.grad(reference(*leaves), leaves)
    for name, g, e in zip(names, got, expected):
        if g is None or not torch.allclose(g, e, rtol=1e-4, atol=1e-7):
            _fail(f"{what} a la bonne valeur, mais le gradient par rapport à {name} n'est pas le bon "
                  f"({'aucun' if g is None else describe_difference(g, e)}) : un .detach(), un .item() ou "
                  f"un .data sur {name} (ou sur un terme qui en dépend) coupe le chemin du gradient, que "
                  "le pas d'entraînement utilise ensuite. Laissez tout le calcul dans le graphe.")


def check_toy_losses(discriminator_loss, generator_loss) -> None:
    """Vérifie les trois pertes du jour 2 sur des scores bruts fixes.

    Références, avec s = score brut et D = sigmoïde(s) :

    * ``discriminator_loss(real_out, fake_out, kind)`` : pour « saturating » et
      « non_saturating », -[log D(x) + log(1 - D(G(z)))] en moyenne ; pour
      « least_squares », ½(s_réel - 1)² + ½ s_faux² en moyenne ;
    * ``generator_loss(fake_out, kind)`` : « saturating » : log(1 - D(G(z))) ;
      « non_saturating » : -log D(G(z)) ; « least_squares » : ½(s_faux - 1)².

    Une valeur fausse est comparée aux erreurs typiques (signe, cibles, terme
    oublié, somme au lieu de moyenne, facteur ½, sigmoïde en trop ou oubliée,
    mauvaise branche de ``kind``) pour dire laquelle c'est.
    """
    __tracebackhide__ = True
    _check_function(discriminator_loss, "discriminator_loss")
    _check_function(generator_loss, "generator_loss")
    lines = []
    for kind in TOY_LOSSES:
        real_out, fake_out = (t.detach().clone().requires_grad_(True) for t in _toy_probe())
        what = f"discriminator_loss(real_out, fake_out, {kind!r})"
        got = _as_scalar(_call_loss(discriminator_loss, real_out, fake_out, kind, what=what),
                         f"discriminator_loss(..., {kind!r})", hint=_LOG_OF_SCORE)
        with torch.no_grad():
            expected = _toy_d_loss(real_out, fake_out, kind).item()
            wrong = {r: float(v) for r, v in
                     _d_loss_mistakes(real_out, fake_out, kind, expected).items()}
        _diagnose(got.item(), expected, wrong, f"discriminator_loss(..., {kind!r})",
                  "la perte de D")
        _check_loss_gradients(got, (real_out, fake_out), lambda r, f: _toy_d_loss(r, f, kind),
                              f"discriminator_loss(..., {kind!r})", ("real_out", "fake_out"))
        what = f"generator_loss(fake_out, {kind!r})"
        got_g = _as_scalar(_call_loss(generator_loss, fake_out, kind, what=what),
                           f"generator_loss(..., {kind!r})", hint=_LOG_OF_SCORE)
        with torch.no_grad():
            expected_g = _toy_g_loss(fake_out, kind).item()
            wrong_g = {r: float(v) for r, v in _g_loss_mistakes(fake_out, kind, expected_g).items()}
        _diagnose(got_g.item(), expected_g, wrong_g, f"generator_loss(..., {kind!r})",
                  "la perte de G")
        _check_loss_gradients(got_g, (fake_out,), lambda f: _toy_g_loss(f, kind),
                              f"generator_loss(..., {kind!r})", ("fake_out",))
        lines.append(f"{kind} : D {expected:.4f}, G {expected_g:.4f}")
    _ok("Les trois pertes sont correctes sur les scores de test (" + " ; ".join(lines) + ").")


_PROBE_BATCH = 8


def _toy_probe_models(z_dim=2):
    """De petits modèles, leurs optimiseurs (avec des gradients « périmés » déjà posés) et une
    fonction ``sample_real(n)`` qui compte ses appels et refuse une autre taille que le lot."""
    torch.manual_seed(5)
    generator = nn.Sequential(nn.Linear(z_dim, 16), nn.ReLU(), nn.Linear(16, 2))
    discriminator = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    log = []  # les événements du pas, dans l'ordre : "zg", "bg", "sg" (zero_grad, backward, step)...

    def record(event):
        if not log or log[-1] != event:
            log.append(event)

    for who, model, opt in (("g", generator, opt_g), ("d", discriminator, opt_d)):
        for p in model.parameters():
            p.grad = torch.full_like(p, 0.5)
            p.register_hook(lambda grad, who=who: record("b" + who))
        for owner, method in ((opt, "zero_grad"), (model, "zero_grad"), (opt, "step")):
            original = getattr(owner, method)

            def wrapped(*args, _original=original, _event=method[0] + who, **kwargs):
                record(_event)
                return _original(*args, **kwargs)
            setattr(owner, method, wrapped)
    batches = torch.randn(4, _PROBE_BATCH, 2, generator=torch.Generator().manual_seed(2)) + 1
    calls = []

    def sample_real(n=None):
        __tracebackhide__ = True
        if n != _PROBE_BATCH:
            _fail(f"sample_real({'' if n is None else repr(n)}) : la fonction des vrais points "
                  f"reçoit le nombre de points à tirer, la taille du lot : sample_real(batch_size) "
                  f"(ici batch_size = {_PROBE_BATCH}).")
        batch = batches[len(calls) % len(batches)]
        calls.append(n)
        return batch
    sample_real.log = log
    return generator, discriminator, opt_g, opt_d, sample_real, calls


def _toy_reference_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
                        loss, d_steps, reuse=False, zero_d=True, zero_g=True, n_d=None,
                        hoist_real=False, hoist_noise=False, order="d_then_g",
                        d_args_swapped=False, kind_d=None, kind_g=None, overwrite_loss=False,
                        g_noise_first=False):
    """Le pas de référence ; ses options reproduisent les erreurs typiques, une à la fois
    (``reuse=True``, réutiliser pour G le dernier lot généré pour D, et ``g_noise_first=True``,
    tirer le bruit de G avant la boucle de D, sont des variantes justes : l'énoncé ne fixe pas
    l'ordre des tirages).

    Renvoie ``({"loss_d": ..., "loss_g": ...}, [pertes de chaque pas de D])``.
    """
    kinds = {"d": loss if kind_d is None else kind_d, "g": loss if kind_g is None else kind_g}
    losses_d, state = [], {}

    def d_step(real, z):
        fake = generator(z)
        if zero_d:
            opt_d.zero_grad()
        out_real, out_fake = discriminator(real), discriminator(fake.detach())
        loss_d = (_toy_d_loss(out_fake, out_real, kinds["d"]) if d_args_swapped
                  else _toy_d_loss(out_real, out_fake, kinds["d"]))
        if overwrite_loss:  # loss = discriminator_loss(...) : ensuite, ni « least_squares »
            kinds.update(d="non_saturating", g="non_saturating")  # ni « saturating »
        loss_d.backward()
        opt_d.step()
        losses_d.append(loss_d.item())
        return fake

    def g_step(fake=None):
        if fake is None:
            fake = generator(torch.randn(batch_size, z_dim))
        if zero_g:
            opt_g.zero_grad()
        loss_g = _toy_g_loss(discriminator(fake), kinds["g"])
        loss_g.backward()
        opt_g.step()
        state["loss_g"] = loss_g.item()

    if order == "g_first":
        g_step()
    z_g = torch.randn(batch_size, z_dim) if g_noise_first else None
    real = sample_real(batch_size) if hoist_real else None
    z = torch.randn(batch_size, z_dim) if hoist_noise else None
    for _ in range(d_steps if n_d is None else n_d):
        fake = d_step(real if hoist_real else sample_real(batch_size),
                      z if hoist_noise else torch.randn(batch_size, z_dim))
        if order == "g_in_loop":
            g_step()
    if order == "d_then_g":
        g_step(fake if reuse else generator(z_g) if g_noise_first else None)
    return {"loss_d": losses_d[-1], "loss_g": state["loss_g"]}, losses_d


# Les erreurs typiques du pas d'entraînement : options de la référence → ce qu'il faut corriger.
_TRAIN_STEP_MISTAKES = [
    ({"n_d": 1}, "le discriminateur ne fait qu'un pas au lieu de d_steps = {d_steps}. Mettez tout "
     "son pas (lot réel, bruit, zero_grad, perte, backward, step) dans une boucle "
     "for _ in range(d_steps), puis faites le pas de G après la boucle."),
    ({"hoist_real": True, "hoist_noise": True}, "le lot réel et le bruit sont tirés une seule "
     "fois, avant la boucle des d_steps pas de D : chaque pas de D doit tirer un nouveau lot réel "
     "sample_real(batch_size) et un nouveau bruit torch.randn(batch_size, z_dim). Mettez ces deux "
     "lignes dans la boucle."),
    ({"hoist_real": True}, "sample_real(batch_size) est appelé une seule fois, avant la boucle des "
     "d_steps pas de D : chaque pas de D doit tirer un nouveau lot réel. Mettez cet appel dans la "
     "boucle."),
    ({"hoist_noise": True}, "le bruit torch.randn(batch_size, z_dim) est tiré une seule fois, avant "
     "la boucle des d_steps pas de D : chaque pas de D doit générer un nouveau lot à partir d'un "
     "nouveau bruit. Mettez cette ligne dans la boucle."),
    ({"zero_d": False}, "le discriminateur a utilisé des gradients restés d'avant : appelez "
     "opt_d.zero_grad() avant loss_d.backward(), à chaque pas de D."),
    ({"zero_g": False}, "le générateur a utilisé des gradients restés d'avant : appelez "
     "opt_g.zero_grad() avant loss_g.backward()."),
    ({"order": "g_first"}, "le pas du générateur est fait avant ceux du discriminateur : faites "
     "d'abord les d_steps pas de D, puis celui de G, face au D mis à jour."),
    ({"order": "g_in_loop"}, "le pas du générateur est dans la boucle des d_steps : G fait "
     "{d_steps} pas au lieu d'un. Sortez-le de la boucle (désindentez-le)."),
    ({"d_args_swapped": True}, "discriminator_loss reçoit ses deux scores dans le désordre : "
     "discriminator_loss(discriminator(real), discriminator(fake.detach()), loss), le score des "
     "vrais d'abord."),
    ({"overwrite_loss": True}, "la variable loss, qui contient le nom de la perte, est écrasée "
     "par une valeur de perte (loss = discriminator_loss(...)) : après le premier pas de D, vos "
     "pertes ne reçoivent plus {loss!r} mais un tenseur. Nommez les pertes loss_d et loss_g."),
    ({"kind_d": "non_saturating", "kind_g": "non_saturating"}, "les pertes sont appelées sans "
     "l'argument loss, donc toujours avec la perte par défaut : passez-le, "
     "discriminator_loss(..., loss) et generator_loss(..., loss)."),
    ({"kind_d": "non_saturating"}, "discriminator_loss est appelée sans l'argument loss, donc avec la "
     "perte par défaut : écrivez discriminator_loss(..., loss)."),
    ({"kind_g": "non_saturating"}, "generator_loss est appelée sans l'argument loss, donc avec la "
     "perte par défaut : écrivez generator_loss(discriminator(fake), loss)."),
]


def _diagnose_still(log, who: str, prefix: str) -> None:
    """Les poids de ``who`` (« d » ou « g ») n'ont pas bougé : lit dans le journal des appels
    (zero_grad, backward, step) ce qui l'explique."""
    __tracebackhide__ = True
    other = "g" if who == "d" else "d"
    net, loss, opt = (("du discriminateur", "loss_d", "opt_d") if who == "d"
                      else ("du générateur", "loss_g", "opt_g"))
    step, zero, back, other_step = "s" + who, "z" + who, "b" + who, "s" + other
    start = f"{prefix}les poids {net} n'ont pas bougé : "
    if step not in log:
        if who == "d" and log.count(other_step) > 1:
            _fail(start + "dans le pas du discriminateur, c'est opt_g.step() qui est appelé. Le pas "
                  "de D se termine par opt_d.step().")
        after_backward = log[len(log) - log[::-1].index(back):] if back in log else []
        if who == "g" and other_step in after_backward:
            _fail(start + "dans le pas du générateur, c'est opt_d.step() qui est appelé. Le pas "
                  "de G se termine par opt_g.step().")
        _fail(start + f"{opt}.step() n'est jamais appelé. Appelez-le après {loss}.backward().")
    if who == "d":
        segment = log[:log.index(step)]
    else:
        last = len(log) - 1 - log[::-1].index(step)
        before = [i for i in range(last) if log[i] == other_step]
        segment = log[(before[-1] + 1 if before else 0):last]
    if back in segment:
        if zero in segment[len(segment) - segment[::-1].index(back):]:
            _fail(start + f"{opt}.zero_grad() est appelé entre {loss}.backward() et {opt}.step() : "
                  f"il efface les gradients qui viennent d'être calculés, et {opt}.step() n'a plus "
                  f"rien à appliquer. Appelez-le avant {loss}.backward().")
    elif who == "g" and "bd" in segment:
        _fail(start + "le gradient de loss_g s'arrête avant G. Le lot généré est détaché "
              "(fake.detach()) ou calculé sous torch.no_grad() : ne détachez que le lot donné à D "
              "dans son pas ; pour G, passez discriminator(fake) avec un fake neuf.")
    else:
        _fail(start + f"{loss}.backward() n'est pas appelé avant {opt}.step() : sans lui, il "
              "n'y a pas de gradient à appliquer.")


def _check_returned(result, reference, losses_d, prefix):
    """Compare les pertes renvoyées à celles de la référence, et nomme l'erreur reconnue."""
    __tracebackhide__ = True

    def close(a, b):
        return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)
    got_d, got_g = result["loss_d"], result["loss_g"]
    want_d, want_g = reference["loss_d"], reference["loss_g"]
    if close(got_d, want_d) and close(got_g, want_g):
        return
    if close(got_d, want_g) and close(got_g, want_d):
        _fail(f"{prefix}les deux pertes renvoyées sont inversées : « loss_d » doit être la perte "
              "de D, « loss_g » celle de G.")
    if not close(got_d, want_d):
        known = {
            "c'est la perte du premier pas de D ; renvoyez celle du dernier (loss_d après la boucle)":
                losses_d[0],
            "c'est la moyenne des pertes des d_steps pas de D ; renvoyez celle du dernier pas":
                sum(losses_d) / len(losses_d),
            "c'est la somme des pertes des d_steps pas de D ; renvoyez celle du dernier pas":
                sum(losses_d),
            "c'est la perte de G": want_g,
        }
        reason = next((r for r, v in known.items() if close(got_d, v)),
                      "renvoyez loss_d.item(), la perte calculée au dernier pas de D")
        _fail(f"{prefix}train_step renvoie loss_d = {got_d:.4f} au lieu de {want_d:.4f} : {reason}.")
    reason = ("c'est la perte de D" if close(got_g, want_d)
              else "renvoyez loss_g.item(), la perte calculée pour le pas de G")
    _fail(f"{prefix}train_step renvoie loss_g = {got_g:.4f} au lieu de {want_g:.4f} : {reason}.")


def _explain_step_errors(train_step):
    """Traduit les erreurs typiques du pas d'entraînement du jour 2 (avant ``_call``)."""
    def guarded(*args):
        __tracebackhide__ = True
        try:
            return train_step(*args)
        except UnboundLocalError as error:
            if "loss_d" in str(error):
                _fail("train_step : loss_d n'est pas défini au moment de le renvoyer : la boucle "
                      "des pas de D ne s'est pas exécutée. for _ in range(d_steps) fait bien "
                      "d_steps tours (range(1, d_steps) ou range(d_steps - 1) en font un de moins).")
            raise
        except RuntimeError as error:
            if "shapes cannot be multiplied" in str(error):
                _fail("train_step : une couche nn.Linear reçoit une entrée de la mauvaise taille. "
                      "Le bruit a la forme (batch_size, z_dim) : torch.randn(batch_size, z_dim) ; "
                      "le lot réel vient de sample_real(batch_size), de forme (batch_size, 2).")
            raise
    return guarded


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
    pertes et plusieurs valeurs de ``d_steps`` : les poids des deux réseaux et
    les pertes renvoyées. Un écart est comparé aux erreurs typiques
    (``_TRAIN_STEP_MISTAKES``) pour dire laquelle c'est.
    """
    __tracebackhide__ = True
    _check_function(train_step, "train_step")
    _check_argument_order(train_step, ["sample_real", "generator", "discriminator", "opt_g", "opt_d",
                                       "z_dim", "batch_size", "loss", "d_steps"], "train_step")

    def run(loss, d_steps, student=False, **mistake):
        with torch.random.fork_rng():
            g, d, opt_g, opt_d, sample_real, calls = _toy_probe_models()
            torch.manual_seed(21)
            args = (sample_real, g, d, opt_g, opt_d, 2, _PROBE_BATCH, loss, d_steps)
            if student:
                result = _call(_explain_step_errors(train_step), *args, what=call)
                losses_d = None
            else:
                result, losses_d = _toy_reference_step(*args, **mistake)
            return result, _params(g), _params(d), losses_d, calls, sample_real.log

    def same(a, b):
        return torch.allclose(a, b, rtol=1e-4, atol=1e-5)

    for loss, d_steps in (("non_saturating", 1), ("least_squares", 3)):
        call = (f"train_step(sample_real, ..., z_dim=2, batch_size={_PROBE_BATCH}, loss={loss!r}, "
                f"d_steps={d_steps})")
        prefix = f"Avec loss={loss!r} et d_steps={d_steps} : "
        with torch.random.fork_rng():
            g0, d0 = (_params(m) for m in _toy_probe_models()[:2])
        result, g_new, d_new, _, calls, log = run(loss, d_steps, student=True)
        if not isinstance(result, dict) or not {"loss_d", "loss_g"} <= set(result):
            _fail(f"{call} doit renvoyer un dictionnaire {{'loss_d': ..., 'loss_g': ...}}, "
                  f"reçu : {result!r:.80}.")
        if not all(isinstance(result[k], float) for k in ("loss_d", "loss_g")):
            _fail("Les valeurs renvoyées doivent être des nombres Python (float) : utilisez .item().")
        for who, weights in (("discriminateur", d_new), ("générateur", g_new)):
            _check_finite(weights, f"les poids du {who} après {call}", hint=_STEP_DIVERGED)
        for key in ("loss_d", "loss_g"):
            _check_finite(result[key], f"la valeur {key} renvoyée par {call}")
        if not calls:
            _fail(f"{prefix}sample_real n'est jamais appelée. Les vrais points viennent de la "
                  "fonction reçue en argument : real = sample_real(batch_size), à chaque pas de D "
                  "(n'appelez pas toy2d.sample_target vous-même).")
        for right in ({}, {"reuse": True}, {"g_noise_first": True}):   # trois façons justes
            reference, g_ref, d_ref, losses_d, _, _ = run(loss, d_steps, **right)
            if same(g_new, g_ref) and same(d_new, d_ref):
                _check_returned(result, reference, losses_d, prefix)
                break
        else:
            if torch.equal(d_new, d0):
                _diagnose_still(log, "d", prefix)
            if torch.equal(g_new, g0):
                _diagnose_still(log, "g", prefix)
            for mistake, message in _TRAIN_STEP_MISTAKES:
                for reuse in (False, True):
                    try:
                        _, g_bad, d_bad, _, _, _ = run(loss, d_steps, reuse=reuse, **mistake)
                    except RuntimeError:  # cette erreur, combinée à reuse, ne peut pas s'exécuter
                        continue
                    if same(g_new, g_bad) and same(d_new, d_bad):
                        _fail(prefix + message.format(d_steps=d_steps, loss=loss))
            _, g_ref, d_ref, _, _, _ = run(loss, d_steps)
            if not same(d_new, d_ref):
                _fail(f"{prefix}le discriminateur diffère de la référence "
                      f"({describe_difference(d_new, d_ref)} sur ses poids). Vérifiez : d_steps pas "
                      "de D, chacun avec opt_d.zero_grad(), un nouveau lot réel "
                      "sample_real(batch_size), un bruit torch.randn(batch_size, z_dim), la perte "
                      "discriminator_loss(discriminator(real), discriminator(fake.detach()), loss), "
                      "loss_d.backward() et opt_d.step().")
            _fail(f"{prefix}le générateur diffère de la référence "
                  f"({describe_difference(g_new, g_ref)} sur ses poids). Vérifiez que son pas vient "
                  "après la boucle des d_steps pas de D : opt_g.zero_grad(), un nouveau bruit, "
                  "generator_loss(discriminator(fake), loss), loss_g.backward(), opt_g.step().")
    _ok("train_step correct : d_steps pas de D puis un pas de G, poids et pertes renvoyées "
        "identiques à la référence (pertes non saturante et moindres carrés, d_steps = 1 et 3).")
