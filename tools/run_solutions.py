"""Exécute les notebooks de solution en mode complet et y enregistre les sorties.

Les solutions livrées montrent les résultats d'un vrai entraînement ; après
toute modification d'une solution, relancez ce script puis
``python tools/make_labs.py``. Il affiche la durée de chaque notebook.

Usage, depuis la racine du dépôt :

    python tools/run_solutions.py                                         # toutes
    python tools/run_solutions.py solutions/images_gan/train_gan_images.ipynb
    python tools/run_solutions.py --quick ...                             # mode rapide (essai)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def run(path: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.time()
    client.execute()
    seconds = time.time() - start
    nbformat.write(nb, path)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--quick", action="store_true", help="mode rapide (GANS_QUICK=1)")
    parser.add_argument("--timeout", type=int, default=1800, help="limite par cellule, en secondes")
    args = parser.parse_args(argv)
    os.environ["GANS_QUICK"] = "1" if args.quick else "0"
    paths = args.notebooks or sorted((ROOT / "solutions").rglob("*.ipynb"))
    for path in paths:
        if ".ipynb_checkpoints" in path.parts:
            continue
        seconds = run(path.resolve(), args.timeout)
        mode = "rapide" if args.quick else "complet"
        print(f"{path} : {seconds:.0f} s (mode {mode})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
