"""Le socle commun des auto-vérifications, partagé par tous les jours.

* :class:`CheckError`, ``_fail`` et ``_ok`` : le verdict, ❌ levé ou ✅ imprimé ;
* :func:`describe_difference` : l'écart entre deux tenseurs, en une phrase ;
* ``_call`` : appelle le code de l'étudiant et traduit les erreurs de PyTorch
  (``_ERROR_HINTS``) en conseils ; ``_check_function`` refuse ce qui n'est pas une fonction ;
* ``_check_finite`` : refuse une sortie qui contient des NaN ou des infinis (toute
  comparaison avec NaN est fausse : sans lui, une sortie NaN passerait les tests de bornes) ;
* ``_untouched`` : rend le modèle de l'étudiant tel qu'il l'a donné (poids, tampons des
  BatchNorm, gradients, mode train/eval), même si la vérification échoue ;
* des sondes de modèles (couches présentes, tailles d'une pile de
  ``nn.Linear``, gradients qui arrivent bien à chaque paramètre, ``_backward`` qui
  rétropropage depuis une sortie de l'étudiant en traduisant ses erreurs) ;
* des outils pour les pertes et les pas d'entraînement (entropie croisée de
  référence, scalaire dérivable, poids mis à plat, mise à jour des poids).

Les noms qui commencent par ``_`` ne s'adressent pas aux étudiants : les
modules des jours les importent d'ici, mais ``utils.checks`` ne les réexporte pas.
"""

from __future__ import annotations

import inspect
import math
import numbers
from contextlib import contextmanager
from itertools import chain

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


#: Le temps qu'un appel du code de l'étudiant peut prendre dans une vérification, en secondes.
CALL_SECONDS = 60


class _TooLong(BaseException):
    """Levée par l'alarme quand un appel dépasse :data:`CALL_SECONDS` (hors ``Exception`` : un
    ``except Exception`` de l'étudiant ne l'avale pas)."""


@contextmanager
def _time_limit(seconds: float):
    """Lève :class:`_TooLong` si le bloc dure plus de ``seconds`` (alarme Unix, fil principal
    seulement ; ailleurs, sans limite). Un bloc imbriqué garde l'alarme du bloc extérieur."""
    import signal
    import threading
    if (not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread()
            or signal.getitimer(signal.ITIMER_REAL)[0] > 0):
        yield
        return

    def ring(signum, frame):
        raise _TooLong()
    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _call(fn, *args, what: str, explain=None, **kwargs):
    """Appelle le code de l'étudiant et traduit une exception en message clair.

    ``explain`` (facultatif) : une fonction qui reçoit l'exception et renvoie un conseil
    propre à l'exercice, ou ``None`` pour s'en remettre aux conseils généraux (``_ERROR_HINTS``).
    """
    __tracebackhide__ = True
    given = _given_tensors(fn, args, kwargs)
    kept = [(name, t, t.detach().clone()) for name, t in given]
    try:
        with _time_limit(CALL_SECONDS):
            result = fn(*args, **kwargs)
    except _TooLong:
        _fail(f"{what} n'a pas rendu la main en {CALL_SECONDS} s : une boucle sans fin ? (un while "
              "dont la condition ne devient jamais fausse, un range sur un nombre immense, un "
              "next() sur un itérateur qui ne s'arrête pas). Corrigez la boucle, puis relancez.")
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
                        "Lisez le message ci-dessus : la ligne à corriger est dans votre cellule, à "
                        "l'endroit de votre code que la trace désigne (les lignes de utils/ ne sont que "
                        "la vérification qui appelle votre code).")
        _fail(f"{what} a levé une erreur : {type(error).__name__} : {text.splitlines()[0]}\n{hint}")
    changed = [name for name, t, before in kept if not _same(t, before)]
    if changed:
        _fail(f"{what} a modifié en place ce qu'on lui a passé ({', '.join(changed)}) : l'appelant "
              "le retrouve changé (une image, un lot, un nuage de points abîmé pour la suite). "
              "N'écrivez pas dans une entrée (x -= ..., x.add_(...), x[...] = ..., x.data, "
              "fill_diagonal_ sur un argument) : calculez un nouveau tenseur (x = x - ...) ou "
              "travaillez sur une copie (x.clone()).")
    return result


