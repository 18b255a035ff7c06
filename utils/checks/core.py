"""Le socle commun des auto-vérifications, partagé par tous les jours.

* :class:`CheckError`, ``_fail`` et ``_ok`` : le verdict, ❌ levé ou ✅ imprimé ;
* :func:`describe_difference` : l'écart entre deux tenseurs, en une phrase ;
* ``_call`` : appelle le code de l'étudiant et traduit les erreurs de PyTorch
  (``_ERROR_HINTS``) en conseils ;
* des sondes de modèles (couches présentes, tailles d'une pile de
  ``nn.Linear``, gradients qui arrivent bien à chaque paramètre) ;
* des outils pour les pertes et les pas d'entraînement (entropie croisée de
  référence, scalaire dérivable, poids mis à plat, mise à jour des poids).

Les noms qui commencent par ``_`` ne s'adressent pas aux étudiants : les
modules des jours les importent d'ici, mais ``utils.checks`` ne les réexporte pas.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn


class CheckError(AssertionError):
    """Une auto-vérification a échoué ; le message dit quoi corriger."""


def _fail(message: str):
    """Lève :class:`CheckError` avec le message, précédé de ❌."""
    __tracebackhide__ = True
    raise CheckError("❌ " + message)


def _ok(message: str) -> None:
    """Imprime le verdict de réussite, précédé de ✅."""
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


def _check_argument_order(fn, expected: list[str], name: str) -> None:
    """Si ``fn`` nomme ses paramètres comme l'énoncé mais dans un autre ordre, le dit clairement.

    Sans cela, des arguments intervertis échouent loin de leur cause (« 'Adam' object
    is not callable », une taille de couche). Des noms différents de ceux de
    l'énoncé ne sont pas jugés ici : l'appel dira ce qui ne va pas.
    """
    __tracebackhide__ = True
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return
    given = [n for n in names if n in expected]
    wanted = [n for n in expected if n in given]
    if len(given) >= 2 and given != wanted:
        _fail(f"{name} : les paramètres sont dans le désordre. Ordre attendu : {name}("
              f"{', '.join(expected)}) ; votre fonction : {name}({', '.join(names)}).")


def _call(fn, *args, what: str, explain=None, **kwargs):
    """Appelle le code de l'étudiant et traduit une exception en message clair.

    ``explain`` (facultatif) : une fonction qui reçoit l'exception et renvoie un conseil
    propre à l'exercice, ou ``None`` pour s'en remettre aux conseils généraux (``_ERROR_HINTS``).
    """
    __tracebackhide__ = True
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as error:
        if 'missing the required "forward" function' in str(error):
            _fail(f"{what} : le modèle n'a pas de méthode forward. Vérifiez son nom (def forward(self, x)) "
                  "et qu'elle est bien indentée dans la classe.")
        _fail(f"{what} n'est pas encore écrit (la cellule lève encore NotImplementedError). "
              "Complétez le bloc « À VOUS DE JOUER », exécutez la cellule, puis relancez la vérification.")
    except CheckError:
        raise
    except Exception as error:  # noqa: BLE001 - on veut tout traduire pour l'étudiant
        text = str(error)
        hint = explain(error) if explain is not None else None
        if hint is None:
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
    "expected 4D input (got 2D input)":
        "nn.BatchNorm2d attend des images (N, canaux, H, W) ; après une couche Linear, les données "
        "ont la forme (N, taille) : utilisez nn.BatchNorm1d(taille).",
    "expected 2D or 3D input (got 4D input)":
        "nn.BatchNorm1d attend des vecteurs (N, taille) ; après une convolution, les données ont la "
        "forme (N, canaux, H, W) : utilisez nn.BatchNorm2d(canaux).",
    "running_mean should contain":
        "Une couche BatchNorm n'a pas la taille de la couche qui la précède : créez-la avec le "
        "out_features de la couche Linear juste avant (nn.BatchNorm1d(width)), ou son nombre de canaux.",
    "cannot be converted to Scalar":
        ".item() ne s'applique qu'à un tenseur d'une seule valeur. Pour un tenseur qui a une valeur "
        "par image (comme d_real ou d_fake), prenez d'abord la moyenne : d_real.mean().item().",
    "grad can be implicitly created only for scalar outputs":
        ".backward() s'appelle sur une perte scalaire ; celle-ci a encore une valeur par exemple : "
        "prenez-en la moyenne (.mean(), ou reduction='mean', le défaut de nn.BCELoss).",
    "Using a target size":
        "La cible doit avoir la même forme que la prédiction, (N, 1) : créez-la avec "
        "torch.ones_like(prediction) ou torch.zeros_like(prediction) plutôt que torch.ones(N).",
    "modified by an inplace operation":
        "Un poids a été modifié (par un optimizer.step()) entre le calcul d'une perte et son "
        ".backward() : calculez chaque perte après le step qui modifie les poids dont elle dépend.",
    "'float' object has no attribute 'backward'":
        ".item() a été appelé trop tôt : il transforme la perte en simple nombre, sans graphe de calcul. "
        "Gardez la perte comme tenseur pour .backward(), et n'appelez .item() que sur les valeurs renvoyées.",
    "' is not defined":
        "Une variable utilisée dans la fonction n'existe pas : vérifiez son nom, qu'il s'agit bien d'un "
        "paramètre de la fonction, ou que la cellule qui la définit a été exécutée.",
}


# --- sondes des modèles ----------------------------------------------------

def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    """Les couches ``nn.Linear`` du modèle, dans l'ordre où elles ont été créées."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def _has(model: nn.Module, kind) -> bool:
    """Le modèle contient-il au moins une couche du type ``kind`` ?"""
    return any(isinstance(m, kind) for m in model.modules())


