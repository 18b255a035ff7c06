"""Le socle des auto-vérifications (utils.checks.core) et l'organisation du paquet : un module
par jour, dont utils.checks réexporte chaque vérification."""

import importlib
import pkgutil
import re

import pytest
import torch
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
