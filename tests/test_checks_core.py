"""Le socle des auto-vérifications (utils.checks.core) et l'organisation du paquet : un module
par jour, dont utils.checks réexporte chaque vérification."""

import importlib
import pkgutil
import re

import pytest
import torch
from helpers import assert_same_state, lived_in
from torch import nn

import utils
from utils import checks
from utils.checks import CheckError, core, describe_difference

DAY_MODULES = sorted(name for _, name, _ in pkgutil.iter_modules(checks.__path__)
                     if name.startswith("jour_"))


# --- le paquet ---------------------------------------------------------------------

def test_the_package_holds_the_core_and_one_module_per_day():
    names = [name for _, name, _ in pkgutil.iter_modules(checks.__path__)]
    assert "core" in names and DAY_MODULES
    assert all(re.fullmatch(r"jour_\d\d", name) for name in names if name != "core"), names


@pytest.mark.parametrize("day", DAY_MODULES)
def test_every_check_of_a_day_is_exported_by_the_package(day):
    module = importlib.import_module(f"utils.checks.{day}")
    own = {name for name, value in vars(module).items()
           if name.startswith("check_") and getattr(value, "__module__", None) == module.__name__}
    assert own, f"{day} ne définit aucune vérification"
    assert own <= set(module.__all__), f"absentes de {day}.__all__ : {sorted(own - set(module.__all__))}"
    for name in module.__all__:
        assert getattr(checks, name) is getattr(module, name), f"utils.checks.{name} manquant"
        assert name in checks.__all__


def test_day_3_reuses_the_day_1_checks_without_options_on_day_1():
    import inspect

    from utils.checks import jour_01, jour_03

    assert jour_03._train_step_outcomes is jour_01._train_step_outcomes
    assert jour_03._discriminator_loss_value is jour_01._discriminator_loss_value
    assert list(inspect.signature(jour_01.check_train_step).parameters) == ["train_step"]
    assert list(inspect.signature(jour_01.check_discriminator_loss).parameters) == ["loss_fn"]


def test_check_error_is_shared():
    assert utils.CheckError is CheckError is core.CheckError
    assert issubclass(CheckError, AssertionError)


# --- describe_difference -----------------------------------------------------------

@pytest.mark.parametrize("got, expected, text", [
    (torch.ones(3), torch.ones(3), "identique"),
    (torch.zeros(0), torch.zeros(0), "identique"),
    (torch.ones(3, dtype=torch.float64) + 1e-8, torch.ones(3), "égal à la précision près (écart max 1.0e-08)"),
    (torch.tensor([1.0, 2.5]), torch.tensor([1.0, 2.0]), "écart max 0.5"),
    (torch.ones(2, 3), torch.ones(3), "formes différentes : (2, 3) au lieu de (3,)"),
], ids=["identique", "vides", "precision", "ecart", "formes"])
def test_describe_difference(got, expected, text):
    assert describe_difference(got, expected) == text


# --- _call : le code de l'étudiant et ses erreurs ---------------------------------

def test_call_returns_the_result():
    assert core._call(lambda a, b=0: a + b, 1, b=2, what="f") == 3


def _raise(error):
    def fn(*args, **kwargs):
        raise error
    return fn


@pytest.mark.parametrize("error, message", [
    (NotImplementedError("Exercice 1"), "^❌ f\\(x\\) n'est pas encore écrit"),
    (RuntimeError("Expected all tensors to be on the same device, but found cpu and cuda:0"),
     "^❌ f\\(x\\) a levé une erreur : RuntimeError : Expected all.*\nUn tenseur .*device=real\\.device"),
    (ValueError("autre chose\ndeuxième ligne"),
     "^❌ f\\(x\\) a levé une erreur : ValueError : autre chose\nLisez le message ci-dessus"),
    (CheckError("❌ message d'origine"), "^❌ message d'origine$"),
], ids=["stub", "conseil", "sans-conseil", "check-error"])
def test_call_translates_errors(error, message):
    with pytest.raises(CheckError, match=message):
        core._call(_raise(error), what="f(x)")


# --- sondes des modèles ------------------------------------------------------------

@pytest.mark.parametrize("model, message", [
    (nn.Linear, r"pas la classe : passez Linear\(\)"),
    ("modèle", "nn.Module\\) pour le modèle, reçu : str"),
    (nn.ReLU(), "le modèle n'a aucun paramètre"),
], ids=["classe", "pas-un-module", "sans-parametres"])
def test_check_module(model, message):
    with pytest.raises(CheckError, match=message):
        core._check_module(model, "le modèle")


