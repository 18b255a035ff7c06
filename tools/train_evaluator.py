"""Entraîne le CNN de l'évaluateur du cours et écrit ``utils/mnist_classifier.pt``.

Usage (depuis la racine du dépôt) : ``python tools/train_evaluator.py``
Environ 5 minutes sur un CPU à 2 cœurs. Le script est déterministe à graine
fixe sur une même machine ; il affiche la précision sur les 10 000 images de
test (le test ``tests/test_evaluator.py`` exige au moins 99 %).

Pour que la « part confiante » de l'évaluateur ait un sens, le réseau apprend
aussi à **ne pas** être sûr de lui devant ce qui n'est pas un chiffre
(*outlier exposure*, Hendrycks et al., 2019) : à chaque pas, un lot d'images
« non-chiffres » (bruit uniforme, points épars sur fond noir, chiffres dont les
pixels sont mélangés, superpositions de deux chiffres différents) est poussé
vers une prédiction uniforme sur les dix classes. Sans cela, un générateur qui
ne produit que du bruit serait classé « 8 » avec confiance.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from utils.checkpoint import _atomic_torch_save
from utils.data import iterate_minibatches, load_mnist
from utils.evaluator import WEIGHTS_PATH, MnistClassifier, save_reference_stats
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


def junk_batch(images: torch.Tensor, labels: torch.Tensor, n: int) -> torch.Tensor:
    """Un lot de ``n`` images qui ne sont pas des chiffres, dans [-1, 1]."""
    kind = torch.randint(0, 4, (n,))
    idx = torch.randint(0, images.shape[0], (n,))
    out = torch.rand(n, 1, 28, 28) * 2 - 1                                   # bruit uniforme
    sparse = torch.where(torch.rand(n, 1, 28, 28) < torch.rand(n, 1, 1, 1) * 0.3, 1.0, -1.0)
    out = torch.where((kind == 1).view(-1, 1, 1, 1), sparse, out)            # points épars
    perm = images[idx].view(n, -1)[:, torch.randperm(784)].view(n, 1, 28, 28)
    out = torch.where((kind == 2).view(-1, 1, 1, 1), perm, out)              # pixels mélangés
    other = torch.randint(0, images.shape[0], (n,))
    blend = torch.maximum(images[idx], images[other])
    blend_ok = (kind == 3) & (labels[idx] != labels[other])
    out = torch.where(blend_ok.view(-1, 1, 1, 1), blend, out)                # deux chiffres superposés
    return out


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
            junk = junk_batch(x_train, y_train, 64)
            loss = loss + 0.1 * -F.log_softmax(model(junk), dim=1).mean()  # vers l'uniforme
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        acc = accuracy(model, x_test, y_test)
        with torch.no_grad():
            junk_conf = model.eval()(junk_batch(x_test, y_test, 2000)).softmax(1).max(1).values
        print(f"époque {epoch + 1}/{args.epochs} : précision test {100 * acc:.2f} %, "
              f"non-chiffres classés avec confiance >= 0.9 : {100 * (junk_conf >= 0.9).float().mean():.1f} % "
              f"({time.time() - start:.0f} s)")
    _atomic_torch_save(model.state_dict(), WEIGHTS_PATH)
    print(f"Poids écrits dans {WEIGHTS_PATH}")
    print(f"Référence du FID-MNIST (10 000 images de test) écrite dans {save_reference_stats()}")


if __name__ == "__main__":
    main()
