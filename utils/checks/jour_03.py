"""Jour 3 : DCGAN sur MNIST.

La taille de sortie d'une convolution transposée, le générateur et le
discriminateur convolutifs, la perte lissée et le pas d'entraînement à
plusieurs pas de D. Ces deux derniers reprennent les vérifications du jour 1
(importées de ``jour_01``) et n'ajoutent que ce que le jour 3 enseigne : la
cible ``real_label`` des vraies images et la boucle de ``d_steps`` pas de D.

Le générateur et le discriminateur sont vérifiés sur leur exécution : des
crochets (*hooks*) notent chaque couche dans l'ordre où ``forward`` l'appelle,
ce qu'elle reçoit et ce qu'elle rend. Un ``nn.Sequential``, des couches
appelées une à une ou un ``.view`` dans ``forward`` se vérifient donc de la
même façon, et un message nomme la couche comme ``print(model)`` l'affiche
(« net.8 » : la couche (8) du ``nn.Sequential`` ``net``).
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..gan import discriminator_loss as _reference_discriminator_loss
from ..gan import generator_loss as _reference_generator_loss
from .core import (
    CheckError,
    _as_scalar,
    _bce,
    _call,
    _check_argument_order,
    _check_finite,
    _check_function,
    _check_gradients,
    _check_module,
    _check_pure_forward,
    _check_update,
    _class_parameters,
    _fail,
    _int_arguments,
    _layer_counts,
    _linear_layers,
    _ok,
    _sizes,
    _untouched,
)
from .jour_01 import (
    _check_returned_values,
    _check_steps_against_reference,
    _discriminator_loss_value,
    _loss_probe,
    _reference_step,
    _run_variant,
    _train_step_call,
    _train_step_outcomes,
)

__all__ = ["check_conv_transpose_size", "check_dcgan_discriminator", "check_dcgan_generator",
           "check_dcgan_train_step", "check_smoothed_discriminator_loss"]


# --- exercice 1 : la taille de sortie d'une convolution transposée ---------------------

_CONV_T_CASES = [  # (taille d'entrée, noyau, pas, marge, marge de sortie)
    (7, 4, 2, 1, 0), (14, 4, 2, 1, 0), (7, 3, 2, 1, 1), (7, 5, 1, 2, 0), (4, 3, 2, 0, 0),
    (10, 5, 3, 2, 2), (1, 7, 1, 0, 0),
]

_FORMULA = "(size - 1) · stride - 2 · padding + kernel + output_padding"

# Les formules fausses les plus fréquentes, et ce qu'il faut en dire. Une formule n'est
# retenue que si elle redonne la réponse de l'étudiant sur tous les cas.
_CONV_T_GUESSES = [
    ("c'est la formule de la convolution ordinaire (elle réduit l'image) ; la convolution "
     "transposée fait le chemin inverse", lambda n, k, s, p, o: (n + 2 * p - k) // s + 1),
    ("la marge (padding) retire 2 · padding pixels, un de chaque côté, pas padding",
     lambda n, k, s, p, o: (n - 1) * s - p + k + o),
    ("la marge (padding) retire des pixels : - 2 · padding, pas + 2 · padding",
     lambda n, k, s, p, o: (n - 1) * s + 2 * p + k + o),
    ("il manque la marge de sortie (output_padding), ajoutée d'un seul côté",
     lambda n, k, s, p, o: (n - 1) * s - 2 * p + k),
    ("la marge de sortie (output_padding) s'ajoute, et une seule fois (d'un seul côté)",
     lambda n, k, s, p, o: (n - 1) * s - 2 * p + k - o),
    ("la marge de sortie (output_padding) n'est ajoutée qu'une fois, d'un seul côté, "
     "pas 2 · output_padding", lambda n, k, s, p, o: (n - 1) * s - 2 * p + k + 2 * o),
    ("c'est (size - 1) · stride, pas size · stride : le noyau est posé size fois, "
     "tous les stride pixels", lambda n, k, s, p, o: n * s - 2 * p + k + o),
    ("le dernier tampon s'étend sur kernel pixels : + kernel, pas + kernel - 1",
     lambda n, k, s, p, o: (n - 1) * s - 2 * p + k - 1 + o),
    ("kernel et stride sont intervertis : les tampons sont posés tous les stride pixels, "
     "d'où (size - 1) · stride, et le dernier s'étend sur kernel pixels",
     lambda n, k, s, p, o: (n - 1) * k - 2 * p + s + o),
]


def _fr(x: float) -> str:
    """Un nombre à la française : 0,2 et non 0.2."""
    return f"{x:g}".replace(".", ",")


def _as_int(value):
    """Un entier Python si ``value`` en est un (int, entier NumPy, float entier) ; sinon ``value``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def check_conv_transpose_size(fn) -> None:
    """Vérifie ``conv_transpose_output_size(size, kernel, stride, padding, output_padding=0)``.

    Référence : la taille que produit vraiment ``nn.ConvTranspose2d`` sur une
    entrée carrée, soit (size - 1) · stride - 2 · padding + kernel + output_padding.
    """
    __tracebackhide__ = True
    _check_function(fn, "conv_transpose_output_size")
    _check_argument_order(fn, ["size", "kernel", "stride", "padding", "output_padding"],
                          "conv_transpose_output_size")
    try:
        extra = inspect.signature(fn).parameters.get("output_padding")
    except (TypeError, ValueError):
        extra = None
    if extra is not None and extra.default is inspect.Parameter.empty:
        _fail("conv_transpose_output_size : donnez à output_padding la valeur par défaut 0 "
              "(def conv_transpose_output_size(size, kernel, stride, padding, output_padding=0)) ; la "
              "cellule de l'exercice l'appelle avec quatre arguments.")
    answers = []
    for size, kernel, stride, padding, extra in _CONV_T_CASES:
        with torch.random.fork_rng():  # créer la couche tire ses poids : l'aléa du notebook n'en sait rien
            layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding=extra)
        expected = layer(torch.zeros(1, 1, size, size)).shape[-1]
        call = f"conv_transpose_output_size({size}, {kernel}, {stride}, {padding}, {extra})"
        got = _as_int(_call(fn, size, kernel, stride, padding, extra, what=call))
        if not isinstance(got, int) or isinstance(got, bool):
            hint = (" La fonction doit se terminer par return ... (elle ne renvoie rien)."
                    if got is None else "")
            _fail(f"{call} doit renvoyer un entier (int), reçu {type(got).__name__} ({got!r}).{hint}")
        answers.append(((size, kernel, stride, padding, extra), call, got, expected))
    wrong = [a for a in answers if a[2] != a[3]]
    if wrong:
        _, call, got, expected = wrong[0]
        reason = next((r for r, guess in _CONV_T_GUESSES
                       if all(guess(*case) == answer for case, _, answer, _ in answers)),
                      f"relisez la formule : {_FORMULA}")
        _fail(f"{call} renvoie {got}, alors que nn.ConvTranspose2d produit {expected} pixels : {reason}.")
    default = _call(fn, 7, 4, 2, 1, what="conv_transpose_output_size(7, 4, 2, 1), sans output_padding")
    if _as_int(default) != 14:
        _fail(f"conv_transpose_output_size(7, 4, 2, 1) renvoie {default!r} au lieu de 14 : sans "
              "cinquième argument, output_padding doit valoir 0 (def conv_transpose_output_size(size, "
              "kernel, stride, padding, output_padding=0)).")
    _ok(f"conv_transpose_output_size correcte sur {len(_CONV_T_CASES)} cas comparés à "
        "nn.ConvTranspose2d (dont 7 → 14 → 28 avec noyau 4, pas 2, marge 1).")


