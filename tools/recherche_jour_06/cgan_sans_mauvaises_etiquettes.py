"""Le GAN conditionnel du jour 6 avec et sans le terme des vraies images mal étiquetées.

Mêmes réseaux, réglages, graine et ordre des données que le corrigé
(``solutions/cgan/cgan_mnist.ipynb``) ; seule change la perte de D. Mesure, à
chaque époque, la précision du conditionnement de la copie moyennée (1 000
chiffres, comme le corrigé), puis FID-MNIST et précision du conditionnement sur
10 000 chiffres. Sur 2 cœurs : environ 4 min par variante.

    python tools/recherche_jour_06/cgan_sans_mauvaises_etiquettes.py --sans
    python tools/recherche_jour_06/cgan_sans_mauvaises_etiquettes.py          # avec (le corrigé)
"""

import argparse
import time

import torch
from torch import nn
from torch.nn import functional as F

import utils
from utils.control import draw_conditional
from utils.gan import init_weights, make_ema

Z_DIM, N_CLASSES, BATCH_SIZE = 64, 10, 64


class ConditionalGenerator(nn.Module):
    def __init__(self, hidden=(256, 512, 1024)):
        super().__init__()
        layers, size = [], Z_DIM + N_CLASSES
        for width in hidden:
            layers += [nn.Linear(size, width), nn.BatchNorm1d(width), nn.LeakyReLU(0.2)]
            size = width
        self.net = nn.Sequential(*layers, nn.Linear(size, 784), nn.Tanh())

    def forward(self, z, labels):
        return self.net(torch.cat([z, F.one_hot(labels, N_CLASSES).float()], 1)).view(-1, 1, 28, 28)


class ConditionalDiscriminator(nn.Module):
    def __init__(self, hidden=(512, 256, 128), dropout=0.1):
        super().__init__()
        layers, size = [], 784 + N_CLASSES
        for width in hidden:
            layers += [nn.Linear(size, width), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            size = width
        self.net = nn.Sequential(*layers, nn.Linear(size, 1), nn.Sigmoid())

    def forward(self, images, labels):
        return self.net(torch.cat([images.flatten(1), F.one_hot(labels, N_CLASSES).float()], 1))


def bce(p, target):
    return F.binary_cross_entropy(p, torch.full_like(p, target))


def step(real, labels, g, d, opt_g, opt_d, with_wrong):
    z = torch.randn(real.shape[0], Z_DIM)
    fake = g(z, labels)
    wrong = (labels + torch.randint(1, 10, labels.shape)) % 10
    opt_d.zero_grad()
    loss_d = bce(d(real, labels), 1.0) + bce(d(fake.detach(), labels), 0.0)
    if with_wrong:
        loss_d = loss_d + bce(d(real, wrong), 0.0)
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    bce(d(fake, labels), 1.0).backward()
    opt_g.step()


def ready(ema):
    noise = torch.Generator().manual_seed(123)
    ema.train()
    with torch.no_grad():
        for _ in range(8):
            ema(torch.randn(250, Z_DIM, generator=noise), torch.arange(250) % N_CLASSES)
    return ema.module.eval()


def accuracy(generator, per_digit, seed):
    z = torch.randn(per_digit * N_CLASSES, Z_DIM, generator=torch.Generator().manual_seed(seed))
    asked = torch.arange(N_CLASSES).repeat(per_digit)
    report = utils.evaluate_samples(draw_conditional(generator, z, asked))
    hits = (report.predicted == asked).float()
    return report, hits.mean().item(), min(hits[asked == k].mean().item() for k in range(N_CLASSES))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sans", action="store_true", help="sans le terme des mauvaises étiquettes")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    images, labels = utils.load_mnist("train")
    utils.set_seed(0)
    g = ConditionalGenerator().apply(init_weights)
    d = ConditionalDiscriminator().apply(init_weights)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ema = make_ema(g, 0.999)
    order = torch.Generator().manual_seed(0)
    start = time.time()
    print(f"variante : {'sans' if args.sans else 'avec'} les vraies images mal étiquetées")
    for epoch in range(1, args.epochs + 1):
        for batch in utils.iterate_minibatches(torch.arange(images.shape[0]), BATCH_SIZE, generator=order):
            step(images[batch], labels[batch], g, d, opt_g, opt_d, with_wrong=not args.sans)
            ema.update_parameters(g)
        _, overall, worst = accuracy(ready(ema), 100, 1)
        ema.train()
        print(f"époque {epoch} ({time.time() - start:.0f} s) : conditionnement {100 * overall:.1f} %, "
              f"chiffre le moins obéi {100 * worst:.1f} %", flush=True)
    report, overall, worst = accuracy(ready(ema), 1000, 2026)
    print(f"10 000 chiffres : conditionnement {100 * overall:.1f} %, chiffre le moins obéi {100 * worst:.1f} %, "
          f"FID-MNIST {report.fid:.2f}, part confiante {100 * report.confident_share:.1f} %")


if __name__ == "__main__":
    main()
