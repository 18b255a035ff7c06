"""Entraîne le CNN de l'évaluateur du cours et écrit ``utils/mnist_classifier.pt``.

Usage (depuis la racine du dépôt) : ``python tools/train_evaluator.py``
Environ 3 minutes sur un CPU à 2 cœurs. Le script est déterministe à graine
fixe sur une même machine ; il affiche la précision sur les 10 000 images de
test (le test ``tests/test_evaluator.py`` exige au moins 99 %).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from utils.checkpoint import _atomic_torch_save
from utils.data import iterate_minibatches, load_mnist
from utils.evaluator import WEIGHTS_PATH, MnistClassifier
from utils.runtime import set_seed


def random_shift(images: torch.Tensor, max_shift: int = 2) -> torch.Tensor:
    """Décale chaque image d'au plus ``max_shift`` pixels (robustesse aux chiffres décentrés)."""
    n = images.shape[0]
    padded = F.pad(images, (max_shift,) * 4, value=-1.0)
    dx = torch.randint(0, 2 * max_shift + 1, (n,))
    dy = torch.randint(0, 2 * max_shift + 1, (n,))
    rows = (dy[:, None] + torch.arange(28)[None, :])            # (n, 28)
    cols = (dx[:, None] + torch.arange(28)[None, :])            # (n, 28)
    idx = torch.arange(n)[:, None, None]
    return padded[idx, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


@torch.no_grad()
def accuracy(model, images, labels) -> float:
    model.eval()
    correct = 0
    for start in range(0, images.shape[0], 1000):
        logits = model(images[start:start + 1000])
        correct += (logits.argmax(1) == labels[start:start + 1000]).sum().item()
    return correct / images.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    set_seed(args.seed)
    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    model = MnistClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=2e-3, total_steps=args.epochs * (60000 // 128))
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(60000)
        for batch_idx in iterate_minibatches(order, 128):
            x = random_shift(x_train[batch_idx])
            loss = F.cross_entropy(model(x), y_train[batch_idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        acc = accuracy(model, x_test, y_test)
        print(f"époque {epoch + 1}/{args.epochs} : précision test {100 * acc:.2f} % "
              f"({time.time() - start:.0f} s)")
    _atomic_torch_save(model.state_dict(), WEIGHTS_PATH)
    print(f"Poids écrits dans {WEIGHTS_PATH}")


if __name__ == "__main__":
    main()