# --- suivre l'exécution d'un modèle, couche par couche ---------------------------------

_RESHAPES = (nn.Flatten, nn.Unflatten, nn.Identity)
_WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
_CONVS = (nn.Conv2d, nn.ConvTranspose2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


class _Layer(NamedTuple):
    """Une couche exécutée : son nom dans le modèle, le module, son entrée et sa sortie."""
    name: str
    module: nn.Module
    input: object
    output: object


def _describe(module: nn.Module) -> str:
    """La couche telle que ``print(model)`` l'affiche, en plus court pour une BatchNorm."""
    if isinstance(module, _NORMS):
        return f"{type(module).__name__}({module.num_features})"
    return repr(module)


def _layer(c: _Layer) -> str:
    """« net.4 » (ConvTranspose2d(128, 64, ...)) : de quoi retrouver la ligne."""
    return f"« {c.name} » ({_describe(c.module)})"


def _spatial(t) -> str:
    return f"{t.shape[-2]}×{t.shape[-1]}" if isinstance(t, torch.Tensor) and t.dim() >= 3 else "?"


def _size_path(calls: list[_Layer]) -> str:
    """Les tailles des cartes au fil des convolutions exécutées : « 28×28 → 13×13 → 5×5 »."""
    convs = [c for c in calls if isinstance(c.module, _CONVS)]
    if not convs:
        return ""
    return " → ".join([_spatial(convs[0].input)] + [_spatial(c.output) for c in convs])


def _crash_hint(module: nn.Module, given, calls: list[_Layer]) -> str:
    """Ce qu'une erreur levée par ``module`` veut dire, vu ce qu'il a reçu."""
    if not isinstance(given, torch.Tensor):
        return "Cette couche n'a pas reçu un tenseur : vérifiez ce que forward lui passe."
    shape = tuple(given.shape)
    if isinstance(module, _CONVS):
        if given.dim() == 2:
            return (f"Cette convolution reçoit des vecteurs {shape} au lieu de cartes (N, canaux, "
                    "hauteur, largeur) : remettez la sortie de la couche Linear en forme avec "
                    "nn.Unflatten(1, (canaux, 7, 7)) juste avant (ou .view(-1, canaux, 7, 7) dans forward).")
        if given.dim() == 4 and given.shape[1] != module.in_channels:
            if given.shape[-1] == module.in_channels:
                return (f"Elle attend {module.in_channels} canaux et en reçoit {given.shape[1]} : "
                        "les canaux viennent en premier, nn.Unflatten(1, "
                        f"({module.in_channels}, 7, 7)) et non (7, 7, {module.in_channels}).")
            return (f"Elle attend {module.in_channels} canaux (son premier argument) et en reçoit "
                    f"{given.shape[1]} : son premier argument doit être le nombre de canaux que "
                    "produit la couche précédente (1 pour une image MNIST).")
    if isinstance(module, _NORMS):
        wanted = "BatchNorm1d après une couche Linear" if given.dim() == 2 else "BatchNorm2d après une convolution"
        if (isinstance(module, nn.BatchNorm1d) and given.dim() == 4) or (
                isinstance(module, nn.BatchNorm2d) and given.dim() == 2):
            return f"Ce n'est pas la bonne BatchNorm pour une entrée {shape} : {wanted}."
        if given.dim() >= 2 and given.shape[1] != module.num_features:
            return (f"{type(module).__name__}({module.num_features}) doit avoir autant de canaux (ou "
                    f"de valeurs) que la sortie de la couche qui la précède : {given.shape[1]}.")
    if isinstance(module, nn.Linear) and given.shape[-1] != module.in_features:
        if given.dim() > 2:
            return (f"Cette couche Linear reçoit des cartes {shape} : aplatissez-les avant elle "
                    "avec nn.Flatten().")
        path = _size_path(calls)
        sizes = f" (tailles des cartes : {path})" if path else ""
        return (f"Elle attend {module.in_features} valeurs par image et en reçoit {given.shape[-1]}"
                f"{sizes} : in_features = canaux × 7 × 7 après deux convolutions 28 → 14 → 7.")
    return "Lisez le message ci-dessus et corrigez cette couche."


def _run_traced(model: nn.Module, x: torch.Tensor, what: str):
    """Appelle ``model(x)`` en notant chaque couche « feuille » exécutée, dans l'ordre.

    Renvoie ``(sortie, couches, plantage)`` : ``plantage`` est ``None``, ou le
    message qui dit quelle couche a levé une erreur, avec quelle entrée.
    """
    __tracebackhide__ = True
    names = {m: n for n, m in model.named_modules()}
    started, calls = [], []

    def before(module, args):
        started.append((module, args[0] if args else None))

    def after(module, args, output):
        calls.append(_Layer(names.get(module, type(module).__name__), module,
                            args[0] if args else None, output))

    handles = []
    for m in model.modules():
        if not list(m.children()):
            handles += [m.register_forward_pre_hook(before), m.register_forward_hook(after)]
    out, crash = None, None
    try:
        out = model(x)
    except NotImplementedError:
        _fail(f"{what} n'est pas encore écrit (la cellule lève encore NotImplementedError). "
              "Complétez le bloc « À VOUS DE JOUER », exécutez la cellule, puis relancez la vérification.")
    except CheckError:
        raise
    except Exception as error:  # noqa: BLE001 - on veut tout traduire pour l'étudiant
        text = f"{type(error).__name__} : {str(error).splitlines()[0] if str(error) else ''}"
        if len(started) > len(calls):
            module, given = started[-1]
            shape = tuple(given.shape) if isinstance(given, torch.Tensor) else type(given).__name__
            crash = (f"{what} a levé une erreur dans la couche « {names.get(module, '?')} » "
                     f"({_describe(module)}), qui a reçu une entrée de forme {shape} : {text}\n"
                     f"{_crash_hint(module, given, calls)}")
        else:
            where = f", après la couche {_layer(calls[-1])}" if calls else ""
            crash = (f"{what} a levé une erreur dans forward{where} : {text}\nCorrigez la ligne de "
                     "forward qui suit cette couche.")
    finally:
        for h in handles:
            h.remove()
    return out, calls, crash


def _is_reshape(c: _Layer) -> bool:
    """Une couche qui ne fait que remettre en forme : Flatten, Unflatten, Identity, ou un module
    maison sans poids (un « Reshape » écrit à la main) qui rend les mêmes valeurs qu'il reçoit."""
    if isinstance(c.module, _RESHAPES):
        return True
    standard = type(c.module).__module__.startswith("torch.nn.modules")
    return (not standard and not any(True for _ in c.module.parameters())
            and _same(c.input, c.output))


def _split(calls: list[_Layer]):
    """Les couches à poids (Linear, convolutions) exécutées, et ce qui s'exécute après chacune
    jusqu'à la suivante (sans les remises en forme) ; plus ce qui précède la première."""
    weighted = [i for i, c in enumerate(calls) if isinstance(c.module, _WEIGHTED)]
    if not weighted:
        return [], [], []
    bounds = weighted + [len(calls)]
    blocks = [[c for c in calls[a + 1:b] if not _is_reshape(c)] for a, b in zip(bounds, bounds[1:])]
    head = [c for c in calls[:weighted[0]] if not _is_reshape(c)]
    return [calls[i] for i in weighted], blocks, head


def _same(a, b) -> bool:
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.numel() == b.numel()
            and torch.allclose(a.detach().reshape(-1).float(), b.detach().reshape(-1).float(),
                               rtol=1e-4, atol=1e-5))


