"""Sauvegardes : aller-retour, fichiers corrompus, autre architecture, rien d'écrasé sans le demander."""

import pytest
import torch
from torch import nn

from utils import checkpoint


def small_model(width=8):
    return nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 2))


def test_round_trip(tmp_path):
    model = small_model()
    path = checkpoint.save_checkpoint(model, tmp_path / "m.pt", epoch=3)
    other = small_model()
    checkpoint.load_checkpoint(other, path)
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    extra = torch.load(path, weights_only=True)
    assert extra["epoch"] == 3


def test_refuses_to_overwrite(tmp_path):
    path = tmp_path / "m.pt"
    checkpoint.save_checkpoint(small_model(), path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        checkpoint.save_checkpoint(small_model(), path)
    assert path.read_bytes() == before
    checkpoint.save_checkpoint(small_model(), path, overwrite=True)
    assert path.read_bytes() != before


def test_no_temporary_file_left(tmp_path):
    checkpoint.save_checkpoint(small_model(), tmp_path / "m.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_corrupted_file_clear_error_and_untouched(tmp_path):
    path = tmp_path / "m.pt"
    checkpoint.save_checkpoint(small_model(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # fichier tronqué
    truncated = path.read_bytes()
    with pytest.raises(RuntimeError, match="corrompu, tronqué"):
        checkpoint.load_checkpoint(small_model(), path)
    assert path.read_bytes() == truncated


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="introuvable"):
        checkpoint.load_checkpoint(small_model(), tmp_path / "absent.pt")


def test_other_architecture_message(tmp_path):
    path = checkpoint.save_checkpoint(small_model(width=8), tmp_path / "m.pt")
    with pytest.raises(ValueError) as info:
        checkpoint.load_checkpoint(small_model(width=16), path)
    text = str(info.value)
    assert "ne correspondent pas à l'architecture" in text
    assert "0.weight : fichier (8, 4), modèle (16, 4)" in text
    assert "À faire" in text
    with pytest.raises(ValueError, match="couches absentes du fichier"):
        checkpoint.load_checkpoint(nn.Sequential(small_model(), nn.Linear(2, 2)), path)


class Evil:
    """Un objet Python quelconque : weights_only=True doit refuser de le recréer."""


def test_weights_only_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(RuntimeError, match="Impossible de lire"):
        checkpoint.load_checkpoint(small_model(), path)


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "repo_root", lambda: tmp_path)
    return tmp_path


def test_artifacts_layout_and_backup(fake_root, monkeypatch):
    monkeypatch.setenv("GANS_QUICK", "0")
    generator = small_model()
    samples = torch.randint(0, 256, (10000, 28, 28), dtype=torch.uint8)
    folder = checkpoint.save_generator_artifacts("jour_test", generator, samples)
    assert folder == fake_root / "outputs" / "jour_test"
    loaded = checkpoint.load_samples("jour_test")
    assert loaded.dtype == torch.uint8 and loaded.shape == (10000, 28, 28)
    assert torch.equal(loaded, samples)
    # Une deuxième sauvegarde garde la première dans precedent/
    checkpoint.save_generator_artifacts("jour_test", generator, torch.zeros(10000, 28, 28, dtype=torch.uint8))
    assert torch.equal(torch.load(folder / "precedent" / "samples.pt", weights_only=True), samples)


def test_quick_mode_artifacts_are_separate(fake_root, monkeypatch):
    monkeypatch.setenv("GANS_QUICK", "1")
    assert checkpoint.artifacts_dir("x") == fake_root / "outputs" / "rapide" / "x"
    monkeypatch.setenv("GANS_QUICK", "0")
    assert checkpoint.artifacts_dir("x") == fake_root / "outputs" / "x"


def test_artifacts_float_samples_converted(fake_root):
    samples = torch.rand(10000, 1, 28, 28) * 2 - 1
    folder = checkpoint.save_generator_artifacts("conv", small_model(), samples)
    stored = torch.load(folder / "samples.pt", weights_only=True)
    assert stored.dtype == torch.uint8 and stored.shape == (10000, 28, 28)


def test_artifacts_wrong_count(fake_root):
    with pytest.raises(ValueError, match=r"forme attendue \(10000, 28, 28\), reçue \(500, 28, 28\)"):
        checkpoint.save_generator_artifacts("x", small_model(), torch.zeros(500, 28, 28, dtype=torch.uint8))


def test_load_samples_missing(fake_root):
    with pytest.raises(FileNotFoundError, match="Exécutez d'abord le notebook absent.ipynb"):
        checkpoint.load_samples("absent")


def test_invalid_artifact_name(fake_root):
    with pytest.raises(ValueError, match="Nom de notebook invalide"):
        checkpoint.artifacts_dir("../ailleurs")