def _class_parameters(model) -> set:
    """Les noms des paramètres du constructeur de la classe du modèle (vide s'ils sont illisibles) :
    une vérification reconstruit la classe avec d'autres tailles seulement si elle les accepte."""
    try:
        return set(inspect.signature(type(model)).parameters)
    except (TypeError, ValueError):
        return set()


def _given_tensors(fn, args, kwargs) -> list[tuple[str, torch.Tensor]]:
    """Les tenseurs passés à ``fn`` (au premier niveau, ou dans un tuple ou une liste), nommés
    comme ses paramètres quand c'est possible."""
    try:
        names = [n for n in inspect.signature(fn).parameters]
    except (TypeError, ValueError):
        names = []
    found = []
    for i, value in enumerate(args):
        name = names[i] if i < len(names) else f"argument n° {i + 1}"
        items = value if isinstance(value, (tuple, list)) else [value]
        found += [(name, t) for t in items if isinstance(t, torch.Tensor)]
    found += [(k, v) for k, v in kwargs.items() if isinstance(v, torch.Tensor)]
    return found


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Les deux tenseurs sont-ils identiques (NaN compris, à la même place) ?"""
    a = a.detach()
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num()))
    return bool(torch.equal(a, b))


def _check_pure_forward(model: nn.Module, inputs: tuple, name: str) -> None:
    """En mode évaluation, deux appels sur les mêmes entrées doivent donner la même sortie.

    Sinon ``forward`` tire du hasard (``torch.randn_like(z)`` au lieu de ``z``) : il n'utilise pas
    (seulement) ce qu'on lui donne. Les entrées ne doivent pas changer non plus (voir ``_call``).
    À appeler dans un bloc ``_untouched`` (le mode du modèle y est rendu).
    """
    __tracebackhide__ = True
    model.eval()
    with torch.no_grad(), torch.random.fork_rng():
        first = _call(model, *inputs, what=f"{name} (mode évaluation)")
        second = _call(model, *inputs, what=f"{name} (mode évaluation)")
    if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) and not (
            first.shape == second.shape and torch.allclose(first, second, atol=1e-6, equal_nan=True)):
        _fail(f"{name} : en mode évaluation (model.eval(), ni Dropout ni statistiques de lot), deux "
              "appels sur la même entrée donnent deux sorties différentes. forward tire du hasard "
              "(torch.randn_like, torch.rand...) au lieu de calculer à partir de ce qu'il reçoit : "
              "n'utilisez que son entrée, passée aux couches.")


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

_DTYPE_HINT = ("Deux tenseurs de types différents se rencontrent (Float = float32, Double = float64) : les "
               "modèles et les données du cours sont en float32. Retirez le .double() ou le "
               "dtype=torch.float64 (un tableau NumPy converti par torch.from_numpy reste en float64 : "
               "ajoutez .float()).")
_ERROR_HINTS.update(dict.fromkeys(
    ("must have the same dtype", "to have the same dtype", "type (double)", "did not match Float",
     "did not match Double", "expected scalar type"), _DTYPE_HINT))


def _check_function(fn, name: str) -> None:
    """Échoue si ``fn`` n'est pas une fonction qu'on peut appeler (None, une classe, un résultat)."""
    __tracebackhide__ = True
    if fn is None:
        _fail(f"On attend la fonction {name}, reçu None : exécutez la cellule qui la définit, puis "
              "passez la fonction elle-même, sans l'appeler (sans parenthèses ni arguments).")
    if inspect.isclass(fn):
        _fail(f"On attend la fonction {name}, reçu la classe {fn.__name__} : passez votre fonction "
              f"{name} elle-même, sans l'appeler.")
    if not callable(fn):
        _fail(f"On attend la fonction {name}, reçu un objet {type(fn).__name__} (un résultat ?) : "
              "passez la fonction elle-même, sans l'appeler (sans parenthèses ni arguments).")
    if isinstance(fn, nn.Module) and any(True for _ in fn.parameters()):
        _fail(f"On attend la fonction {name}, reçu un réseau ({type(fn).__name__}) : passez la "
              f"fonction {name} que vous avez écrite.")


def _int_arguments(**values) -> tuple[int, ...]:
    """Les arguments entiers d'une vérification (``z_dim``, ``n_hidden``...), convertis en ``int``.

    64.0, un entier NumPy ou un tenseur d'un seul entier sont acceptés ; le reste (une chaîne, 2.5,
    0) échoue avec un message clair au lieu d'une erreur de ``torch.randn`` plus loin.
    """
    __tracebackhide__ = True
    sizes = []
    for name, value in values.items():
        number = value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value
        if (isinstance(number, bool) or not isinstance(number, numbers.Real) or not math.isfinite(number)
                or number != int(number) or number < 1):
            _fail(f"L'argument {name} de la vérification doit être un entier positif (une taille), "
                  f"reçu {value!r} : passez par exemple {name}=64.")
        sizes.append(int(number))
    return tuple(sizes)


# --- sorties qui ne sont pas des nombres finis -----------------------------

_NON_FINITE_CAUSES = ("D'habitude, ils viennent d'une division par zéro, d'un log de 0 (ou d'un nombre "
                      "négatif), d'une racine carrée d'un nombre négatif, ou de poids qui ont déjà divergé.")

# Des poids NaN après un pas d'entraînement de l'étudiant (jours 1 à 3).
_STEP_DIVERGED = "Le pas a divergé : une perte a sans doute renvoyé NaN ou l'infini."


def _diverged(model: nn.Module) -> list[str]:
    """Les noms des poids et tampons du modèle qui contiennent des NaN ou des infinis."""
    return [name for name, t in chain(model.named_parameters(), model.named_buffers())
            if t.is_floating_point() and not torch.nn.parameter.is_lazy(t) and not torch.isfinite(t).all()]


def _check_finite(value, what: str, model: nn.Module | None = None, hint: str = "") -> None:
    """Échoue si ``value`` (un tenseur ou un nombre) contient des NaN ou des infinis.

    Toute comparaison avec NaN est fausse : sans ce contrôle, une sortie NaN passerait des tests
    de bornes (« dans [-1, 1] ») ou en ferait échouer d'autres pour une fausse raison.
    ``what`` complète « dans » : « la sortie du générateur ». ``model`` : le réseau qui a produit
    ``value``, pour dire si ses poids ont déjà divergé ; ``hint`` : la cause la plus probable
    dans cet exercice, dite avant les causes habituelles.
    """
    __tracebackhide__ = True
    values = torch.as_tensor(value).detach()
    bad = ~torch.isfinite(values)
    if not bad.any():
        return
    shown = str(values.item()) if values.numel() == 1 else f"{int(bad.sum())} valeurs sur {values.numel()}"
    start = (f"Des NaN ou des infinis dans {what} ({shown}) : toute comparaison avec NaN est fausse, "
             "la vérification ne peut rien en juger.")
    diverged = _diverged(model) if model is not None else []
    if diverged:
        _fail(f"{start} Les poids du modèle en contiennent déjà ({', '.join(diverged[:3])}) : un "
              "entraînement précédent a divergé. Recréez le modèle (réexécutez la cellule qui le "
              "construit) avant de relancer la vérification ; si l'entraînement diverge encore, "
              "baissez le taux d'apprentissage.")
    _fail(f"{start} {hint + ' ' if hint else ''}{_NON_FINITE_CAUSES} Cherchez l'opération en cause "
          "dans votre code.")


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
        _fail(f"On attend un modèle construit pour {name}, pas la classe : passez {model.__name__}() "
              f"(avec les parenthèses).")
    if not isinstance(model, nn.Module):
        _fail(f"On attend un modèle PyTorch (nn.Module) pour {name}, reçu : {type(model).__name__}.")
    if not any(True for _ in model.parameters()):
        _fail(f"{name} n'a aucun paramètre : avez-vous créé les couches dans __init__ "
              "et appelé super().__init__() ?")
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()} - {torch.get_default_dtype()}
    if dtypes:
        _fail(f"{name[0].upper()}{name[1:]} a des poids de type {', '.join(sorted(map(str, dtypes)))}, "
              f"alors que les données du cours sont en {torch.get_default_dtype()} : retirez le "
              ".double() (ou le .to(dtype=...)) qui a changé leur type.")


def _sizes(layers: list[nn.Linear]) -> str:
    """Les tailles successives d'une pile de couches, « 784 → 256 → 1 »."""
    return " → ".join([str(layers[0].in_features)] + [str(m.out_features) for m in layers]) if layers else "aucune"