def _check_activation(prev: _Layer, block: list[_Layer], who: str) -> None:
    """Après la couche ``prev``, un seul module d'activation : nn.LeakyReLU(0.2).

    ``block`` : les modules d'activation exécutés entre ``prev`` et la couche suivante.
    """
    __tracebackhide__ = True
    norms = [c for c in block if isinstance(c.module, (nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d,
                                                        nn.LayerNorm))]
    if norms:
        _fail(f"{who} : après {_layer(prev)}, une normalisation {_layer(norms[0])} que la recette ne met pas "
              "ici : le générateur normalise par lot (nn.BatchNorm1d / nn.BatchNorm2d), le discriminateur "
              "ne normalise pas. Retirez-la.")
    if len(block) > 1:
        _fail(f"{who} : après {_layer(prev)}, plusieurs activations à la suite "
              f"({', '.join(_layer(c) for c in block)}) ; la recette n'en met qu'une, nn.LeakyReLU(0.2).")
    if block:
        c = block[0]
        if isinstance(c.module, nn.LeakyReLU):
            slope = c.module.negative_slope
            if not math.isclose(slope, 0.2):
                default = (" (la pente par défaut de nn.LeakyReLU() sans argument)"
                           if math.isclose(slope, 0.01) else "")
                _fail(f"{who} : {_layer(c)} a une pente de {_fr(slope)} du côté négatif{default} ; la "
                      "recette prend 0,2 : écrivez nn.LeakyReLU(0.2).")
            return
        if isinstance(c.module, nn.ReLU):
            _fail(f"{who} : {_layer(c)} annule le gradient de toutes les entrées négatives ; la "
                  "recette met nn.LeakyReLU(0.2), qui garde une pente de 0,2 de ce côté (leçon, section 3).")
        _fail(f"{who} : {_layer(c)} après {_layer(prev)} ; la recette met nn.LeakyReLU(0.2) à cette place.")


def _check_functional_activation(prev: _Layer, before: _Layer, nxt: _Layer, who: str) -> None:
    """Aucun module d'activation entre ``prev`` et ``nxt`` : l'activation est-elle écrite dans forward ?

    ``before`` : la dernière couche exécutée avant ``nxt`` (``prev`` ou sa BatchNorm).
    """
    __tracebackhide__ = True
    x, y = before.output, nxt.input
    if _same(y, F.leaky_relu(x, 0.2)):
        return
    if _same(y, F.leaky_relu(x)):
        _fail(f"{who} : l'activation après {_layer(before)} a une pente de 0,01 (F.leaky_relu sans "
              "pente) ; la recette prend 0,2 : nn.LeakyReLU(0.2), ou F.leaky_relu(x, 0.2).")
    if _same(y, F.relu(x)):
        _fail(f"{who} : l'activation après {_layer(before)} est une ReLU ; la recette met "
              "nn.LeakyReLU(0.2), qui garde une pente de 0,2 du côté négatif (leçon, section 3).")
    if _same(y, x):
        _fail(f"{who} : aucune activation entre {_layer(before)} et {_layer(nxt)}. Ajoutez "
              "nn.LeakyReLU(0.2) : sans elle, les deux couches ne font qu'une seule transformation linéaire.")
    _fail(f"{who} : entre {_layer(before)} et {_layer(nxt)}, la recette met seulement nn.LeakyReLU(0.2).")


def _hidden_activation(prev: _Layer, block: list[_Layer], nxt: _Layer, who: str) -> None:
    """L'activation d'un bloc caché : un module LeakyReLU(0.2) ou, sans module d'activation, un
    calcul qui est celui de F.leaky_relu(x, 0.2) (écrit dans forward)."""
    __tracebackhide__ = True
    acts = [c for c in block if not isinstance(c.module, (*_NORMS, nn.Dropout))]
    if acts:
        _check_activation(prev, acts, who)
    else:
        last = [c for c in block if isinstance(c.module, _NORMS)]
        _check_functional_activation(prev, last[-1] if last else prev, nxt, who)


# --- exercice 2 : le générateur ---------------------------------------------------------

def _check_kernels(calls: list[_Layer]) -> None:
    """Chaque convolution transposée : un noyau multiple du pas (pas de damier)."""
    __tracebackhide__ = True
    for c in calls:
        if isinstance(c.module, nn.ConvTranspose2d):
            k, s = c.module.kernel_size[0], c.module.stride[0]
            if k % s:
                _fail(f"Générateur : {_layer(c)} a un noyau {k} et un pas {s} ; le noyau n'étant pas "
                      "un multiple du pas, les tampons ne se chevauchent pas partout autant et les "
                      "images gardent un damier (section 2). Prenez kernel_size=4, stride=2, padding=1, "
                      "comme l'énoncé.")


def _convt_path(calls: list[_Layer]) -> str:
    steps = [f"{_spatial(c.output)} par {_layer(c)}" for c in calls if isinstance(c.module, nn.ConvTranspose2d)]
    return " ; ".join(steps)


