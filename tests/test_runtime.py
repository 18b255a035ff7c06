"""Graine, appareil, mode rapide, et import sans effet de bord."""

import subprocess
import sys

import pytest
import torch

from utils import runtime


def test_seed_is_reproducible():
    runtime.set_seed(123)
    a = (torch.randn(5), torch.rand(3))
    runtime.set_seed(123)
    b = (torch.randn(5), torch.rand(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    runtime.set_seed(124)
    assert not torch.equal(torch.randn(5), a[0])


def test_seed_rejects_non_int():
    with pytest.raises(TypeError, match="entier"):
        runtime.set_seed(1.5)


@pytest.mark.parametrize("value, expected", [("1", True), ("oui", True), ("0", False), ("", False)])
def test_quick_mode_variable(monkeypatch, value, expected):
    monkeypatch.setenv(runtime.QUICK_ENV_VAR, value)
    assert runtime.is_quick_mode() is expected
    assert runtime.quick_or_full("q", "f") == ("q" if expected else "f")


def test_conftest_sets_quick_mode_for_tests():
    import os

    assert os.environ.get("GANS_QUICK") is not None


def test_device_choice(monkeypatch):
    monkeypatch.delenv("GANS_DEVICE", raising=False)
    assert runtime.get_device("cpu") == torch.device("cpu")
    assert runtime.get_device().type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError, match="Appareil inconnu"):
        runtime.get_device("tpu")


def test_setup_prints_device_and_mode(capsys, monkeypatch):
    monkeypatch.setenv(runtime.QUICK_ENV_VAR, "1")
    device = runtime.setup(seed=0)
    out = capsys.readouterr().out
    assert f"Appareil : {device}" in out and "Mode : rapide" in out


def test_setup_can_force_the_cpu(capsys):
    assert runtime.setup(seed=0, device="cpu") == torch.device("cpu")
    assert "Appareil : cpu" in capsys.readouterr().out


def test_import_has_no_side_effects():
    """Importer utils ne fixe pas la graine et ne touche pas aux réglages de matplotlib."""
    code = (
        "import torch, matplotlib\n"
        "before = dict(matplotlib.rcParams)\n"
        "torch.manual_seed(5); a = torch.rand(1)\n"
        "torch.manual_seed(5)\n"
        "import utils\n"
        "b = torch.rand(1)\n"
        "assert torch.equal(a, b), 'utils a consommé ou changé l’aléa'\n"
        "assert dict(matplotlib.rcParams) == before, 'utils a changé matplotlib'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