def _check_linear_stack(model, name: str, in_features: int, out_features: int, n_linear: int):
    """Vérifie le nombre de couches ``nn.Linear`` et les tailles d'entrée et de sortie ;
    renvoie les tailles, « 784 → 256 → 1 »."""
    __tracebackhide__ = True
    layers = _linear_in_call_order(model)   # dans l'ordre où forward les appelle
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


@contextmanager
def _untouched(model: nn.Module):
    """Rend, à la sortie du bloc, le modèle de l'étudiant tel qu'il l'a donné, même si le bloc échoue.

    Une vérification fait passer des lots (les BatchNorm mettent à jour leurs statistiques
    courantes en mode train), rétropropage (les ``.grad``) et change de mode (``train``/``eval``) :
    on sauvegarde les poids et tampons, les gradients et le mode de chaque sous-module, puis on les
    remet. Les tenseurs sont retrouvés par leur nom : un tampon que ``forward`` remplace est remis lui aussi.
    """
    def tensors():
        return {name: t for name, t in chain(model.named_parameters(), model.named_buffers())
                if not torch.nn.parameter.is_lazy(t)}

    values = {name: t.detach().clone() for name, t in tensors().items()}
    grads = {name: None if p.grad is None else p.grad.detach().clone() for name, p in model.named_parameters()}
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield model
    finally:
        current = tensors()
        with torch.no_grad():  # seulement ce qui a changé : un graphe déjà construit reste valable
            for name, value in values.items():
                if name in current and current[name].shape == value.shape and not torch.equal(
                        current[name], value):
                    current[name].copy_(value)
        for name, p in model.named_parameters():
            if name in grads:
                p.grad = grads[name]
        for module, training in modes:
            module.training = training