def _check_dcgan_generator_arguments(generator: nn.Module) -> None:
    """La classe construit ses couches à partir de ``z_dim`` et ``channels``, et ses poids ont les
    noms et les formes de ceux des générateurs livrés, que le notebook charge plus loin."""
    __tracebackhide__ = True
    cls = type(generator)
    if not {"z_dim", "channels"} <= _class_parameters(generator):
        return
    with torch.random.fork_rng():
        call = f"{cls.__name__}(z_dim=32, channels=(16, 8))"
        other = _call(cls, z_dim=32, channels=(16, 8), what=call)
        linears = _linear_layers(other)
        if not linears or linears[0].in_features != 32 or linears[0].out_features != 16 * 49:
            _fail(f"{call} commence par {_sizes(linears[:1])} au lieu de nn.Linear(32, 16 * 7 * 7) : dans "
                  "__init__, utilisez les arguments z_dim et channels (c1, c2 = channels) au lieu de "
                  "tailles écrites en dur.")
        from ..gan import load_pretrained_dcgan, pretrained_names
        names = pretrained_names()
        if not names:
            return
        settings = load_pretrained_dcgan(names[0])[1]["settings"]
        shipped_call = f"{cls.__name__}({settings['z_dim']}, {tuple(settings['g_channels'])})"
        model = _call(cls, settings["z_dim"], tuple(settings["g_channels"]), what=shipped_call)
        try:
            load_pretrained_dcgan(names[0], model=model)
        except RuntimeError as error:
            _fail(f"Votre générateur ne pourra pas recevoir les poids livrés avec le cours (section 10 du "
                  f"notebook, {shipped_call}) : {error}")


def check_dcgan_generator(generator: nn.Module, z_dim: int = 256, base_channels: int = 128) -> None:
    """Vérifie le générateur DCGAN du jour 3 : bruit (N, ``z_dim``) → image (N, 1, 28, 28).

    Attendu, dans l'ordre d'exécution : ``nn.Linear(z_dim, base_channels · 7 · 7)``,
    BatchNorm, LeakyReLU(0.2), une remise en forme (base_channels, 7, 7), puis des
    ``nn.ConvTranspose2d`` (noyau multiple du pas ; 7 → 14 → 28), chacune suivie
    de BatchNorm2d puis LeakyReLU(0.2), sauf la dernière, suivie de ``nn.Tanh()``
    seulement. Pas de Dropout.
    """
    __tracebackhide__ = True
    _check_module(generator, "le générateur")
    z_dim, base_channels = _int_arguments(z_dim=z_dim, base_channels=base_channels)
    linears = _linear_layers(generator)
    if not linears or linears[0].in_features != z_dim or linears[0].out_features != base_channels * 49:
        _fail(f"Le générateur doit commencer par nn.Linear({z_dim}, {base_channels} * 7 * 7), soit "
              f"{z_dim} → {base_channels * 49} valeurs remises en forme ({base_channels}, 7, 7) ; "
              f"couches Linear trouvées : {_sizes(linears)}.")
    counts = _layer_counts(generator, (nn.ConvTranspose2d,))
    if counts["ConvTranspose2d"] < 2:
        _fail(f"Il faut au moins deux nn.ConvTranspose2d (7 → 14, puis 14 → 28) ; trouvées : "
              f"{counts['ConvTranspose2d']}.")
    with torch.random.fork_rng(), _untouched(generator):
        torch.manual_seed(0)
        device = next(generator.parameters()).device
        z = torch.randn(8, z_dim).to(device)
        generator.train()
        out, calls, crash = _run_traced(generator, z, f"Le générateur appliqué à un bruit (8, {z_dim})")
        _check_kernels(calls)
        if crash:
            _fail(crash)
        if out is None:
            _fail("Le générateur ne renvoie rien : forward doit se terminer par return self.net(z).")
        if not isinstance(out, torch.Tensor):
            _fail(f"Le générateur doit renvoyer un tenseur, il renvoie {type(out).__name__}.")
        _check_finite(out, "la sortie du générateur", generator)
        _check_generator_layout(calls, out, base_channels)
        if tuple(out.shape) != (8, 1, 28, 28):
            _fail(f"Sortie du générateur : forme (8, 1, 28, 28) attendue pour 8 bruits, reçue "
                  f"{tuple(out.shape)}. Tailles des images : 7×7, puis {_convt_path(calls)}. Avec "
                  "kernel_size=4, stride=2, padding=1, chaque convolution transposée double la "
                  "taille, 7 → 14 → 28 (exercice 1).")
        with torch.no_grad():
            far = generator(z * 100)
        if far.min() < -1 - 1e-6 or far.max() > 1 + 1e-6:
            _fail("Les pixels générés doivent être dans [-1, 1], comme les vraies images : la "
                  "dernière couche du générateur est nn.Tanh().")
        if torch.allclose(out[0], out[1:], atol=1e-6):
            _fail("Le générateur dessine la même image pour des bruits différents : la sortie ne "
                  "dépend pas de z.")
        last = [c.output for c in calls if isinstance(c.module, nn.ConvTranspose2d)]
        if last and last[-1].shape == out.shape and not (
                torch.allclose(out, torch.tanh(last[-1]), atol=1e-5)
                or torch.allclose(out, -torch.tanh(last[-1]), atol=1e-5)):
            _fail("Les pixels générés ne sont pas la tanh de la dernière convolution transposée : "
                  "rien ne doit venir après nn.Tanh() (ni valeur absolue, ni borne, ni ReLU), et forward "
                  "renvoie self.net(z) tel quel.")
        _check_pure_forward(generator, (z,), "Le générateur")
        generator.train()
        _check_gradients(generator, out, "Générateur")
    _check_dcgan_generator_arguments(generator)
    n_conv = counts["ConvTranspose2d"]
    _ok(f"Générateur DCGAN correct : Linear {z_dim} → {base_channels}×7×7 avec BatchNorm et LeakyReLU, "
        f"{n_conv} convolutions transposées (BatchNorm et LeakyReLU après chacune sauf la dernière, suivie "
        "de tanh), sortie (N, 1, 28, 28).")


