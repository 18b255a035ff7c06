"""Graine, appareil (et GANS_DEVICE), mode rapide, racine du dépôt, et import sans effet de bord."""

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from utils import runtime

#: Le vrai dépôt (lu avant qu'un test ne déplace ``runtime.__file__``).
REPO = Path(runtime.__file__).resolve().parent.parent


def test_seed_is_reproducible():
    runtime.set_seed(123)
    a = (torch.randn(5), torch.rand(3))
    runtime.set_seed(123)
    b = (torch.randn(5), torch.rand(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    runtime.set_seed(124)
    assert not torch.equal(torch.randn(5), a[0])


def test_seed_fixes_random_and_numpy_too():
    runtime.set_seed(7)
    first = (random.random(), random.randint(0, 10**9), np.random.rand(3), np.random.randint(10**9))
    runtime.set_seed(7)
    again = (random.random(), random.randint(0, 10**9), np.random.rand(3), np.random.randint(10**9))
    assert first[:2] == again[:2] and np.array_equal(first[2], again[2]) and first[3] == again[3]
    runtime.set_seed(8)
    assert random.random() != first[0] and not np.array_equal(np.random.rand(3), first[2])


def test_seed_accepts_large_and_negative_integers():
    for seed in (2**40, -1):
        runtime.set_seed(seed)
        a = (random.random(), np.random.rand(), torch.rand(1))
        runtime.set_seed(seed)
        assert (random.random(), np.random.rand()) == a[:2] and torch.equal(torch.rand(1), a[2])


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
    with pytest.raises(ValueError, match="Appareil inconnu : 'tpu' \\(demandé dans le notebook\\)"):
        runtime.get_device("tpu")


@pytest.fixture
def machine(monkeypatch):
    """Règle ce que la machine a (GPU NVIDIA, Mac) : ``machine(cuda=True)``. Sans GANS_DEVICE."""
    monkeypatch.delenv("GANS_DEVICE", raising=False)

    def set_machine(cuda=False, mps=False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    return set_machine


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"),
                                                 (False, False, "cpu")])
def test_automatic_device(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert runtime.get_device() == torch.device(expected)


@pytest.mark.parametrize("value", ["cpu", " CPU ", "Cpu\n"])
def test_device_variable_forces_the_cpu(machine, monkeypatch, value):
    machine(cuda=True, mps=True)
    monkeypatch.setenv("GANS_DEVICE", value)
    assert runtime.get_device() == torch.device("cpu")
    assert runtime.setup(seed=0) == torch.device("cpu")


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_device_variable_is_automatic(machine, monkeypatch, value):
    machine(cuda=False)
    monkeypatch.setenv("GANS_DEVICE", value)
    assert runtime.get_device() == torch.device("cpu")


def test_device_variable_unknown_value_names_the_variable(machine, monkeypatch):
    machine()
    monkeypatch.setenv("GANS_DEVICE", " TPU ")
    with pytest.raises(ValueError, match="Appareil inconnu : 'tpu' \\(demandé par la variable "
                                         "d'environnement GANS_DEVICE\\)\\. Choisissez 'cpu'"):
        runtime.get_device()


def test_device_variable_cuda_without_gpu(machine, monkeypatch):
    machine(cuda=False)
    monkeypatch.setenv("GANS_DEVICE", "CUDA")
    with pytest.raises(RuntimeError, match="CUDA est demandé par la variable d'environnement "
                                           "GANS_DEVICE mais aucun GPU NVIDIA n'est visible"):
        runtime.get_device()
    with pytest.raises(RuntimeError, match="CUDA est demandé dans le notebook mais aucun GPU"):
        runtime.get_device("cuda")
    machine(cuda=True)
    assert runtime.get_device() == torch.device("cuda")


def test_prefer_wins_over_the_variable(machine, monkeypatch):
    machine(cuda=False)
    for value in ("tpu", "cuda"):                  # même une variable fausse ne gêne pas
        monkeypatch.setenv("GANS_DEVICE", value)
        assert runtime.get_device("cpu") == torch.device("cpu")
        assert runtime.get_device(" CPU ") == torch.device("cpu")
        assert runtime.get_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setenv("GANS_DEVICE", "cpu")
    assert runtime.get_device("  ") == torch.device("cpu")      # un choix vide laisse la variable


def test_device_of_a_wrong_type(machine):
    with pytest.raises(TypeError, match="L'appareil doit être un texte"):
        runtime.get_device(0)


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


# --- racine du dépôt -------------------------------------------------------------

def install_without_edit_mode(tmp_path, monkeypatch):
    """Simule un paquet utils copié dans un site-packages (installation non éditable)."""
    package = tmp_path / "venv" / "site-packages" / "utils"
    package.mkdir(parents=True)
    (package / "runtime.py").write_text("")
    monkeypatch.setattr(runtime, "__file__", str(package / "runtime.py"))


def make_project(folder, pyproject, course=True):
    (folder / "utils").mkdir(parents=True)
    if course:
        (folder / "utils" / "course.py").write_text("")
    (folder / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (folder / "notebooks").mkdir()
    return folder


@pytest.mark.parametrize("pyproject, course", [
    ('[project]\nname = "autre-projet"\n', True),
    ('[project]\nname = "autre-projet"\ndescription = "comme gans-par-la-pratique"\n', True),
    ("[tool.ruff]\nline-length = 100\n", True),
    ('[project]\nname = "gans-par-la-pratique"\n', False),    # sans utils/course.py
])
def test_repo_root_never_takes_another_project(tmp_path, monkeypatch, pyproject, course):
    """Avant : tout dossier avec utils/ et pyproject.toml passait pour le cours (outputs/ y était écrit)."""
    other = make_project(tmp_path / "autre_projet", pyproject, course=course)
    install_without_edit_mode(tmp_path, monkeypatch)
    monkeypatch.chdir(other / "notebooks")
    with pytest.raises(FileNotFoundError, match="Impossible de trouver le dépôt du cours.*"
                                                "« gans-par-la-pratique » avec utils/course.py"):
        runtime.repo_root()


def test_repo_root_finds_a_clone_from_a_subfolder(tmp_path, monkeypatch):
    clone = make_project(tmp_path / "mon clone", (REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (clone / "solutions" / "dcgan").mkdir(parents=True)
    install_without_edit_mode(tmp_path, monkeypatch)
    monkeypatch.chdir(clone / "solutions" / "dcgan")
    assert runtime.repo_root() == clone.resolve()


def test_repo_root_of_the_editable_install_is_this_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runtime.repo_root() == REPO


@pytest.mark.parametrize("name", ["train_gan_images", "dcgan mnist", "été-2"])
def test_simple_names_are_accepted(name):
    assert runtime.check_simple_name(name, "du journal", "exemple") == name