def test_check_gradients_names_the_unused_layer():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.forgotten = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x):
            return self.used(x)

    model = Unused()
    core._check_gradients(model.used, model(torch.ones(1, 2)), "Modèle")
    with pytest.raises(CheckError, match="aux paramètres forgotten.weight, forgotten.bias"):
        core._check_gradients(model, model(torch.ones(1, 2)), "Modèle")


def test_argument_order_judges_only_the_names_of_the_statement():
    from utils.checks.core import _check_argument_order

    expected = ["real", "generator", "discriminator"]
    _check_argument_order(lambda real, generator, discriminator, extra=0: None, expected, "f")
    _check_argument_order(lambda x, g, d: None, expected, "f")          # autres noms : l'appel jugera
    _check_argument_order(lambda *args, **kwargs: None, expected, "f")
    with pytest.raises(CheckError, match=r"Ordre attendu : f\(real, generator, discriminator\)"):
        _check_argument_order(lambda generator, real, discriminator: None, expected, "f")


# --- _call : un conseil propre à l'exercice, et les conseils généraux ajoutés ------------

def test_call_prefers_the_exercise_hint_then_falls_back():
    error = RuntimeError("mat1 and mat2 shapes cannot be multiplied (8x64 and 4x16)")
    with pytest.raises(CheckError, match="\nconseil de l'exercice$"):
        core._call(_raise(error), what="f(x)", explain=lambda e: "conseil de l'exercice")
    with pytest.raises(CheckError, match="in_features est égal au out_features"):
        core._call(_raise(error), what="f(x)", explain=lambda e: None)


@pytest.mark.parametrize("make, message", [
    (lambda: nn.BatchNorm2d(4)(torch.ones(2, 4)), r"utilisez nn.BatchNorm1d\(taille\)"),
    (lambda: nn.BatchNorm1d(4)(torch.ones(2, 4, 3, 3)), r"utilisez nn.BatchNorm2d\(canaux\)"),
    (lambda: nn.BatchNorm1d(3)(torch.ones(2, 4)), "n'a pas la taille de la couche qui la précède"),
    (lambda: torch.ones(8).item(), r"d_real.mean\(\).item\(\)"),
    (lambda: torch.ones(8, requires_grad=True).mul(2).backward(), r"prenez-en la moyenne \(.mean\(\)"),
    (lambda: nn.BCELoss()(torch.full((4, 1), 0.5), torch.ones(4)), "même forme que la prédiction"),
    (lambda: (1.0).backward(), r"\.item\(\) a été appelé trop tôt"),
    (lambda: undefined_name, "n'existe pas"),  # noqa: F821 - l'erreur d'un étudiant
], ids=["bn2d-sur-vecteurs", "bn1d-sur-images", "bn-taille", "item", "backward-non-scalaire", "cible-forme",
        "item-trop-tot", "nom-inconnu"])
def test_pytorch_errors_are_translated(make, message):
    with pytest.raises(CheckError, match=message):
        core._call(make, what="f(x)")


# --- _forward_trace : les couches appelées, dans l'ordre -----------------------------

def test_forward_trace_follows_calls_not_creation_and_removes_its_hooks():
    class Explicit(nn.Module):
        def __init__(self):
            super().__init__()
            self.act, self.first, self.second = nn.LeakyReLU(0.2), nn.Linear(3, 4), nn.Linear(4, 2)

        def forward(self, x):
            return torch.tanh(self.second(self.act(self.first(x.flatten(1)))))

    model = Explicit()
    out, calls = core._forward_trace(model, torch.ones(5, 3))
    assert [type(m).__name__ for m, _ in calls] == ["Linear", "LeakyReLU", "Linear"]
    assert torch.equal(calls[-1][1].tanh(), out)
    before, groups = core._layer_groups(calls)
    assert before == [] and [len(after) for _, _, after in groups] == [1, 0]
    assert all(not m._forward_hooks for m in model.modules())


def test_source_text_is_empty_when_unavailable():
    assert "def test_source_text" in core._source_text(test_source_text_is_empty_when_unavailable)
    assert core._source_text(len) == ""