def _check_generator_layout(calls: list[_Layer], out: torch.Tensor, base_channels: int) -> None:
    """L'ordre des couches du générateur, tel que forward les exécute."""
    __tracebackhide__ = True
    weighted, blocks, head = _split(calls)
    if head:
        _fail(f"Générateur : le bruit z doit entrer directement dans la couche Linear ; retirez "
              f"{_layer(head[0])}.")
    for c in calls:
        if isinstance(c.module, nn.Dropout):
            _fail(f"Générateur : retirez {_layer(c)}. Le Dropout est pour le discriminateur ; le "
                  "générateur, lui, doit apprendre sans être freiné (leçon, section 3).")
    first_t = next(c for c in calls if isinstance(c.module, nn.ConvTranspose2d))
    if isinstance(first_t.input, torch.Tensor) and tuple(first_t.input.shape[1:]) != (base_channels, 7, 7):
        _fail(f"Générateur : la première convolution transposée {_layer(first_t)} reçoit des cartes "
              f"{tuple(first_t.input.shape[1:])} au lieu de ({base_channels}, 7, 7) : remettez la "
              f"sortie de la couche Linear en forme avec nn.Unflatten(1, ({base_channels}, 7, 7)).")
    for prev, block, nxt in zip(weighted, blocks, weighted[1:]):
        norms = [c for c in block if isinstance(c.module, _NORMS)]
        acts = [c for c in block if not isinstance(c.module, _NORMS)]
        if not norms:
            kind = (f"nn.BatchNorm1d({prev.module.out_features})" if isinstance(prev.module, nn.Linear)
                    else f"nn.BatchNorm2d({prev.module.out_channels})")
            _fail(f"Générateur : après {_layer(prev)}, il manque {kind}, avant la LeakyReLU "
                  "(couche → BatchNorm → LeakyReLU). C'est la BatchNorm qui garde les activations "
                  "à une échelle raisonnable et accélère l'apprentissage (leçon, section 3).")
        if len(norms) > 1:
            _fail(f"Générateur : après {_layer(prev)}, une seule BatchNorm ; trouvé "
                  f"{', '.join(_layer(c) for c in norms)}.")
        if acts and block.index(norms[0]) > block.index(acts[0]):
            _fail(f"Générateur : {_layer(norms[0])} vient après {_layer(acts[0])}. L'ordre est "
                  f"couche → BatchNorm → LeakyReLU : placez la BatchNorm juste après {_layer(prev)}.")
        _hidden_activation(prev, block, nxt, "Générateur")
    last, tail = weighted[-1], blocks[-1]
    for c in tail:
        if isinstance(c.module, _NORMS):
            _fail(f"Générateur : pas de BatchNorm sur la couche de sortie ; retirez {_layer(c)}, après "
                  f"{_layer(last)}. Renormaliser les pixels imposerait à chaque lot d'images la même "
                  "moyenne et la même dispersion, ce que les vraies images n'ont pas (règle de "
                  "Radford et al.). Seule nn.Tanh() suit la dernière convolution transposée.")
    tanh = [c for c in tail if isinstance(c.module, nn.Tanh)]
    if tail and isinstance(tail[-1].module, nn.Tanh):
        if len(tail) > 1:
            _fail(f"Générateur : entre {_layer(last)} et nn.Tanh(), rien d'autre ; retirez "
                  f"{', '.join(_layer(c) for c in tail[:-1])}.")
        return
    if not tail and _same(out, torch.tanh(last.output)):
        return  # torch.tanh écrit dans forward
    if tanh:
        _fail(f"Générateur : nn.Tanh() doit être la toute dernière couche ; après elle, retirez "
              f"{', '.join(_layer(c) for c in tail[tail.index(tanh[-1]) + 1:])}.")
    if any(isinstance(c.module, nn.Sigmoid) for c in tail):
        _fail("Générateur : la sigmoïde donne des pixels dans [0, 1], alors que les vraies images "
              "sont dans [-1, 1] : terminez par nn.Tanh().")
    found = f" ; trouvé {', '.join(_layer(c) for c in tail)}" if tail else ""
    _fail(f"Générateur : terminez par nn.Tanh() juste après la dernière convolution transposée "
          f"{_layer(last)}, pour que les pixels soient dans [-1, 1] comme les vraies images{found}.")


# --- exercice 3 : le discriminateur ------------------------------------------------------

def _discriminator_sizes(calls: list[_Layer]) -> None:
    """Chaque convolution du discriminateur divise la taille par deux : 28 → 14 → 7."""
    __tracebackhide__ = True
    for c in calls:
        if isinstance(c.module, nn.Conv2d) and isinstance(c.output, torch.Tensor) and c.output.dim() == 4:
            size_in, size_out = c.input.shape[-1], c.output.shape[-1]
            if size_out != size_in // 2:
                _fail(f"Discriminateur : {_layer(c)} transforme des cartes {_spatial(c.input)} en "
                      f"{_spatial(c.output)} au lieu de {size_in // 2}×{size_in // 2}. Avec "
                      "kernel_size=4 et stride=2, il faut padding=1 : 28 → 14 → 7 (tailles de la "
                      f"trace : {_size_path(calls)}).")


def check_dcgan_discriminator(discriminator: nn.Module, dropout: float = 0.3) -> None:
    """Vérifie le discriminateur DCGAN du jour 3 : image (N, 1, 28, 28) → probabilité (N, 1).

    Attendu, dans l'ordre d'exécution : des ``nn.Conv2d`` (28 → 14 → 7), chacune
    suivie de ``nn.LeakyReLU(0.2)`` et de rien d'autre (pas de BatchNorm), un seul
    ``nn.Dropout(dropout)`` après la dernière, ``nn.Flatten``, une seule couche
    ``nn.Linear(..., 1)`` et ``nn.Sigmoid()``.
    """
    __tracebackhide__ = True
    _check_module(discriminator, "le discriminateur")
    counts = _layer_counts(discriminator, (nn.Conv2d, nn.Dropout))
    if counts["Conv2d"] < 2:
        _fail(f"Il faut au moins deux nn.Conv2d (28 → 14 → 7) ; trouvées : {counts['Conv2d']}.")
    if counts["Dropout"] == 0:
        _fail("Aucun nn.Dropout : la recette place un Dropout avant nn.Flatten().")
    with torch.random.fork_rng(), _untouched(discriminator):
        torch.manual_seed(0)
        device = next(discriminator.parameters()).device
        x = (torch.rand(8, 1, 28, 28) * 2 - 1).to(device)
        discriminator.eval()  # le Dropout s'efface : on peut comparer les calculs couche à couche
        with torch.no_grad():
            out, calls, crash = _run_traced(discriminator, x,
                                            "Le discriminateur appliqué à 8 images (8, 1, 28, 28)")
        _discriminator_sizes(calls)
        if crash:
            _fail(crash)
        if out is None:
            _fail("Le discriminateur ne renvoie rien : forward doit se terminer par return self.net(x).")
        if not isinstance(out, torch.Tensor):
            _fail(f"Le discriminateur doit renvoyer un tenseur, il renvoie {type(out).__name__}.")
        _check_finite(out, "la sortie du discriminateur", discriminator)
        with torch.no_grad():
            calm = discriminator(x)
        if not torch.equal(out, calm):
            _fail("En mode eval(), deux passages des mêmes images donnent des sorties différentes : le "
                  "Dropout doit s'éteindre en évaluation. Utilisez le module nn.Dropout(dropout) (pas "
                  "F.dropout, qui reste actif par défaut).")
        _check_discriminator_layout(calls, out, dropout)
        discriminator.train()
        out = _call(discriminator, x, what="Le discriminateur appliqué à 8 images (8, 1, 28, 28)")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (8, 1):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"Sortie du discriminateur : forme (8, 1) attendue pour 8 images, reçue {shape}. "
                  "Après les convolutions, nn.Flatten() puis nn.Linear(canaux * 7 * 7, 1).")
        _check_finite(out, "la sortie du discriminateur en mode train()", discriminator)
        if out.min() <= 0 or out.max() >= 1:
            _fail("Les sorties du discriminateur doivent être des probabilités dans ]0, 1[.")
        with torch.no_grad():
            noisy = [discriminator(x) for _ in range(2)]
            discriminator.eval()
            calm = [discriminator(x) for _ in range(2)]
        discriminator.train()
        if torch.equal(noisy[0], noisy[1]) or not torch.equal(calm[0], calm[1]):
            _fail("Le Dropout devrait changer la sortie d'un appel à l'autre en mode train(), et plus "
                  "du tout en mode eval() : utilisez nn.Dropout (pas F.dropout avec training=True).")
        _check_pure_forward(discriminator, (x,), "Le discriminateur")
        discriminator.train()
        _check_gradients(discriminator, out, "Discriminateur")
    _ok(f"Discriminateur DCGAN correct : {counts['Conv2d']} convolutions avec LeakyReLU, Dropout, "
        "sortie sigmoïde (N, 1) dans ]0, 1[.")