def _backward(value: torch.Tensor, what: str, where: str = "dans votre code") -> None:
    """Rétropropage depuis ``value``, calculé par le code de l'étudiant, en traduisant les erreurs.

    ``what`` nomme ce qui l'a calculé (« Générateur », « vae_loss ») ; ``where`` dit où chercher
    ce qui coupe le graphe.
    """
    __tracebackhide__ = True
    if not value.requires_grad:
        _fail(f"{what} : la sortie est détachée du graphe de calcul, aucun gradient ne peut donc "
              "remonter jusqu'aux poids (l'entraînement ne les changerait pas). Cherchez "
              f"{where} ce qui coupe le graphe : .detach(), with torch.no_grad(), .item(), .numpy() "
              "ou torch.tensor(...) sur un résultat (ou des paramètres gelés par requires_grad=False).")

    def explain(error):
        if "modified by an inplace operation" in str(error):
            return ("Une opération en place (x += ..., x.add_(...), x[...] = ..., une activation "
                    "inplace=True) modifie un tenseur dont le calcul du gradient a encore besoin : "
                    "écrivez x = x + ... au lieu de x += ..., ou retirez inplace=True.")
        return None

    _call(value.backward, what=f"{what} : la rétropropagation (.backward())", explain=explain)


def _check_gradients(model, output, name: str):
    """Rétropropage depuis ``output`` : échoue si la sortie est détachée ou si un paramètre ne
    reçoit aucun gradient."""
    __tracebackhide__ = True
    model.zero_grad(set_to_none=True)
    _backward(output.float().mean(), name, "dans forward")
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


def _as_scalar(value, what: str, hint: str = "") -> torch.Tensor:
    """Échoue si une perte n'est pas un tenseur scalaire, fini et dérivable ; le renvoie de forme ().

    ``hint`` : la cause la plus probable d'un NaN dans cet exercice (voir :func:`_check_finite`).
    """
    __tracebackhide__ = True
    if isinstance(value, (tuple, list)):
        _fail(f"{what} doit renvoyer un seul tenseur, la perte ; il renvoie un {type(value).__name__} de "
              f"{len(value)} éléments. Renvoyez seulement la perte (une virgule en trop après return ?).")
    if not isinstance(value, torch.Tensor):
        _fail(f"{what} doit renvoyer un tenseur PyTorch (pour pouvoir appeler .backward()), "
              f"il renvoie {type(value).__name__}. N'utilisez pas .item() ni numpy dans la perte.")
    if value.numel() != 1:
        _fail(f"{what} doit renvoyer un scalaire (la moyenne sur le mini-lot), reçu un tenseur de "
              f"forme {tuple(value.shape)}. Prenez la moyenne (reduction='mean', le défaut de nn.BCELoss, "
              "ou .mean() si vous écrivez les log à la main).")
    _check_finite(value, f"la valeur renvoyée par {what}", hint=hint)
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


