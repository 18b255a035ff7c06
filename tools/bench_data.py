"""Mesure le coût de production des mini-lots de MNIST : DataLoader + transformations PIL
contre tirage dans un tenseur déjà en mémoire (chiffre cité dans le jour 1).

Usage, depuis la racine du dépôt : ``python tools/bench_data.py``
"""

import time

import torch
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import MNIST

from utils.data import data_dir, iterate_minibatches, load_mnist


def main(batch_size: int = 64) -> None:
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    dataset = MNIST(root=str(data_dir()), train=True, download=False, transform=transform)
    start = time.perf_counter()
    for _ in DataLoader(dataset, batch_size=batch_size, shuffle=True):
        pass
    loader_seconds = time.perf_counter() - start

    images, _ = load_mnist("train")
    start = time.perf_counter()
    for _ in iterate_minibatches(images, batch_size, generator=torch.Generator().manual_seed(0)):
        pass
    tensor_seconds = time.perf_counter() - start
    print(f"Une époque de mini-lots de {batch_size} : DataLoader + ToTensor + Normalize "
          f"{loader_seconds:.2f} s ; tenseur en mémoire {tensor_seconds:.3f} s "
          f"({torch.get_num_threads()} fils de calcul).")


if __name__ == "__main__":
    main()
