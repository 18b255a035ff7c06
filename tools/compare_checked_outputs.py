"""Compare les sorties vérifiées par nbval d'un corrigé entre une révision git et le disque.

Une sortie « vérifiée » est celle d'une cellule de code sans l'étiquette
``nbval-ignore-output`` : nbval la compare à chaque exécution des tests. Ce
script dit, pour chaque corrigé du programme, si ces sorties sont restées
identiques (textes, flux, erreurs ; les images ne sont jamais comparées par
nbval). Utile après une réorganisation qui ne doit rien changer pour l'étudiant.

Usage, depuis la racine du dépôt :

    python tools/compare_checked_outputs.py            # contre HEAD
    python tools/compare_checked_outputs.py 1e271ac    # contre une autre révision
"""

from __future__ import annotations

import json
import subprocess
import sys

from utils import course

COMPARED = ("text/plain", "text/html", "text/latex", "image/svg+xml")


def checked_outputs(notebook: dict) -> list:
    """Les sorties comparées par nbval, cellule par cellule (dans l'ordre des cellules de code)."""
    result = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        source = "".join(cell["source"])
        if "nbval-ignore-output" in tags or "NBVAL_IGNORE_OUTPUT" in source:
            result.append(None)
            continue
        outputs = []
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                text = "".join(output["text"])
                if outputs and outputs[-1][0] == output["name"]:  # nbval réunit les flux consécutifs
                    text = outputs.pop()[1] + text
                outputs.append((output["name"], text))
            elif output["output_type"] == "error":
                outputs.append(("erreur", output["ename"], output["evalue"]))
            else:
                data = output.get("data", {})
                outputs.append(tuple((key, "".join(data[key])) for key in COMPARED if key in data))
        result.append(outputs)
    return result


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    revision = argv[0] if argv else "HEAD"
    changed = 0
    for solution in course.solution_paths():
        path = solution.relative_to(course.ROOT).as_posix()
        shown = subprocess.run(["git", "show", f"{revision}:{path}"], capture_output=True)
        if shown.returncode != 0:
            print(f"{path} : absent de {revision}, rien à comparer")
            continue
        before = json.loads(shown.stdout)
        with open(course.ROOT / path, encoding="utf-8") as handle:
            after = json.load(handle)
        old, new = checked_outputs(before), checked_outputs(after)
        if len(old) != len(new):
            print(f"{path} : {len(old)} cellules de code avant, {len(new)} après")
            changed += 1
            continue
        differences = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
        compared = sum(a is not None and b is not None for a, b in zip(old, new))
        if differences:
            changed += 1
            print(f"{path} : sorties vérifiées différentes dans les cellules de code {differences}")
        else:
            print(f"{path} : {compared} cellules vérifiées, sorties identiques à {revision}")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