def test_missing_forward_is_not_called_a_stub():
    class Typo(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Linear(2, 1)

        def foward(self, x):
            return self.net(x)

    with pytest.raises(CheckError, match=r"n'a pas de méthode forward.*def forward\(self, x\)"):
        core._call(Typo(), torch.ones(1, 2), what="Le modèle")


# --- sorties non finies, sorties détachées, modèle rendu intact ------------------------

def test_check_finite_refuses_nan_and_infinity_and_names_the_usual_causes():
    core._check_finite(torch.tensor([0.0, -1.5, 3.0]), "la sortie")
    core._check_finite(0.25, "la perte")
    with pytest.raises(CheckError, match=r"^❌ Des NaN ou des infinis dans la sortie \(2 valeurs sur 3\).*"
                                         r"division par zéro.*log de 0.*racine carrée"):
        core._check_finite(torch.tensor([float("nan"), 1.0, float("-inf")]), "la sortie")
    with pytest.raises(CheckError, match=r"dans la perte \(inf\).*cause propre.*D'habitude"):
        core._check_finite(float("inf"), "la perte", hint="cause propre.")


def test_check_finite_says_when_the_weights_have_already_diverged():
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(CheckError, match=r"Les poids du modèle en contiennent déjà \(weight\).*divergé.*"
                                         r"Recréez le modèle"):
        core._check_finite(model(torch.ones(3, 2)), "la sortie", model)


def test_untouched_gives_the_model_back_as_it_was_even_after_a_failure():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 1))
    before = lived_in(model)
    with pytest.raises(CheckError, match="échec au milieu"):
        with core._untouched(model):
            model.train()
            model(torch.randn(8, 3)).mean().backward()          # statistiques des BatchNorm, .grad
            model.zero_grad(set_to_none=True)
            with torch.no_grad():
                model[0].weight.add_(1.0)
            core._fail("échec au milieu")
    assert_same_state(model, before)
    assert model[1].num_batches_tracked.item() == 0


def test_check_gradients_names_a_detached_output_instead_of_crashing():
    model = nn.Linear(2, 1)
    for output in (model(torch.ones(1, 2)).detach(), torch.zeros(1, 1)):
        with pytest.raises(CheckError, match=r"^❌ Modèle : la sortie est détachée du graphe de calcul.*"
                                             r"dans forward.*\.detach\(\), with torch\.no_grad\(\)"):
            core._check_gradients(model, output, "Modèle")


def test_backward_translates_an_inplace_change_of_a_saved_tensor():
    x = torch.ones(3, requires_grad=True)
    y = torch.sigmoid(x)
    loss = y.sum()
    y.add_(1.0)  # la sigmoïde a besoin de sa sortie pour le gradient
    with pytest.raises(CheckError, match=r"^❌ perte : la rétropropagation \(\.backward\(\)\) a levé une "
                                         r"erreur.*\nUne opération en place"):
        core._backward(loss, "perte")


@pytest.mark.parametrize("fn, message", [
    (None, r"^❌ On attend la fonction f, reçu None : exécutez la cellule"),
    (nn.Linear, r"reçu la classe Linear : passez votre fonction f elle-même"),
    (torch.ones(1), r"reçu un objet Tensor \(un résultat \?\) : passez la fonction elle-même, sans l'appeler"),
    (nn.Linear(2, 1), r"reçu un réseau \(Linear\) : passez la fonction f que vous avez écrite"),
], ids=["none", "classe", "resultat", "reseau"])
def test_check_function_refuses_what_cannot_be_called(fn, message):
    with pytest.raises(CheckError, match=message):
        core._check_function(fn, "f")


def test_check_function_accepts_functions_and_callable_modules():
    core._check_function(len, "f")
    core._check_function(nn.BCELoss(), "f")


def test_as_scalar_names_a_tuple_and_a_nan():
    value = torch.ones((), requires_grad=True)
    with pytest.raises(CheckError, match=r"perte doit renvoyer un seul tenseur.*tuple de 2 éléments.*virgule"):
        core._as_scalar((value, 1.0), "perte")
    with pytest.raises(CheckError, match=r"Des NaN ou des infinis dans la valeur renvoyée par perte \(nan\)"):
        core._as_scalar(value * float("nan"), "perte")


def test_a_model_of_another_dtype_is_refused_clearly():
    with pytest.raises(CheckError, match=r"^❌ Le modèle a des poids de type torch\.float64, alors que les "
                                         r"données du cours sont en torch\.float32 : retirez le \.double\(\)"):
        core._check_module(nn.Linear(2, 1).double(), "le modèle")


def test_mismatched_dtypes_are_explained():
    with pytest.raises(CheckError, match=r"Float = float32, Double = float64.*Retirez le \.double\(\)"):
        core._call(nn.Linear(2, 1), torch.ones(1, 2, dtype=torch.float64), what="f(x)")


def test_int_arguments_accept_integral_values_and_refuse_the_rest():
    import numpy as np

    assert core._int_arguments(a=64, b=64.0, c=np.int64(3), d=torch.tensor(2)) == (64, 64, 3, 2)
    for bad in ("64", 2.5, 0, True, float("nan")):
        with pytest.raises(CheckError, match=r"^❌ L'argument z_dim de la vérification doit être un entier "
                                             r"positif \(une taille\), reçu .* : passez par exemple z_dim=64"):
            core._int_arguments(z_dim=bad)