# --- le réseau jugé sur ce qu'il calcule -----------------------------------

_WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.Embedding)


class _ReferenceMLP(nn.Module):
    """Le réseau de l'énoncé : des couches ``Linear`` aux tailles ``sizes``, chaque couche cachée
    suivie (dans l'ordre) d'une BatchNorm1d si ``batchnorm``, de ``hidden()``, d'un Dropout si
    ``dropout`` ; la dernière suivie de ``final()`` si donné. ``prepare`` met les entrées en un
    seul tenseur (N, sizes[0]) ; ``out_shape`` remet la sortie en forme."""

    def __init__(self, sizes, hidden, batchnorm=False, dropout=0.0, final=None, prepare=None,
                 out_shape=None):
        super().__init__()
        layers = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            layers.append(nn.Linear(a, b))
            if batchnorm:
                layers[-1]._before_batchnorm = True   # son biais peut manquer (voir _copy_weights)
                layers.append(nn.BatchNorm1d(b))
            layers.append(hidden())
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        if final is not None:
            layers.append(final())
        self.net = nn.Sequential(*layers)
        self.prepare = prepare or (lambda x: x.flatten(1))
        self.out_shape = out_shape

    def forward(self, *inputs):
        out = self.net(self.prepare(*inputs))
        return out if self.out_shape is None else out.view(-1, *self.out_shape)


def _call_order(model: nn.Module, inputs: tuple | None, strict: bool = False) -> list[nn.Module] | None:
    """Les sous-modules feuilles du modèle dans l'ordre où ``forward`` les appelle (un passage sans
    gradient, en mode évaluation, modèle rendu tel quel), suivis de ceux qu'il n'appelle pas, dans
    l'ordre de création. Sans entrées, ou si le passage échoue : l'ordre de création (``None`` si
    ``strict``). Une couche de sortie créée avant les couches cachées est ainsi lue à sa place."""
    created = [m for m in model.modules() if next(m.children(), None) is None]
    if inputs is None:
        return created
    seen: list[nn.Module] = []
    handles = [m.register_forward_hook(lambda module, args, output: seen.append(module)) for m in created]
    training = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad(), torch.random.fork_rng():
            model(*inputs)
    except Exception:  # noqa: BLE001 - l'appel lui-même dira plus loin ce qui ne va pas
        return None if strict else created
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in training:
            module.training = mode
    ordered = list(dict.fromkeys(seen))
    return ordered + [m for m in created if m not in ordered]


def _linear_in_call_order(model: nn.Module, *inputs) -> list[nn.Linear]:
    """Les couches ``nn.Linear`` dans l'ordre où ``forward`` les appelle (voir :func:`_call_order`).

    Sans entrées, un lot de deux entrées nulles est essayé pour chaque largeur d'entrée possible
    (celle d'une des couches Linear, ou des images (1, 28, 28)) ; si aucun ne passe, l'ordre de
    création."""
    if inputs:
        return [m for m in _call_order(model, inputs) if isinstance(m, nn.Linear)]
    created = _linear_layers(model)
    try:
        device = next(model.parameters()).device
    except StopIteration:
        return created
    shapes = [(2, w) for w in dict.fromkeys(m.in_features for m in created)] + [(2, 1, 28, 28)]
    for shape in shapes:
        order = _call_order(model, (torch.zeros(shape, device=device),), strict=True)
        if order is not None:
            return [m for m in order if isinstance(m, nn.Linear)]
    return created


def _weighted_layers(model: nn.Module, inputs: tuple | None = None) -> dict:
    """Les couches à poids du modèle, rangées par type, dans l'ordre où ``forward`` les appelle
    (l'ordre de création sans ``inputs``)."""
    order = _call_order(model, inputs)
    return {kind: [m for m in order if type(m) is kind] for kind in _WEIGHTED}


