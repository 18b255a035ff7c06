"""Sauvegardes : aller-retour, fichiers corrompus, autre architecture, rien d'écrasé sans le demander."""

import io
import os
import shutil
import signal
from pathlib import Path

import numpy as np
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


def artifact_samples(value):
    return torch.full((10000, 28, 28), value, dtype=torch.uint8)


def test_artifacts_layout_and_versions(fake_root, monkeypatch):
    monkeypatch.setenv("GANS_QUICK", "0")
    generator = small_model()
    samples = torch.randint(0, 256, (10000, 28, 28), dtype=torch.uint8)
    folder = checkpoint.save_generator_artifacts("jour_test", generator, samples)
    assert folder == fake_root / "outputs" / "jour_test"
    assert sorted(p.name for p in folder.iterdir()) == ["generator.pt", "samples.pt"]
    loaded = checkpoint.load_samples("jour_test")
    assert loaded.dtype == torch.uint8 and loaded.shape == (10000, 28, 28)
    assert torch.equal(loaded, samples)
    checkpoint.load_checkpoint(small_model(), folder / "generator.pt")
    # Une deuxième sauvegarde range la première, ses deux fichiers ensemble, dans precedent/<date-heure>/
    checkpoint.save_generator_artifacts("jour_test", generator, artifact_samples(0))
    (version,) = checkpoint.previous_versions(folder)
    assert version.parent == folder / "precedent"
    assert sorted(p.name for p in version.iterdir()) == ["generator.pt", "samples.pt"]
    assert torch.equal(torch.load(version / "samples.pt", weights_only=True), samples)
    assert torch.equal(checkpoint.load_samples("jour_test"), artifact_samples(0))


def test_several_previous_versions_are_kept(fake_root):
    for value in range(checkpoint.KEPT_VERSIONS + 3):
        checkpoint.save_generator_artifacts("v", small_model(), artifact_samples(value))
    folder = checkpoint.artifacts_dir("v")
    versions = checkpoint.previous_versions(folder)
    assert len(versions) == checkpoint.KEPT_VERSIONS
    kept = [int(torch.load(v / "samples.pt", weights_only=True)[0, 0, 0]) for v in versions]
    last = checkpoint.KEPT_VERSIONS + 2
    assert kept == list(range(last - checkpoint.KEPT_VERSIONS, last))   # les plus récentes, dans l'ordre
    assert int(checkpoint.load_samples("v")[0, 0, 0]) == last


def test_versions_of_other_files_in_the_folder_are_counted_apart(fake_root):
    """Une animation rangée à côté ne chasse pas les versions des artefacts (et inversement)."""
    folder = checkpoint.artifacts_dir("mix")
    for value in range(checkpoint.KEPT_VERSIONS + 2):
        checkpoint.save_generator_artifacts("mix", small_model(), artifact_samples(value))
        checkpoint.write_version(folder, {"anim.gif": lambda handle, v=value: handle.write(bytes([v]))})
    assert len(checkpoint.previous_versions(folder, ["samples.pt"])) == checkpoint.KEPT_VERSIONS
    gifs = checkpoint.previous_versions(folder, ["anim.gif"])
    assert [(v / "anim.gif").read_bytes()[0] for v in gifs] == list(range(1, checkpoint.KEPT_VERSIONS + 1))
    assert len(checkpoint.previous_versions(folder)) == 2 * checkpoint.KEPT_VERSIONS


def test_old_single_backup_is_left_alone(fake_root):
    """Un ancien precedent/samples.pt (avant les versions datées) n'est ni écrasé ni supprimé."""
    folder = checkpoint.artifacts_dir("ancien")
    (folder / "precedent").mkdir(parents=True)
    torch.save(artifact_samples(9), folder / "precedent" / "samples.pt")
    for value in range(checkpoint.KEPT_VERSIONS + 2):
        checkpoint.save_generator_artifacts("ancien", small_model(), artifact_samples(value))
    assert int(torch.load(folder / "precedent" / "samples.pt", weights_only=True)[0, 0, 0]) == 9