def _check_discriminator_layout(calls: list[_Layer], out, dropout: float) -> None:
    """L'ordre des couches du discriminateur, tel que forward les exécute (en mode eval)."""
    __tracebackhide__ = True
    weighted, blocks, head = _split(calls)
    for c in head:
        if isinstance(c.module, nn.Dropout):
            _fail(f"Discriminateur : {_layer(c)} est appliqué à l'image, avant la première "
                  "convolution : il éteindrait des pixels. Placez le Dropout après la dernière "
                  "LeakyReLU, juste avant nn.Flatten().")
        _fail(f"Discriminateur : l'image doit entrer directement dans la première convolution ; "
              f"retirez {_layer(c)}.")
    for c in calls:
        if isinstance(c.module, _NORMS):
            _fail(f"Discriminateur : retirez {_layer(c)}. La recette ne met pas de BatchNorm dans le "
                  "discriminateur : elle ferait dépendre la note d'une image des autres images du lot "
                  "(leçon, section 3).")
    linears = [c for c in weighted if isinstance(c.module, nn.Linear)]
    if len(linears) > 1:
        _fail(f"Discriminateur : une seule couche Linear, de canaux × 7 × 7 vers 1 ; retirez "
              f"{', '.join(_layer(c) for c in linears[:-1])} (pas de couche dense cachée, règle de "
              "Radford et al.).")
    if not linears or linears[0] is not weighted[-1]:
        _fail("Discriminateur : après les convolutions, nn.Flatten() puis une couche nn.Linear(canaux "
              "* 7 * 7, 1), la dernière couche à poids.")
    dropouts = [c for c in calls if isinstance(c.module, nn.Dropout)]
    for prev, block, nxt in zip(weighted, blocks, weighted[1:]):
        if nxt is not linears[0]:
            for c in block:
                if isinstance(c.module, nn.Dropout):
                    _fail(f"Discriminateur : un seul Dropout, après la dernière convolution et sa "
                          f"LeakyReLU, juste avant nn.Flatten() ; retirez {_layer(c)}, après {_layer(prev)}.")
        _hidden_activation(prev, block, nxt, "Discriminateur")
    if len(dropouts) > 1:
        _fail(f"Discriminateur : un seul Dropout, juste avant nn.Flatten() ; trouvé "
              f"{', '.join(_layer(c) for c in dropouts)}.")
    if dropouts and not math.isclose(dropouts[0].module.p, dropout):
        default = " (la valeur par défaut de nn.Dropout())" if math.isclose(dropouts[0].module.p, 0.5) else ""
        _fail(f"Discriminateur : {_layer(dropouts[0])} éteint une proportion {_fr(dropouts[0].module.p)} des "
              f"activations{default}, alors que le paramètre dropout vaut {_fr(dropout)} : écrivez "
              "nn.Dropout(dropout).")
    linear, tail = linears[0], blocks[-1]
    if isinstance(linear.input, torch.Tensor) and linear.input.dim() > 2:
        _fail(f"Discriminateur : {_layer(linear)} reçoit des cartes {tuple(linear.input.shape)} ; "
              "aplatissez-les juste avant elle avec nn.Flatten(), pour qu'elle rende une seule "
              "probabilité par image.")
    if tail and isinstance(tail[-1].module, nn.Sigmoid):
        if len(tail) > 1:
            what = ", ".join(_layer(c) for c in tail[:-1])
            where = (" Le Dropout se place avant nn.Flatten()." if any(isinstance(c.module, nn.Dropout)
                                                                      for c in tail) else "")
            _fail(f"Discriminateur : entre {_layer(linear)} et nn.Sigmoid(), rien d'autre ; retirez "
                  f"{what}.{where}")
        return
    if not tail and _same(out, torch.sigmoid(linear.output)):
        return  # torch.sigmoid écrit dans forward
    if any(isinstance(c.module, nn.Dropout) for c in tail):
        _fail("Discriminateur : le Dropout se place avant nn.Flatten(), pas après la couche de sortie ; "
              "la dernière couche du discriminateur est nn.Sigmoid().")
    if any(isinstance(c.module, nn.Tanh) for c in tail):
        _fail("Discriminateur : nn.Tanh() donne des valeurs dans [-1, 1] ; la sortie est une probabilité, "
              "que nn.BCELoss attend : terminez par nn.Sigmoid().")
    _fail("La dernière couche du discriminateur doit être nn.Sigmoid() : il renvoie une probabilité, "
          "que nn.BCELoss attend.")


# --- exercice 4 : la perte lissée ---------------------------------------------------------

def _smoothing_mistakes(d_real, d_fake, label: float) -> dict:
    """Les erreurs typiques du lissage, en fonction de la cible ``label`` des vraies images."""
    with torch.no_grad():
        return {
            "le lissage est unilatéral : la cible des images générées reste 0 (torch.zeros_like(d_fake)), "
            "seule celle des vraies images devient real_label": _bce(d_real, label) + _bce(d_fake, 1 - label),
            "la cible des images générées est real_label, elle doit rester 0 (torch.zeros_like(d_fake)) : "
            "real_label ne concerne que les vraies images": _bce(d_real, label) + _bce(d_fake, label),
            "la cible des vraies images est 1 - real_label (0,1 quand real_label vaut 0,9) : c'est "
            "real_label lui-même, torch.full_like(d_real, real_label)": _bce(d_real, 1 - label) + _bce(d_fake, 0.0),
            "le lissage est appliqué aux images générées (cible 1 - real_label) au lieu des vraies : la "
            "cible des vraies images est real_label, celle des images générées reste 0":
                _bce(d_real, 1.0) + _bce(d_fake, 1 - label),
            "real_label multiplie le terme des vraies images au lieu d'en être la cible. BCE(p, 0,9) = "
            "-0,9·log p - 0,1·log(1 - p) a aussi un terme en log(1 - p) : donnez à nn.BCELoss la cible "
            "torch.full_like(d_real, real_label)": label * _bce(d_real, 1.0) + _bce(d_fake, 0.0),
            "la cible 0,9 est écrite en dur : prenez le paramètre, torch.full_like(d_real, real_label), "
            "pour que real_label=1.0 redonne la perte du jour 1": _bce(d_real, 0.9) + _bce(d_fake, 0.0),
        }


