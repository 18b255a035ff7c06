"""Jour 3 : DCGAN sur MNIST.

La taille de sortie d'une convolution transposée, le générateur et le
discriminateur convolutifs, la perte lissée et le pas d'entraînement à
plusieurs pas de D. Ces deux derniers reprennent les vérifications du jour 1
(importées de ``jour_01``) et n'ajoutent que ce que le jour 3 enseigne : la
cible ``real_label`` des vraies images et la boucle de ``d_steps`` pas de D.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .core import (
    _as_scalar,
    _bce,
    _call,
    _check_gradients,
    _check_module,
    _check_update,
    _fail,
    _layer_counts,
    _linear_layers,
    _ok,
    _sizes,
)
from .jour_01 import (
    _check_returned_values,
    _check_steps_against_reference,
    _discriminator_loss_value,
    _loss_probe,
    _reference_step,
    _run_variant,
    _train_step_outcomes,
)

__all__ = ["check_conv_transpose_size", "check_dcgan_discriminator", "check_dcgan_generator",
           "check_dcgan_train_step", "check_smoothed_discriminator_loss"]


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


def check_smoothed_discriminator_loss(loss_fn, real_label: float = 0.9) -> None:
    """Vérifie ``discriminator_loss(d_real, d_fake, real_label=1.0)`` avec le lissage du jour 3.

    D'abord la perte du jour 1 (sans ``real_label``, la cible des vraies images
    est 1), puis avec ``real_label=0.9`` : BCE(D(x), 0,9) + BCE(D(G(z)), 0).
    """
    __tracebackhide__ = True
    value, reference = _discriminator_loss_value(loss_fn)
    d_real, d_fake = _loss_probe()
    smoothed = _as_scalar(_call(loss_fn, d_real, d_fake, real_label=real_label,
                                what=f"discriminator_loss(d_real, d_fake, real_label={real_label})"),
                          "discriminator_loss")
    with torch.no_grad():
        expected_smooth = _bce(d_real, real_label) + _bce(d_fake, 0.0)
    if not math.isclose(smoothed.item(), expected_smooth.item(), rel_tol=1e-4, abs_tol=1e-6):
        hint = (" : real_label est ignoré, la cible des vraies images reste 1"
                if math.isclose(smoothed.item(), value, rel_tol=1e-6) else "")
        _fail(f"discriminator_loss(..., real_label={real_label}) renvoie {smoothed.item():.4f} au lieu de "
              f"{expected_smooth.item():.4f}{hint}. Utilisez torch.full_like(d_real, real_label) "
              "comme cible des vraies images.")
    _ok(f"discriminator_loss correcte : {value:.4f} sur les probabilités de test (référence "
        f"{reference}), et {smoothed.item():.4f} avec real_label={real_label} (référence "
        f"{expected_smooth.item():.4f}).")


def check_dcgan_train_step(train_step, real_label: float = 0.9, d_steps: int = 2) -> None:
    """Vérifie ``train_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label, d_steps)``.

    Comme au jour 1 (``check_train_step``), appelé avec ``real_label`` et
    ``d_steps`` : la référence fait ``d_steps`` pas de D, chacun avec un bruit
    neuf et le même lot réel, la cible ``real_label`` pour les vraies images,
    puis un pas de G sur les images du dernier pas de D ; ``d_real`` et
    ``d_fake`` sont ceux du dernier pas de D.
    """
    __tracebackhide__ = True
    o = _train_step_outcomes(train_step, real_label=real_label, d_steps=d_steps)
    with torch.random.fork_rng():
        _, _, (_, d_unsmoothed) = _run_variant(_reference_step, d_steps=d_steps)
        _, _, (_, d_single) = _run_variant(_reference_step, real_label=real_label)
    _check_returned_values(o["result"])
    d_new = o["d_new"]
    _check_update(d_new, o["before"][1], o["d_nozero"], [o["d_ref"]], "discriminateur", "opt_d", "loss_d")
    if real_label != 1.0 and torch.allclose(d_new, d_unsmoothed, rtol=1e-4, atol=1e-5):
        _fail("Le pas du discriminateur ignore real_label : passez-le à discriminator_loss "
              "(discriminator_loss(d_real, d_fake, real_label)).")
    if d_steps > 1 and torch.allclose(d_new, d_single, rtol=1e-4, atol=1e-5):
        _fail(f"Le discriminateur n'a fait qu'un pas alors que d_steps={d_steps} : répétez le pas de "
              "D dans une boucle for _ in range(d_steps), avec un bruit neuf à chaque tour.")
    _check_steps_against_reference(o)
    d_part = f"{d_steps} pas de D" if d_steps > 1 else "un pas de D"
    _ok(f"train_step correct : {d_part} puis un pas de G, poids identiques à la référence "
        "après une étape.")