# --- interruptions : Ctrl-C simulé à chaque point de l'écriture ------------------

class Interrupter:
    """Lève KeyboardInterrupt au n-ième appel de l'une des fonctions surveillées (une seule fois)."""

    def __init__(self, monkeypatch, when):
        self.when, self.calls, self.fired = when, 0, False
        for owner, name in [(checkpoint.os, "replace"), (checkpoint.os, "fsync"),
                            (checkpoint.os, "fdopen"), (checkpoint.os, "chmod"),
                            (checkpoint.tempfile, "mkstemp"), (checkpoint.torch, "save"),
                            (checkpoint, "_new_version_dir"), (checkpoint, "_prune_versions")]:
            monkeypatch.setattr(owner, name, self.wrap(getattr(owner, name)))

    def wrap(self, function):
        def wrapper(*args, **kwargs):
            self.calls += 1
            if self.calls == self.when and not self.fired:
                self.fired = True
                raise KeyboardInterrupt
            return function(*args, **kwargs)
        return wrapper


def folder_state(folder):
    """(valeur des échantillons en place, poids en place, versions précédentes, fichiers cachés)."""
    def value(path):
        return int(torch.load(path, weights_only=True)[0, 0, 0]) if path.exists() else None

    def weight(path):
        return float(torch.load(path, weights_only=True)["0.bias"][0]) if path.exists() else None

    versions = [(value(v / "samples.pt"), weight(v / "generator.pt"))
                for v in checkpoint.previous_versions(folder)]
    hidden = sorted(p.name for p in folder.rglob(".*"))
    return value(folder / "samples.pt"), weight(folder / "generator.pt"), versions, hidden


def model_with_bias(value):
    model = small_model()
    with torch.no_grad():
        model[0].bias.fill_(value)
    return model


@pytest.mark.parametrize("history", [0, 1, checkpoint.KEPT_VERSIONS + 1])
def test_interrupted_at_every_point_leaves_one_whole_version(fake_root, monkeypatch, history):
    """Ctrl-C à chaque appel d'écriture, de renommage... : l'ancienne version entière, ou la nouvelle."""
    for value in range(history):
        checkpoint.save_generator_artifacts("coupe", model_with_bias(value), artifact_samples(value))
    folder = checkpoint.artifacts_dir("coupe")
    before = folder_state(folder) if history else (None, None, [], [])
    when, outcomes = 1, set()
    while True:
        with monkeypatch.context() as patch:
            interrupter = Interrupter(patch, when)
            try:
                checkpoint.save_generator_artifacts("coupe", model_with_bias(50), artifact_samples(50))
            except KeyboardInterrupt:
                pass
        state = folder_state(folder)
        assert state[3] == [], f"fichiers temporaires laissés (interruption n° {when}) : {state[3]}"
        if state[:3] == before[:3]:
            outcomes.add("ancienne")
        else:
            samples, weight, versions, _ = state
            assert (samples, weight) == (50, 50.0), f"version mélangée à l'interruption n° {when} : {state}"
            expected = before[2] + ([(before[0], before[1])] if history else [])
            assert versions[-checkpoint.KEPT_VERSIONS:] == expected[-checkpoint.KEPT_VERSIONS:]
            assert len(versions) <= checkpoint.KEPT_VERSIONS + 1   # au pire, un ménage interrompu
            outcomes.add("nouvelle")
        if not interrupter.fired:
            break
        # Revenir à l'état de départ pour le point d'interruption suivant
        if state[:3] != before[:3]:
            shutil.rmtree(folder)
            for value in range(history):
                checkpoint.save_generator_artifacts("coupe", model_with_bias(value), artifact_samples(value))
            before = folder_state(folder) if history else (None, None, [], [])
        when += 1
    assert when > 8 and outcomes == {"ancienne", "nouvelle"}