def _check_module(model, name: str):
    """Échoue si ``model`` n'est pas une instance de ``nn.Module`` qui a des paramètres."""
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
    """Vérifie le nombre de couches ``nn.Linear`` et les tailles d'entrée et de sortie ;
    renvoie les tailles, « 784 → 256 → 1 »."""
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


def _layer_counts(model: nn.Module, kinds) -> dict:
    """Le nombre de couches de chaque type de ``kinds``, par nom de classe."""
    return {kind.__name__: sum(isinstance(m, kind) for m in model.modules()) for kind in kinds}


_SHAPE_ONLY = (nn.Flatten, nn.Unflatten, nn.Identity)


def _forward_trace(model: nn.Module, *inputs):
    """Appelle ``model(*inputs)`` en notant, dans l'ordre, chaque sous-module feuille appelé.

    Renvoie ``(sortie, appels)``, ``appels`` étant la liste des ``(module, sortie du module)``.
    L'ordre est celui des appels, pas celui de la création : il vaut pour un ``nn.Sequential``
    comme pour des couches appelées une à une dans ``forward`` (une même couche appelée deux fois
    y figure deux fois). Les opérations fonctionnelles (``torch.tanh``, ``F.leaky_relu``) n'y sont pas.
    """
    calls = []

    def record(module, args, output):
        calls.append((module, output))

    handles = [m.register_forward_hook(record) for m in model.modules()
               if next(m.children(), None) is None]
    try:
        output = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return output, calls


def _layer_groups(calls):
    """Range les appels d'un :func:`_forward_trace` autour des couches ``nn.Linear``.

    Renvoie ``(avant, groupes)`` : ``avant``, les couches appelées avant la première Linear ;
    ``groupes``, une liste de ``(linear, sortie de la linear, couches appelées ensuite jusqu'à la
    Linear suivante)``. Les couches qui ne changent que la forme (Flatten, Unflatten, Identity)
    sont ignorées.
    """
    before, groups = [], []
    for module, output in calls:
        if isinstance(module, nn.Linear):
            groups.append((module, output, []))
        elif isinstance(module, _SHAPE_ONLY):
            continue
        elif groups:
            groups[-1][2].append(module)
        else:
            before.append(module)
    return before, groups


def _names(modules) -> str:
    """« LeakyReLU → Dropout », ou « rien » pour une liste vide."""
    return " → ".join(type(m).__name__ for m in modules) or "rien"


def _source_text(fn) -> str:
    """Le code source de ``fn`` (vide s'il est introuvable), pour adapter un message à ce qui est écrit."""
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def _check_gradients(model, output, name: str):
    """Rétropropage depuis ``output`` : échoue si un paramètre ne reçoit aucun gradient."""
    __tracebackhide__ = True
    model.zero_grad(set_to_none=True)
    output.float().mean().backward()
    dead = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    if dead:
        _fail(f"{name} : aucun gradient n'arrive aux paramètres {', '.join(dead[:4])}. Une couche "
              "créée dans __init__ n'est pas utilisée dans forward, ou le calcul est détaché "
              "(.detach(), .item(), numpy).")
    model.zero_grad(set_to_none=True)


# --- pertes et pas d'entraînement ------------------------------------------

def _bce(p: torch.Tensor, target: float) -> torch.Tensor:
    """L'entropie croisée binaire de référence, moyennée, vers une cible constante."""
    return nn.functional.binary_cross_entropy(p, torch.full_like(p, target))


def _as_scalar(value, what: str) -> torch.Tensor:
    """Échoue si une perte n'est pas un tenseur scalaire dérivable ; le renvoie de forme ()."""
    __tracebackhide__ = True
    if not isinstance(value, torch.Tensor):
        _fail(f"{what} doit renvoyer un tenseur PyTorch (pour pouvoir appeler .backward()), "
              f"il renvoie {type(value).__name__}. N'utilisez pas .item() ni numpy dans la perte.")
    if value.numel() != 1:
        _fail(f"{what} doit renvoyer un scalaire (la moyenne sur le mini-lot), reçu un tenseur de "
              f"forme {tuple(value.shape)}. Prenez la moyenne (reduction='mean', le défaut de nn.BCELoss, "
              "ou .mean() si vous écrivez les log à la main).")
    if not value.requires_grad:
        _fail(f"{what} a coupé le graphe de calcul : le résultat n'a pas de gradient. "
              "N'utilisez ni .detach(), ni .item(), ni torch.tensor(...) sur les probabilités.")
    return value.reshape(())


def _params(model):
    """Tous les poids du modèle, mis à plat en un seul vecteur (copie détachée)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _check_update(new, before, stale, references, who: str, opt: str, loss: str):
    """Les poids ont-ils bougé, et sans reprendre des gradients « périmés » ?"""
    __tracebackhide__ = True
    if torch.equal(new, before):
        _fail(f"Les poids du {who} n'ont pas bougé : appelez {loss}.backward() puis {opt}.step(), sans "
              f"remettre les gradients à zéro entre les deux ({opt}.zero_grad() se place avant "
              f"{loss}.backward()).")
    if torch.allclose(new, stale, atol=1e-6) and not any(torch.allclose(new, r, atol=1e-6) for r in references):
        _fail(f"Le {who} a utilisé des gradients restés d'avant : appelez {opt}.zero_grad() "
              f"avant {loss}.backward().")
