"""Mesure ce que coûte une étape d'entraînement du DCGAN du jour 3, et ce qui la rend moins chère.

Le modèle ne change pas : seules changent la façon de le calculer (nombre de fils de calcul,
disposition des tenseurs en mémoire, précision, compilation, nombres dénormaux). Pour chaque
variante, des réseaux neufs (même graine) font quelques étapes d'échauffement, puis l'outil
chronomètre des tranches d'étapes et garde la médiane. Une étape du GAN dense du jour 1 sert de
repère. Les chiffres cités dans le jour 3 viennent de cet outil.

Usage, depuis la racine du dépôt ::

    python tools/bench_dcgan_step.py                 # toutes les variantes, sur l'appareil par défaut
    python tools/bench_dcgan_step.py --steps 60 --only base,canaux_en_dernier
    GANS_DEVICE=cuda python tools/bench_dcgan_step.py

Ne lancez rien d'autre en même temps : la machine partagée fausserait les durées.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.gan import (  # noqa: E402
    DCGANDiscriminator,
    DCGANGenerator,
    Discriminator,
    Generator,
    init_weights,
    train_step,
)
from utils.runtime import get_device  # noqa: E402

BATCH = 64


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _networks(kind: str, device: torch.device, channels_last: bool):
    torch.manual_seed(0)
    if kind == "jour1":
        generator, discriminator, z_dim = Generator(64), Discriminator(), 64
        opt = {"lr": 2e-4, "betas": (0.5, 0.999)}
        opt_g = lambda p: torch.optim.Adam(p, **opt)  # noqa: E731
        opt_d = opt_g
    else:
        generator, discriminator, z_dim = DCGANGenerator(), DCGANDiscriminator(), 256
        opt_g = lambda p: torch.optim.RMSprop(p, lr=5e-4, alpha=0.9)  # noqa: E731
        opt_d = lambda p: torch.optim.RMSprop(p, lr=5e-5, alpha=0.9)  # noqa: E731
    generator.apply(init_weights).to(device)
    discriminator.apply(init_weights).to(device)
    if channels_last:
        generator.to(memory_format=torch.channels_last)
        discriminator.to(memory_format=torch.channels_last)
    return generator, discriminator, opt_g(generator.parameters()), opt_d(discriminator.parameters()), z_dim


def measure(name: str, device: torch.device, steps: int, kind: str = "dcgan", threads: int | None = None,
            channels_last: bool = False, autocast: bool = False, compile_model: bool = False,
            flush_denormal: bool = False) -> float:
    """Millisecondes par étape (médiane de tranches de 10 étapes) pour une variante."""
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    torch.set_flush_denormal(flush_denormal)
    try:
        generator, discriminator, opt_g, opt_d, z_dim = _networks(kind, device, channels_last)
        if compile_model:
            generator, discriminator = torch.compile(generator), torch.compile(discriminator)
        real = torch.rand(BATCH, 1, 28, 28, device=device) * 2 - 1
        if channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        context = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
        chunks = []
        with context:
            for _ in range(5 if not compile_model else 15):   # échauffement (et compilation)
                train_step(real, generator, discriminator, opt_g, opt_d, z_dim)
            for _ in range(max(steps // 10, 1)):
                _sync(device)
                start = time.perf_counter()
                for _ in range(10):
                    train_step(real, generator, discriminator, opt_g, opt_d, z_dim)
                _sync(device)
                chunks.append((time.perf_counter() - start) / 10)
        ms = 1000 * statistics.median(chunks)
        print(f"{name:28s} : {ms:7.1f} ms par étape")
        return ms
    finally:
        torch.set_num_threads(old_threads)
        torch.set_flush_denormal(False)


VARIANTS = {
    "jour1": {"kind": "jour1"},
    "jour1_1_fil": {"kind": "jour1", "threads": 1},
    "base": {},
    "1_fil": {"threads": 1},
    "canaux_en_dernier": {"channels_last": True},
    "denormaux_a_zero": {"flush_denormal": True},
    "bfloat16": {"autocast": True},
    "torch_compile": {"compile_model": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="étapes chronométrées par variante")
    parser.add_argument("--only", default="", help="variantes séparées par des virgules : " + ", ".join(VARIANTS))
    args = parser.parse_args()
    device = get_device()
    chosen = [v for v in args.only.split(",") if v] or list(VARIANTS)
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        parser.error(f"variante(s) inconnue(s) : {', '.join(unknown)} ; choisissez parmi {', '.join(VARIANTS)}")
    print(f"Appareil : {device} | {torch.get_num_threads()} fils | PyTorch {torch.__version__} | "
          f"{platform.processor() or platform.machine()} | lots de {BATCH}")
    for name in chosen:
        if name == "bfloat16" and device.type != "cpu":
            print(f"{name:28s} : non mesuré sur {device.type} (la perte BCE n'y est pas permise sous autocast)")
            continue
        try:
            measure(name, device, args.steps, **VARIANTS[name])
        except Exception as error:  # une variante indisponible (compilateur absent...) n'arrête pas les autres
            print(f"{name:28s} : indisponible ({type(error).__name__} : {str(error).splitlines()[0][:120]})")


if __name__ == "__main__":
    main()