def test_real_ctrl_c_during_the_swap_is_deferred(fake_root, monkeypatch):
    """Un vrai SIGINT reçu entre deux renommages attend la fin de l'échange : jamais de mélange."""
    checkpoint.save_generator_artifacts("sig", model_with_bias(1), artifact_samples(1))
    real_replace, calls = checkpoint.os.replace, []

    def replace_with_signal(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", replace_with_signal)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_generator_artifacts("sig", model_with_bias(2), artifact_samples(2))
    assert len(calls) == 4
    samples, weight, versions, hidden = folder_state(checkpoint.artifacts_dir("sig"))
    assert (samples, weight, versions, hidden) == (2, 2.0, [(1, 1.0)], [])


def test_atomic_save_never_truncates_the_existing_file(tmp_path, monkeypatch):
    """Une écriture interrompue au milieu laisse l'ancien fichier entier (un torch.save direct le tronquerait)."""
    path = tmp_path / "m.pt"
    checkpoint.save_checkpoint(model_with_bias(1), path)
    before = path.read_bytes()
    real_save = torch.save

    def save_half_then_interrupt(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()[:100]
        if hasattr(f, "write"):
            f.write(data)
        else:
            Path(f).write_bytes(data)
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", save_half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_checkpoint(model_with_bias(2), path, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_read_only_folder_gets_a_french_error(fake_root, monkeypatch):
    checkpoint.save_generator_artifacts("ro", model_with_bias(1), artifact_samples(1))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match="Impossible d'écrire dans .*lecture seule.*Rien n'a été modifié"):
        checkpoint.save_generator_artifacts("ro", model_with_bias(2), artifact_samples(2))
    with pytest.raises(PermissionError, match="Impossible d'écrire"):
        checkpoint.save_checkpoint(small_model(), fake_root / "m.pt")
    assert folder_state(checkpoint.artifacts_dir("ro")) == (1, 1.0, [], [])


def test_diverged_run_is_not_saved(fake_root):
    checkpoint.save_generator_artifacts("nan", model_with_bias(1), artifact_samples(1))
    samples = torch.zeros(10000, 1, 28, 28)
    samples[3, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN.*divergé.*Rien n'a été enregistré"):
        checkpoint.save_generator_artifacts("nan", model_with_bias(2), samples)
    with pytest.raises(ValueError, match="Le générateur contient des NaN.*0.bias.*divergé"):
        checkpoint.save_generator_artifacts("nan", model_with_bias(float("nan")), artifact_samples(2))
    with pytest.raises(ValueError, match="divergé"):
        checkpoint.to_uint8_images(torch.full((2, 784), float("inf")))
    assert folder_state(checkpoint.artifacts_dir("nan")) == (1, 1.0, [], [])


def test_to_uint8_images_values_and_bad_input():
    images = torch.tensor([-1.0, 0.0, 1.0, 2.0]).repeat_interleave(196).reshape(1, 784)
    out = checkpoint.to_uint8_images(images)
    assert out.shape == (1, 28, 28) and out.dtype == torch.uint8
    assert out.flatten()[[0, 196, 392, 588]].tolist() == [0, 128, 255, 255]
    with pytest.raises(ValueError, match="Forme d'images inattendue"):
        checkpoint.to_uint8_images(torch.zeros(4, 3, 32, 32))
    with pytest.raises(TypeError, match="tenseur PyTorch"):
        checkpoint.to_uint8_images([0.0] * 784)


def test_metadata_is_either_readable_or_refused(tmp_path):
    """Ce que save_checkpoint accepte, load_checkpoint le relit (NumPy converti ; le reste refusé avant d'écrire)."""
    path = checkpoint.save_checkpoint(small_model(), tmp_path / "m.pt", lr=np.float32(2e-4),
                                      epoch=np.int64(3), history={"fid": [np.float64(31.5), 30.0]},
                                      curve=np.arange(3.0), note="essai", betas=(0.5, 0.999))
    checkpoint.load_checkpoint(small_model(), path)
    extra = torch.load(path, weights_only=True)
    assert extra["lr"] == pytest.approx(2e-4) and type(extra["lr"]) is float
    assert extra["epoch"] == 3 and extra["history"] == {"fid": [31.5, 30.0]}
    assert torch.equal(extra["curve"], torch.arange(3.0, dtype=torch.float64))
    assert extra["betas"] == (0.5, 0.999)
    with pytest.raises(TypeError, match="'dossier' est de type PosixPath.*Rien n'a été écrit.*str\\(chemin\\)"):
        checkpoint.save_checkpoint(small_model(), tmp_path / "p.pt", dossier=tmp_path)
    with pytest.raises(ValueError, match="réservé"):
        checkpoint.save_checkpoint(small_model(), tmp_path / "q.pt", state_dict={})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


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


@pytest.mark.parametrize("name", ["../ailleurs", "..", ".", "", "a/b", "a\\b", "a\nb", ".cache"])
def test_invalid_artifact_name(fake_root, name):
    with pytest.raises(ValueError, match="Nom de notebook pour les artefacts invalide"):
        checkpoint.artifacts_dir(name)
    assert not (fake_root / "outputs").exists()


def test_other_architecture_exact_message(tmp_path):
    """Le message entier : couches absentes, en trop, formes différentes, huit au plus par ligne."""
    wide = nn.Sequential(*[nn.Linear(2, 2) for _ in range(10)])
    path = checkpoint.save_checkpoint(wide, tmp_path / "m.pt")
    with pytest.raises(ValueError) as info:           # seulement des couches en trop
        checkpoint.load_checkpoint(nn.Sequential(nn.Linear(2, 2)), path)
    extra = ", ".join(f"{i}.{p}" for i in range(1, 10) for p in ("weight", "bias"))
    extra = ", ".join(extra.split(", ")[:8])
    assert str(info.value) == (
        f"Les poids de {path} ne correspondent pas à l'architecture de Sequential.\n"
        f"  couches en trop dans le fichier : {extra}\n"
        "À faire : recréez le modèle avec la même architecture (mêmes tailles de couches, même "
        "z_dim) que lors de l'enregistrement, ou réentraînez-le.")
    other = nn.Sequential(*[nn.Linear(2, 3) for _ in range(10)], nn.Linear(3, 3))
    with pytest.raises(ValueError) as info:            # absentes et formes différentes
        checkpoint.load_checkpoint(other, path)
    lines = str(info.value).split("\n")
    assert lines[1] == "  couches absentes du fichier : 10.weight, 10.bias"
    shapes = lines[2].removeprefix("  formes différentes : ").split(" ; ")
    assert len(shapes) == 8 and shapes[0] == "0.weight : fichier (2, 2), modèle (3, 2)"
    assert len(lines) == 4 and lines[3].startswith("À faire : ")


def test_metadata_edge_cases_and_exact_refusal(tmp_path):
    import enum

    class Phase(enum.IntEnum):
        FIN = 2

    path = checkpoint.save_checkpoint(small_model(), tmp_path / "m.pt", note=None,
                                      mask=torch.ones(2), phase=Phase.FIN, flag=np.bool_(True))
    extra = torch.load(path, weights_only=True)
    assert extra["note"] is None and torch.equal(extra["mask"], torch.ones(2))
    assert extra["phase"] == 2 and type(extra["phase"]) is int and extra["flag"] is True
    with pytest.raises(TypeError) as info:
        checkpoint.save_checkpoint(small_model(), tmp_path / "p.pt", cfg={"runs": [1, tmp_path]})
    assert str(info.value) == (
        "La valeur 'cfg'['runs'][1] est de type PosixPath, qu'un fichier de poids ne peut pas "
        "relire sans risque. Rien n'a été écrit. À faire : enregistrez plutôt un nombre, un texte, "
        "une liste ou un dictionnaire de ceux-ci (par exemple str(chemin) pour un chemin).")
    assert not (tmp_path / "p.pt").exists()
