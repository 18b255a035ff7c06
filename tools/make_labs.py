"""Génère les notebooks étudiants de ``02_labs/`` à partir de ``solutions/``.

Les solutions sont la seule source ; la liste des notebooks est celle du
programme, ``utils/course.py``. Dans une cellule de code, chaque bloc ::

    ### BEGIN SOLUTION
    ...
    ### END SOLUTION

est remplacé, à la même indentation, par un bloc « À VOUS DE JOUER » qui lève
``NotImplementedError`` avec le nom de l'exercice (tiré de la ligne
``# Exercice N : ...`` de la cellule). Dans une cellule Markdown, un bloc
``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` devient une invite à
répondre. Les sorties, les numéros d'exécution, les étiquettes nbval et les
métadonnées d'exécution sont retirés.

Usage, depuis la racine du dépôt :

    python tools/make_labs.py          # réécrit 02_labs/
    python tools/make_labs.py --check  # échoue si un lab n'est pas à jour
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from utils import course

ROOT = course.ROOT
SOLUTIONS = course.SOLUTIONS_DIR
LABS = course.LABS_DIR

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
MD_BEGIN = "<!-- BEGIN SOLUTION -->"
MD_END = "<!-- END SOLUTION -->"
EXERCISE = re.compile(r"^[ \t]*#[ \t]*(Exercice[ \t]+\d+[^\n]*)$", re.MULTILINE)
STUB_MARK = "À VOUS DE JOUER"
MD_STUB = "*✍️ À vous : écrivez votre réponse ici.*"


class LabError(ValueError):
    """Un notebook de solution est mal balisé."""


def strip_code(source: str, where: str) -> str:
    """Remplace les blocs de solution d'une cellule de code par des blocs à compléter."""
    found = EXERCISE.search(source)
    label = found.group(1).strip() if found else "Exercice"
    message = f"{label} : complétez le bloc « {STUB_MARK} »."
    out, inside, indent = [], False, ""
    for number, line in enumerate(source.split("\n"), start=1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise LabError(f"{where}, ligne {number} : BEGIN SOLUTION imbriqué.")
            inside, indent = True, begin.group("indent")
            out.append(f"{indent}# {STUB_MARK} : remplacez cette ligne par votre code.")
            out.append(f"{indent}raise NotImplementedError({message!r})")
        elif END.match(line):
            if not inside:
                raise LabError(f"{where}, ligne {number} : END SOLUTION sans BEGIN SOLUTION.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise LabError(f"{where} : BEGIN SOLUTION sans END SOLUTION.")
    return "\n".join(out)


def strip_markdown(source: str, where: str) -> str:
    """Remplace les réponses balisées d'une cellule Markdown par une invite."""
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.DOTALL)
    if source.count(MD_BEGIN) != source.count(MD_END):
        raise LabError(f"{where} : balises de solution Markdown déséquilibrées.")
    return pattern.sub(MD_STUB, source)


def make_lab(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """Construit le notebook étudiant (sans sorties ni solutions) à partir d'une solution."""
    lab = copy.deepcopy(solution)
    for index, cell in enumerate(lab.cells):
        where = f"{name}, cellule {index}"
        tags = [t for t in cell.get("metadata", {}).get("tags", []) if not t.startswith("nbval")]
        cell["metadata"] = {"tags": tags} if tags else {}
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(cell.source, where)
            cell.pop("attachments", None)
    lab.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    lab.nbformat, lab.nbformat_minor = 4, 4
    return lab


def render(notebook: nbformat.NotebookNode) -> str:
    """Texte JSON exact écrit sur le disque (stable d'une génération à l'autre)."""
    return nbformat.writes(notebook, version=4) + "\n"


def expected_labs(solutions: Path = SOLUTIONS, labs: Path = LABS) -> dict[Path, str]:
    """Pour chaque jour écrit du programme, le chemin du lab et le texte qu'il doit contenir."""
    result = {}
    for day in course.written_days():
        for lab in day.labs:
            path = solutions / lab.path
            if not path.is_file():
                raise LabError(f"Jour {day.number} : corrigé introuvable, {path} (voir utils/course.py).")
            solution = nbformat.read(path, as_version=4)
            result[labs / lab.path] = render(make_lab(solution, lab.path))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Génère 02_labs/ à partir de solutions/.")
    parser.add_argument("--check", action="store_true",
                        help="ne rien écrire ; échouer si un lab diffère de ce qui serait généré")
    args = parser.parse_args(argv)
    stale = []
    for lab_path, text in expected_labs().items():
        current = lab_path.read_text(encoding="utf-8") if lab_path.exists() else None
        if current == text:
            continue
        stale.append(lab_path)
        if not args.check:
            lab_path.parent.mkdir(parents=True, exist_ok=True)
            lab_path.write_text(text, encoding="utf-8")
            print(f"écrit : {lab_path.relative_to(ROOT)}")
    if args.check and stale:
        print("Labs périmés (lancez « python tools/make_labs.py ») :")
        for path in stale:
            print(f"  {path.relative_to(ROOT)}")
        return 1
    if not stale:
        print("Tous les labs sont à jour.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