def _loss_at(loss_fn, label):
    """La perte de l'étudiant sur les probabilités de test ; ``label=None`` : sans real_label."""
    __tracebackhide__ = True
    d_real, d_fake = _loss_probe()
    if label is None:
        got = _call(loss_fn, d_real, d_fake, what="discriminator_loss(d_real, d_fake)")
    else:
        got = _call(loss_fn, d_real, d_fake, real_label=label,
                    what=f"discriminator_loss(d_real, d_fake, real_label={label})")
    return _as_scalar(got, "discriminator_loss").item()


def check_smoothed_discriminator_loss(loss_fn, real_label: float = 0.9) -> None:
    """Vérifie ``discriminator_loss(d_real, d_fake, real_label=1.0)`` avec le lissage du jour 3.

    La perte est calculée avec ``real_label=1.0`` (la perte du jour 1), avec
    ``real_label=0.9`` (BCE(D(x), 0,9) + BCE(D(G(z)), 0)) et sans ``real_label``
    (qui doit valoir 1.0 par défaut) ; les erreurs typiques du lissage sont
    reconnues à leurs valeurs, les autres par la vérification du jour 1.
    """
    __tracebackhide__ = True
    _check_function(loss_fn, "discriminator_loss")
    _check_argument_order(loss_fn, ["d_real", "d_fake", "real_label"], "discriminator_loss")
    try:
        params = inspect.signature(loss_fn).parameters
    except (TypeError, ValueError):
        params = {}
    if "real_label" in params and params["real_label"].default is inspect.Parameter.empty:
        _fail("discriminator_loss : donnez à real_label une valeur par défaut, 1.0 (def discriminator_loss("
              "d_real, d_fake, real_label=1.0)) : sans lui, c'est la perte du jour 1.")
    d_real, d_fake = _loss_probe()
    with torch.no_grad():
        reference = {label: (_bce(d_real, label) + _bce(d_fake, 0.0)).item() for label in (1.0, real_label)}
    got = {label: _loss_at(loss_fn, label) for label in (1.0, real_label)}

    def close(a, b):
        return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)

    if not all(close(got[k], reference[k]) for k in got):
        mistakes = {k: _smoothing_mistakes(d_real, d_fake, k) for k in got}
        shown = real_label if not close(got[real_label], reference[real_label]) else 1.0
        for reason in mistakes[real_label]:
            if all(close(got[k], mistakes[k][reason].item()) for k in got):
                _fail(f"discriminator_loss(..., real_label={shown}) renvoie {got[shown]:.4f} au "
                      f"lieu de {reference[shown]:.4f} : {reason}.")
    if close(got[1.0], reference[real_label]) and close(got[real_label], reference[real_label]):
        _fail(f"discriminator_loss(..., real_label=1.0) renvoie {got[1.0]:.4f}, la perte lissée à "
              f"{real_label:g} ({reference[real_label]:.4f}) au lieu de {reference[1.0]:.4f} : la cible "
              f"{real_label:g} est écrite en dur. Utilisez l'argument real_label "
              "(torch.full_like(d_real, real_label)) : le notebook passe 1.0 pour la perte sans lissage.")
    if close(got[1.0], reference[1.0]) and close(got[real_label], reference[real_label]):
        default = _loss_at(loss_fn, None)
        if close(default, reference[real_label]) and not close(default, reference[1.0]):
            _fail("discriminator_loss : sans real_label, la cible des vraies images doit être 1 (la perte "
                  "du jour 1) ; real_label vaut 1.0 par défaut (def discriminator_loss(d_real, d_fake, "
                  "real_label=1.0)), le notebook passe 0,9 quand il le veut.")
    value, reference_text = _discriminator_loss_value(loss_fn, smoothing_taught=True)
    smoothed = got[real_label]
    if not close(smoothed, reference[real_label]):
        hint = (" : real_label est ignoré, la cible des vraies images reste 1"
                if math.isclose(smoothed, value, rel_tol=1e-6) else "")
        if not close(_loss_at(loss_fn, real_label), smoothed):
            hint = (" : la perte change d'un appel à l'autre ; la cible des vraies images est la "
                    "constante real_label, pas un tirage au hasard")
        _fail(f"discriminator_loss(..., real_label={real_label}) renvoie {smoothed:.4f} au lieu de "
              f"{reference[real_label]:.4f}{hint}. Utilisez torch.full_like(d_real, real_label) "
              "comme cible des vraies images.")
    _ok(f"discriminator_loss correcte : {value:.4f} sur les probabilités de test (référence "
        f"{reference_text}), et {smoothed:.4f} avec real_label={real_label} (référence "
        f"{reference[real_label]:.4f}).")


# --- exercice 5 : le pas d'entraînement à plusieurs pas de D --------------------------------

def _mistaken_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label=1.0, d_steps=1,
                   mistake=None):
    """La référence du jour 3 (``utils.gan.train_step``) avec une erreur typique de sa boucle.

    Chaque variante tire ses bruits dans l'ordre où le ferait le code de l'étudiant,
    pour qu'à graine égale elle donne exactement les mêmes poids.
    """
    def d_step(fake):
        if mistake != "zero_grad_once":
            opt_d.zero_grad()
        d_real = discriminator(real)
        d_fake = discriminator(fake.detach())
        loss_d = _reference_discriminator_loss(d_real, d_fake, real_label)
        loss_d.backward()
        opt_d.step()
        return {"loss_d": loss_d.item(), "d_real": d_real.mean().item(), "d_fake": d_fake.mean().item()}

    def g_step(fake):
        opt_g.zero_grad()
        d_out = discriminator(fake)
        loss_g = (_bce(d_out, real_label) if mistake == "g_smoothed" else _reference_generator_loss(d_out))
        loss_g.backward()
        opt_g.step()
        return loss_g.item()

    def noise():
        return torch.randn(real.shape[0], z_dim, device=real.device)

    values, loss_g = [], None
    if mistake == "g_first":
        loss_g = g_step(generator(noise()))
    if mistake == "zero_grad_once":
        opt_d.zero_grad()
    fake = generator(noise()) if mistake == "same_noise" else None
    for _ in range(d_steps):
        if mistake != "same_noise":
            fake = generator(noise())
        values.append(d_step(fake))
        if mistake == "g_in_loop":
            loss_g = g_step(fake)
    if mistake not in ("g_first", "g_in_loop"):
        loss_g = g_step(fake)
    if mistake == "values_mean":
        return {**{k: sum(v[k] for v in values) / len(values) for k in values[0]}, "loss_g": loss_g}
    return {**values[0 if mistake == "values_first" else -1], "loss_g": loss_g}