def _copy_weights(student: nn.Module, reference: nn.Module, inputs: tuple | None = None) -> str:
    """Copie les poids et tampons de l'étudiant dans la référence, couche par couche de même type,
    dans l'ordre où ``forward`` les appelle (``inputs``). Une couche Linear sans biais est acceptée
    juste avant une BatchNorm (qui retire tout biais) : la référence y reçoit un biais nul.

    Renvoie ``""``, ou la différence de couches qui empêche la copie (en français)."""
    mine, wanted = _weighted_layers(student, inputs), _weighted_layers(reference, inputs)
    for kind in _WEIGHTED:
        if len(mine[kind]) != len(wanted[kind]):
            return (f"{len(wanted[kind])} couche(s) nn.{kind.__name__} attendue(s), "
                    f"{len(mine[kind])} trouvée(s)")
        for rank, (a, b) in enumerate(zip(mine[kind], wanted[kind]), start=1):
            shapes_a = {k: tuple(v.shape) for k, v in a.state_dict().items()}
            shapes_b = {k: tuple(v.shape) for k, v in b.state_dict().items()}
            unbiased = getattr(b, "_before_batchnorm", False) and shapes_b.keys() - shapes_a.keys() == {"bias"}
            if shapes_a != shapes_b and not (unbiased and all(shapes_b[k] == v for k, v in shapes_a.items())):
                what = "sans biais" if "bias" in shapes_b and "bias" not in shapes_a else "de tailles"
                return (f"la couche nn.{kind.__name__} n° {rank} est {what} {shapes_a} au lieu de "
                        f"{shapes_b}")
    with torch.no_grad():
        for kind in _WEIGHTED:
            for a, b in zip(mine[kind], wanted[kind]):
                state = dict(a.state_dict())
                if "bias" not in state and "bias" in b.state_dict():
                    state["bias"] = torch.zeros_like(b.bias)
                b.load_state_dict(state)
    return ""


def _gap(student: nn.Module, reference: nn.Module, inputs: tuple, seed: int = 0) -> float:
    """Le plus grand écart entre les sorties de l'étudiant et de la référence (poids copiés), en
    mode entraînement (mêmes tirages de Dropout, statistiques du lot) puis en mode évaluation.
    Les deux modèles sont laissés en mode évaluation ; à appeler dans un bloc ``_untouched``."""
    worst = 0.0
    for training in (True, False):
        student.train(training)
        reference.train(training)
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(seed)
            got = student(*inputs)
            torch.manual_seed(seed)
            expected = reference(*inputs)
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return float("inf")
        if not torch.isfinite(got).all():
            return float("inf")
        worst = max(worst, (got.float() - expected).abs().max().item())
    return worst


def _output_layer(model: nn.Module, inputs: tuple | None = None):
    """La dernière couche Linear ou convolution (avec biais) appelée par ``forward`` : la couche de
    sortie."""
    layers = [m for m in _call_order(model, inputs) if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))
              and m.bias is not None]
    return layers[-1] if layers else None


def _gap_both_signs(student: nn.Module, reference: nn.Module, inputs: tuple) -> float:
    """:func:`_gap` avec les poids de l'étudiant, puis avec le biais de sortie décalé pour que les
    sorties (avant l'activation finale) soient de part et d'autre de 0 : une valeur absolue, une
    ReLU ou une borne ajoutée en sortie ne se voit que sur des sorties négatives."""
    worst = _gap(student, reference, inputs)
    mine, theirs = _output_layer(student, inputs), _output_layer(reference, inputs)
    if worst > 1e-4 or mine is None or theirs is None or mine.bias.shape != theirs.bias.shape:
        return worst
    with torch.no_grad():
        probe = {}
        hook = theirs.register_forward_hook(lambda module, args, output: probe.setdefault("out", output))
        reference.eval()
        reference(*inputs)
        hook.remove()
        out = probe["out"].transpose(0, 1).flatten(1) if probe["out"].dim() > 1 else probe["out"][None]
        shift = out.median(dim=1).values
        saved = mine.bias.detach().clone()
        mine.bias.sub_(shift.to(mine.bias.dtype))
        theirs.bias.copy_(mine.bias)
    try:
        return _gap(student, reference, inputs)
    finally:
        with torch.no_grad():
            mine.bias.copy_(saved)
            theirs.bias.copy_(saved)


