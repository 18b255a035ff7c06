"""Exécute les notebooks de solution en mode complet et y enregistre les sorties.

Les solutions livrées montrent les résultats d'un vrai entraînement ; après
toute modification d'une solution, relancez ce script puis
``python tools/make_labs.py``. Il affiche la durée de chaque notebook.

Les notebooks tournent dans l'ordre du cours (``utils/course.py``), jamais dans
l'ordre alphabétique : les jours 3 et 5 relisent les échantillons enregistrés
par le jour 1 (``outputs/train_gan_images/``), qui doit donc tourner avant eux.

Usage, depuis la racine du dépôt :

    python tools/run_solutions.py                                         # toutes
    python tools/run_solutions.py --day 3                                 # les corrigés du jour 3
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

from utils import course


def run(path: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.time()
    client.execute()
    seconds = time.time() - start
    # Pas d'état de widget enregistré : il alourdit le fichier et ne sert à rien sans noyau.
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def select(notebooks: list[Path], days: list[int]) -> list[Path]:
    """Les corrigés à exécuter, dans l'ordre du cours.

    Sans notebook ni jour : tous les corrigés du programme. Un notebook donné
    (corrigé, ou aussi bien son lab) désigne ce corrigé seul ; une leçon
    désigne tous les corrigés de son jour ; un jour donné doit être déjà écrit.
    """
    chosen: set[Path] = set()
    for path in notebooks:
        day = course.day_of(path)
        target = Path(path).resolve()
        labs = dict(zip(day.all_lab_paths, day.all_solution_paths))
        if target in day.all_solution_paths:
            chosen.add(target)
        elif target in labs:
            chosen.add(labs[target])
        else:
            chosen.update(day.all_solution_paths)
    for number in days:
        if course.get_day(number).planned:
            raise ValueError(f"Le jour {number} est à venir : il n'a pas encore de corrigé.")
        chosen.update(course.get_day(number).all_solution_paths)
    return [path for path in course.solution_paths() if not chosen or path in chosen]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="corrigés à exécuter (par défaut : tous)")
    parser.add_argument("--day", type=int, action="append", default=[], metavar="N",
                        help="exécuter le corrigé du jour N (option répétable)")
    parser.add_argument("--quick", action="store_true", help="mode rapide (GANS_QUICK=1)")
    parser.add_argument("--timeout", type=int, default=1800, help="limite par cellule, en secondes")
    args = parser.parse_args(argv)
    try:
        paths = select(args.notebooks, args.day)
    except ValueError as error:
        parser.error(str(error))
    os.environ["GANS_QUICK"] = "1" if args.quick else "0"
    mode = "rapide" if args.quick else "complet"
    for path in paths:
        seconds = run(path, args.timeout)
        print(f"{path.relative_to(course.ROOT)} : {seconds:.0f} s (mode {mode})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
