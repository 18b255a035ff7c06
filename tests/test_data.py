"""Les fichiers MNIST livrés sont intacts et se chargent au bon format ; un fichier abîmé
est signalé clairement, sans être supprimé ni retéléchargé."""

import shutil

import pytest
import torch

from utils import data
from utils.runtime import repo_root

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.parametrize("name", sorted(data.MNIST_FILES))
def test_mnist_file_md5(name):
    path = repo_root() / "data" / "MNIST" / "raw" / name
    assert path.is_file(), f"{path} manquant"
    assert data.md5sum(path) == data.MNIST_FILES[name]


@pytest.mark.parametrize("name", sorted(data.MNIST_FILES))
def test_mnist_file_size(name):
    assert (repo_root() / "data" / "MNIST" / "raw" / name).stat().st_size == data.MNIST_SIZES[name]


@pytest.fixture
def mnist_copy(tmp_path, monkeypatch):
    """Un dossier de données dans tmp_path (copies des fichiers de test, liens vers ceux
    d'entraînement) ; tout téléchargement y est interdit."""
    import torchvision.datasets.mnist as tv_mnist

    def no_download(*args, **kwargs):
        raise AssertionError("téléchargement tenté")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", no_download)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    source = repo_root() / "data" / "MNIST" / "raw"
    for name in data.MNIST_FILES:
        if name.startswith("t10k"):
            shutil.copyfile(source / name, raw / name)
        else:
            (raw / name).symlink_to(source / name)
    return tmp_path


def test_intact_copy_loads(mnist_copy):
    images, labels = data.load_mnist_uint8("test", root=mnist_copy)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)


def test_truncated_file_is_named_and_left_alone(mnist_copy):
    path = mnist_copy / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    content = path.read_bytes()[:3_000_000]
    path.write_bytes(content)
    with pytest.raises(RuntimeError) as info:
        data.load_mnist("test", root=mnist_copy)
    message = str(info.value)
    assert f"Le fichier MNIST {path} est abîmé" in message
    assert "il fait 3000000 octets au lieu de 7840016 (tronqué)" in message
    assert "ni modifié ni supprimé" in message
    assert "copie intacte de data/MNIST/raw/t10k-images-idx3-ubyte" in message and "clone" in message
    assert path.read_bytes() == content                      # ni supprimé, ni retéléchargé


def test_damaged_file_of_the_right_size_is_detected(mnist_copy):
    path = mnist_copy / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    content = bytearray(path.read_bytes())
    content[-1] = (content[-1] + 1) % 10                     # une étiquette changée : même taille
    path.write_bytes(bytes(content))
    with pytest.raises(RuntimeError, match="t10k-labels-idx1-ubyte est abîmé : .*empreinte md5"):
        data.load_mnist_uint8("test", root=mnist_copy)
    assert path.read_bytes() == bytes(content)


def test_licence_next_to_data():
    text = (repo_root() / "data" / "README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 3.0" in text and "LeCun" in text


def test_train_split_counts_and_range():
    images, labels = data.load_mnist("train")
    assert images.shape == (60000, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (60000,) and labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == TRAIN_COUNTS
    assert images.min().item() == -1.0 and images.max().item() == 1.0


def test_test_split_uint8():
    images, labels = data.load_mnist_uint8("test")
    assert images.shape == (10000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (10000,)
    assert torch.bincount(labels).sum().item() == 10000


def test_bad_split_message():
    with pytest.raises(ValueError, match="split doit valoir"):
        data.load_mnist("validation")


def test_missing_files_offline_message(tmp_path, monkeypatch):
    """Sans les fichiers et sans réseau : un message en français qui dit quoi faire."""
    import torchvision.datasets.mnist as tv_mnist

    def no_network(*args, **kwargs):
        raise OSError("réseau injoignable (simulé)")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", no_network)
    monkeypatch.setattr(tv_mnist.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(FileNotFoundError) as info:
        data.load_mnist("test", root=tmp_path)
    message = str(info.value)
    assert "Fichiers MNIST introuvables" in message
    assert "copiez les quatre fichiers" in message
    assert "t10k-images-idx3-ubyte" in message


def test_iterate_minibatches_covers_epoch_once():
    x = torch.arange(100).float().view(100, 1)
    gen = torch.Generator().manual_seed(0)
    batches = list(data.iterate_minibatches(x, 32, generator=gen))
    assert len(batches) == data.steps_per_epoch(100, 32) == 3
    seen = torch.cat(batches).view(-1)
    assert len(set(seen.tolist())) == 96  # sans répétition, dernier lot incomplet sauté
    again = list(data.iterate_minibatches(x, 32, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))


def test_iterate_minibatches_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        next(data.iterate_minibatches(torch.zeros(10, 1), 0))
    with pytest.raises(ValueError, match="dépasse"):
        next(data.iterate_minibatches(torch.zeros(10, 1), 11))