def _matching_variant(student: nn.Module, build, inputs: tuple, variants: dict) -> str | None:
    """La description de la première variante de ``build`` qui reproduit, poids copiés, la sortie
    de l'étudiant ; ``None`` si aucune. À appeler dans un bloc ``_untouched``."""
    device = next(student.parameters()).device
    with torch.random.fork_rng():
        for description, options in variants.items():
            other = build(**options).to(device)
            if not _copy_weights(student, other, inputs) and _gap_both_signs(student, other, inputs) <= 1e-4:
                return description
    return None


def _check_behaves_like(student: nn.Module, build, inputs: tuple, name: str, recipe: str,
                        variants: dict | None = None, accepted: tuple = ()) -> None:
    """Juge le réseau de l'étudiant sur ce qu'il calcule, pas sur la façon dont il est écrit.

    ``build(**options)`` construit le réseau de l'énoncé (``_ReferenceMLP`` par exemple) ; ses
    poids sont copiés depuis ceux de l'étudiant, puis les deux sorties sont comparées sur
    ``inputs``, en mode entraînement et en mode évaluation. Une activation écrite comme fonction
    (``F.leaky_relu(x, 0.2)``) est donc acceptée ; une activation oubliée, de la mauvaise pente,
    ajoutée en sortie, une entrée ignorée ne le sont pas. ``variants`` : {description de l'erreur :
    options de ``build``} ; la première qui reproduit la sortie de l'étudiant nomme son erreur.
    ``accepted`` : d'autres options de ``build`` qui sont justes aussi. À appeler dans un bloc
    ``_untouched``.
    """
    __tracebackhide__ = True
    with torch.random.fork_rng():   # les couches de référence tirent leurs poids : l'aléa du notebook reste
        _compare_with_reference(student, build, inputs, name, recipe, variants or {}, accepted)


def _compare_with_reference(student, build, inputs, name, recipe, variants, accepted) -> None:
    __tracebackhide__ = True
    device = next(student.parameters()).device
    reference = build().to(device)
    problem = _copy_weights(student, reference, inputs)
    if problem:
        _fail(f"{name} : ses couches ne sont pas celles de l'énoncé ({problem}). Attendu : {recipe}.")
    gap = _gap_both_signs(student, reference, inputs)
    if gap <= 1e-4:
        return
    for options in accepted:
        other = build(**options).to(device)
        if not _copy_weights(student, other, inputs) and _gap_both_signs(student, other, inputs) <= 1e-4:
            return
    for description, options in variants.items():
        other = build(**options).to(device)
        if not _copy_weights(student, other, inputs) and _gap_both_signs(student, other, inputs) <= 1e-4:
            _fail(f"{name} : à poids égaux, il calcule exactement ce que calculerait le réseau de "
                  f"l'énoncé avec {description}. Attendu : {recipe}.")
    _fail(f"{name} : à poids égaux, il ne calcule pas ce que calcule le réseau de l'énoncé (écart "
          f"jusqu'à {gap:.3g}). Attendu : {recipe}. Vérifiez les activations (module ou fonction, "
          "et leur pente), leur place, l'ordre des couches, et que forward utilise chacune de ses "
          "entrées telle quelle.")


_HIDDEN_ACTIVATIONS = {
    "nn.ReLU()": nn.ReLU,
    "nn.LeakyReLU(0.2)": lambda: nn.LeakyReLU(0.2),
    "nn.LeakyReLU() (pente 0,01, la valeur par défaut)": nn.LeakyReLU,
    "une sigmoïde": nn.Sigmoid,
    "une tanh": nn.Tanh,
    "aucune activation": nn.Identity,
}
_FINAL_ACTIVATIONS = {"aucune activation": None, "une ReLU": nn.ReLU, "une tanh": nn.Tanh,
                      "une sigmoïde": nn.Sigmoid}


def _activation_variants(hidden: str, final: str) -> dict:
    """Les erreurs d'activation à reconnaître : chaque autre activation cachée, puis chaque autre
    activation de sortie (``hidden`` et ``final`` : les clés attendues de ``_HIDDEN_ACTIVATIONS``
    et ``_FINAL_ACTIVATIONS``)."""
    variants = {f"{name} après chaque couche cachée (au lieu de {hidden})": {"hidden": act}
                for name, act in _HIDDEN_ACTIVATIONS.items() if name != hidden}
    variants.update({f"{name} en sortie (au lieu de {final})": {"final": act}
                     for name, act in _FINAL_ACTIVATIONS.items() if name != final})
    return variants
