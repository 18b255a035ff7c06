"""Réécrit le tableau du programme dans ``README.md`` à partir de ``utils/course.py``.

Le tableau (une ligne par jour : leçon, lab, corrigé, durée) se trouve entre
les deux balises ``<!-- programme:début -->`` et ``<!-- programme:fin -->`` du
README ; le reste du fichier n'est pas touché. Un jour prévu mais pas encore
écrit apparaît avec « *à venir* ».

Usage, depuis la racine du dépôt :

    python tools/make_readme.py          # réécrit le tableau du README
    python tools/make_readme.py --check  # échoue si le tableau n'est pas à jour
"""

from __future__ import annotations

import argparse
import sys

from utils.course import DAYS, ROOT, Day

README = ROOT / "README.md"
BEGIN = "<!-- programme:début -->"
END = "<!-- programme:fin -->"
HEADER = (
    "| jour | leçon | lab (à compléter) | corrigé | durée du lab (CPU 2 cœurs) |\n"
    "|---|---|---|---|---|\n"
)


def row(day: Day) -> str:
    """Les lignes du tableau pour un jour (liens relatifs à la racine du dépôt).

    Un jour à plusieurs labs a une ligne par lab ; les suivantes laissent vides
    le numéro et la leçon.
    """
    if day.planned:
        return f"| {day.number} | {day.title} | *à venir* | | |\n"
    lines = []
    for index, lab in enumerate(day.labs):
        start = f"| {day.number} | [{day.title}]({day.lesson}) " if index == 0 else "| | "
        lines.append(
            f"{start}"
            f"| [{lab.title}](02_labs/{lab.path}) "
            f"| [corrigé](solutions/{lab.path}) "
            f"| {lab.budget} |\n"
        )
    return "".join(lines)


def table(days=DAYS) -> str:
    """Le tableau complet du programme, en-tête compris."""
    return HEADER + "".join(row(day) for day in days)


def updated(text: str, days=DAYS) -> str:
    """Le texte du README avec le tableau remplacé entre les deux balises."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(
            f"Le README doit contenir une fois « {BEGIN} », puis une fois « {END} », "
            "autour du tableau du programme."
        )
    before, rest = text.split(BEGIN)
    _, after = rest.split(END)
    return f"{before}{BEGIN}\n{table(days)}{END}{after}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="ne rien écrire ; échouer si le tableau diffère de ce qui serait généré")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    expected = updated(current)
    if current == expected:
        print("Le tableau du README est à jour.")
        return 0
    if args.check:
        print("Tableau du README périmé (lancez « python tools/make_readme.py »).")
        return 1
    README.write_text(expected, encoding="utf-8")
    print(f"écrit : {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
