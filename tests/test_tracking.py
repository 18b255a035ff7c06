"""Journal TensorBoard : un nom qui n'est pas un nom simple est refusé, et le mode rapide
ne vide jamais que son propre dossier sous ``runs/rapide/``."""

import pytest
import torch

from utils import runtime, tracking


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """Un dépôt dans tmp_path, avec le journal d'un vrai entraînement et celui d'un essai rapide."""
    monkeypatch.setattr(tracking, "repo_root", lambda: tmp_path)
    full = tmp_path / "runs" / "train_gan_images" / "20250101-120000"
    full.mkdir(parents=True)
    (full / "events.out.tfevents.1").write_bytes(b"vrai entrainement")
    quick = tmp_path / "runs" / "rapide" / "train_gan_images"
    quick.mkdir(parents=True)
    (quick / "events.out.tfevents.0").write_bytes(b"essai rapide")
    return tmp_path


def full_run_is_intact(root):
    return (root / "runs" / "train_gan_images" / "20250101-120000" / "events.out.tfevents.1"
            ).read_bytes() == b"vrai entrainement"


@pytest.mark.parametrize("quick", ["1", "0"])
@pytest.mark.parametrize("name", ["", " ", ".", "..", ".cache", "a/b", "../train_gan_images",
                                  "a\\b", "a\nb", "a\x00b", "a\x7fb"])
def test_logger_refuses_a_name_that_is_not_simple(fake_repo, monkeypatch, quick, name):
    """Avant : « .. » en mode rapide supprimait runs/rapide/.., c'est-à-dire tout runs/."""
    monkeypatch.setenv(runtime.QUICK_ENV_VAR, quick)
    with pytest.raises(ValueError, match="Nom du journal TensorBoard invalide.*nom simple"):
        tracking.TensorBoardLogger(name)
    assert full_run_is_intact(fake_repo)
    assert (fake_repo / "runs" / "rapide" / "train_gan_images" / "events.out.tfevents.0").is_file()


@pytest.mark.parametrize("name", [None, 3, b"train"])
def test_logger_refuses_a_name_that_is_not_text(fake_repo, name):
    with pytest.raises(TypeError, match="Le nom du journal TensorBoard doit être un texte"):
        tracking.TensorBoardLogger(name)
    assert full_run_is_intact(fake_repo)


def test_quick_mode_empties_only_its_own_log(fake_repo, monkeypatch):
    monkeypatch.setenv(runtime.QUICK_ENV_VAR, "1")
    logger = tracking.TensorBoardLogger("train_gan_images")
    logger.log_scalars(0, loss_d=0.7)
    logger.log_images("echantillons", torch.zeros(4, 1, 28, 28), 0)
    logger.close()
    assert logger.log_dir == fake_repo / "runs" / "rapide" / "train_gan_images"
    written = sorted(p.name for p in logger.log_dir.iterdir())
    assert "events.out.tfevents.0" not in written and written        # l'ancien essai rapide est remplacé
    assert full_run_is_intact(fake_repo)


def test_full_mode_keeps_every_run(fake_repo, monkeypatch):
    monkeypatch.setenv(runtime.QUICK_ENV_VAR, "0")
    logger = tracking.TensorBoardLogger("train_gan_images")
    logger.close()
    assert logger.log_dir.parent == fake_repo / "runs" / "train_gan_images"
    assert full_run_is_intact(fake_repo)


@pytest.mark.parametrize("target", ["runs", "runs/rapide", "runs/train_gan_images", "ailleurs"])
def test_quick_mode_never_removes_a_folder_outside_runs_rapide(fake_repo, monkeypatch, target):
    """Deuxième garde : même si le dossier calculé sortait de runs/rapide/, rien n'est supprimé."""
    monkeypatch.setenv(runtime.QUICK_ENV_VAR, "1")
    (fake_repo / "ailleurs").mkdir()
    monkeypatch.setattr(tracking, "tensorboard_dir", lambda name: fake_repo / target)
    with pytest.raises(RuntimeError, match="Refus de supprimer .*Rien n'a été supprimé"):
        tracking.TensorBoardLogger("train_gan_images")
    assert (fake_repo / target).is_dir() and full_run_is_intact(fake_repo)


def test_quick_mode_does_not_follow_a_link(fake_repo, monkeypatch, tmp_path_factory):
    """Un lien runs/rapide/<nom> vers un autre dossier n'est ni suivi ni supprimé."""
    monkeypatch.setenv(runtime.QUICK_ENV_VAR, "1")
    elsewhere = tmp_path_factory.mktemp("ailleurs")
    (elsewhere / "important.txt").write_text("à garder")
    (fake_repo / "runs" / "rapide" / "lien").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(RuntimeError, match="Refus de supprimer"):
        tracking.TensorBoardLogger("lien")
    assert (elsewhere / "important.txt").read_text() == "à garder"