_LOOP_MISTAKES = {
    "same_noise": "les {d} pas de D jugent les mêmes images générées : tirez un bruit neuf z et "
                  "calculez fake = generator(z) à chaque tour de la boucle for _ in range(d_steps)",
    "g_in_loop": "le pas du générateur est dans la boucle, il a été fait {d} fois : sortez-le de la "
                 "boucle (d_steps pas de D, puis un seul pas de G, sur le fake du dernier tour)",
    "g_first": "le pas du générateur vient avant ceux du discriminateur : faites d'abord les d_steps "
               "pas de D, puis le pas de G, sur le fake du dernier pas de D",
    "zero_grad_once": "opt_d.zero_grad() n'est appelé qu'une fois, avant la boucle : au second tour, "
                      "les gradients du premier s'ajoutent aux nouveaux. Appelez opt_d.zero_grad() à "
                      "chaque tour, avant loss_d.backward()",
    "g_smoothed": "la perte du générateur vise real_label : le lissage ne concerne que la cible des "
                  "vraies images dans la perte de D. Gardez generator_loss(discriminator(fake)), qui vise 1",
}

_VALUE_MISTAKES = {
    "values_mean": "ce sont les moyennes sur les {d} pas de D",
    "values_first": "ce sont les valeurs du premier pas de D",
}


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def check_dcgan_train_step(train_step, real_label: float = 0.9, d_steps: int = 2) -> None:
    """Vérifie ``train_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label, d_steps)``.

    Comme au jour 1 (``check_train_step``), appelé avec ``real_label`` et
    ``d_steps`` : la référence fait ``d_steps`` pas de D, chacun avec un bruit
    neuf et le même lot réel, la cible ``real_label`` pour les vraies images,
    puis un pas de G sur les images du dernier pas de D ; ``d_real`` et
    ``d_fake`` sont ceux du dernier pas de D. Les erreurs typiques de la boucle
    sont reconnues à leurs poids ; un second appel, avec ``real_label=1.0`` et
    ``d_steps=1``, vérifie que ni l'un ni l'autre n'est écrit en dur.
    """
    __tracebackhide__ = True
    o = _train_step_outcomes(train_step, real_label=real_label, d_steps=d_steps)
    with torch.random.fork_rng():
        _, _, (_, d_unsmoothed) = _run_variant(_reference_step, d_steps=d_steps)
        _, _, (_, d_single) = _run_variant(_reference_step, real_label=real_label)

    def variant(mistake):
        with torch.random.fork_rng():
            return _run_variant(_mistaken_step, real_label=real_label, d_steps=d_steps, mistake=mistake)

    _check_returned_values(o["result"])
    d_new, g_new = o["d_new"], o["g_new"]
    _check_update(d_new, o["before"][1], o["d_nozero"], [o["d_ref"]], "discriminateur", "opt_d", "loss_d")
    if real_label != 1.0 and _close(d_new, d_unsmoothed):
        _fail("Le pas du discriminateur ignore real_label : passez-le à discriminator_loss "
              "(discriminator_loss(d_real, d_fake, real_label)).")
    if d_steps > 1 and _close(d_new, d_single):
        _fail(f"Le discriminateur n'a fait qu'un pas alors que d_steps={d_steps} : répétez le pas de "
              "D dans une boucle for _ in range(d_steps), avec un bruit neuf à chaque tour.")
    reference_weights = _close(d_new, o["d_ref"]) and (_close(g_new, o["g_ref"]) or _close(g_new, o["g_ref2"]))
    if not reference_weights:
        for mistake, message in _LOOP_MISTAKES.items():
            _, _, (g_var, d_var) = variant(mistake)
            if _close(d_new, d_var) and _close(g_new, g_var):
                _fail(f"{_train_step_call({'real_label': real_label, 'd_steps': d_steps})} : "
                      f"{message.format(d=d_steps)}.")
    else:
        result = o["result"]
        wrong = [k for k in ("loss_d", "d_real", "d_fake")
                 if not math.isclose(result[k], o["expected"][k], rel_tol=1e-4, abs_tol=1e-5)]
        for mistake, message in _VALUE_MISTAKES.items() if wrong else ():
            values = variant(mistake)[0]
            if all(math.isclose(result[k], values[k], rel_tol=1e-4, abs_tol=1e-5) for k in wrong):
                _fail(f"train_step renvoie {wrong[0]} = {result[wrong[0]]:.4f} au lieu de "
                      f"{o['expected'][wrong[0]]:.4f} : {message.format(d=d_steps)}. Renvoyez loss_d, "
                      "d_real et d_fake du dernier pas de D (les variables telles qu'elles sont à la "
                      "sortie de la boucle).")
    _check_steps_against_reference(o)
    _check_hardcoded_options(train_step, real_label, d_steps)
    d_part = f"{d_steps} pas de D" if d_steps > 1 else "un pas de D"
    _ok(f"train_step correct : {d_part} puis un pas de G, poids identiques à la référence "
        "après une étape.")


def _check_hardcoded_options(train_step, real_label: float, d_steps: int) -> None:
    """Rejoue le pas avec d'autres options (celles du jour 1) : ni la cible ni le nombre de pas de D
    ne doivent être écrits en dur."""
    __tracebackhide__ = True
    other = {"real_label": 1.0 if real_label != 1.0 else 0.9, "d_steps": 1 if d_steps != 1 else 2}
    def discriminator_after(step, **options):
        with torch.random.fork_rng():
            return _run_variant(step, **options)[2][1]

    d_student = _call(discriminator_after, train_step, **other, what=_train_step_call(other))
    if _close(d_student, discriminator_after(_reference_step, **other)):
        return
    d_label = discriminator_after(_reference_step, real_label=real_label, d_steps=other["d_steps"])
    d_steps_fixed = discriminator_after(_reference_step, real_label=other["real_label"], d_steps=d_steps)
    d_both = discriminator_after(_reference_step, real_label=real_label, d_steps=d_steps)
    call = _train_step_call(other)
    if _close(d_student, d_label) or _close(d_student, d_both):
        _fail(f"{call} : la cible des vraies images reste {_fr(real_label)}, real_label est écrit en dur. "
              "Passez le paramètre à discriminator_loss(d_real, d_fake, real_label) : l'expérience "
              "« sans lissage » l'appelle avec real_label=1.0.")
    if _close(d_student, d_steps_fixed):
        _fail(f"{call} : le discriminateur fait encore {d_steps} pas, le nombre de pas est écrit en dur. "
              "Bouclez sur le paramètre : for _ in range(d_steps).")
    _fail(f"{call} : le pas du discriminateur diffère de la référence, alors qu'il était juste avec "
          f"real_label={real_label} et d_steps={d_steps}. Ne fixez ni la cible ni le nombre de pas : "
          "utilisez les paramètres real_label et d_steps.")
