"""Des copies d'étudiants fabriquées pour tester le correcteur (``tools/grade.py``).

Chaque copie part du lab (``02_labs/``) ; une réponse est prise dans le corrigé (blocs
``### BEGIN SOLUTION`` retirés), éventuellement faussée par une substitution de texte
qui reproduit une erreur typique connue des vérifications (voir leurs tests :
``tests/test_checks_jour_02.py`` et ``tests/test_checks_jour_06.py``).

Les erreurs typiques sont rangées par exercice : ``MISTAKES[lab][n]`` est une liste de
``(nom, [(ancien texte, nouveau texte), ...], motif attendu dans le message)``. Un exercice
qui appelle la réponse d'un autre (``DEPENDS``) ne peut pas être faux dans la même copie que
lui : sa vérification verrait les deux erreurs à la fois.
"""

from __future__ import annotations

import json
import re

import nbformat

from utils import course

TOY = "dynamique/gan_2d_playground.ipynb"
EVALUATION = "evaluation/evaluer_generateurs.ipynb"

EXERCISE_RE = re.compile(r"^# Exercice (\d+) :")

MISTAKES = {
    TOY: {
        1: [
            ("tanh-en-sortie", [("layers.append(nn.Linear(width, 2))",
                                 "layers += [nn.Linear(width, 2), nn.Tanh()]")],
             r"sortie est suivie de nn\.Tanh\(\)"),
            ("sigmoide-cachee", [("nn.ReLU()", "nn.Sigmoid()")],
             r"cachée n° 1 est suivie de nn\.Sigmoid\(\)"),
            ("trois-sorties", [("nn.Linear(width, 2)", "nn.Linear(width, 3)")],
             "dernière couche doit produire 2"),
            ("activation-pas-appelee", [("layers += [nn.Linear(width, hidden), nn.ReLU()]",
                                         "layers += [nn.Linear(width, hidden)]")],
             "fonction affine"),
        ],
        2: [
            ("sigmoide-en-sortie", [("layers.append(nn.Linear(width, 1))",
                                     "layers += [nn.Linear(width, 1), nn.Sigmoid()]")],
             r"nn\.Sigmoid\(\).*score brut \(logit\)"),
            ("relu-cachee", [("nn.LeakyReLU(0.2)", "nn.ReLU()")],
             r"cachée n° 1 est suivie de nn\.ReLU\(\)"),
            ("pente-par-defaut", [("nn.LeakyReLU(0.2)", "nn.LeakyReLU()")], "pente"),
            ("deux-sorties", [("nn.Linear(width, 1)", "nn.Linear(width, 2)")],
             "dernière couche doit produire 1"),
        ],
        3: [
            ("cibles-inversees", [("real_out, torch.ones_like(real_out)", "real_out, torch.zeros_like(real_out)"),
                                  ("fake_out, torch.zeros_like(fake_out)", "fake_out, torch.ones_like(fake_out)")],
             "les cibles sont inversées"),
            ("sans-faux", [("\n            + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))",
                            ")")],
             "il manque le terme des faux"),
            ("g-cible-0", [("return F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))",
                            "return F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out))")],
             "la cible est 0"),
        ],
        4: [
            ("un-seul-pas-de-d", [("for _ in range(d_steps):", "for _ in range(1):")],
             "le discriminateur ne fait qu'un pas"),
            ("sans-zero-grad-d", [("        opt_d.zero_grad()\n", "")],
             r"opt_d\.zero_grad\(\) avant loss_d\.backward\(\)"),
            ("detach-pour-g", [("generator_loss(discriminator(fake), loss)",
                                "generator_loss(discriminator(fake.detach()), loss)")],
             "le gradient de loss_g s'arrête avant G"),
        ],
    },
    EVALUATION: {
        1: [
            ("facteur-2", [("- 2 * cross", "- cross")], "facteur 2"),
            ("plus-au-lieu-de-moins", [("- 2 * cross", "+ 2 * cross")], "SOUSTRAIT"),
            ("sans-moyennes", [("(mu1 - mu2).pow(2).sum() + ", "")], r"moyennes .* manque"),
            ("sans-covariances", [("+ torch.trace(sigma1) + torch.trace(sigma2) - 2 * cross", "")],
             r"covariance .* manquent"),
        ],
        2: [
            ("lui-meme", [("    distances.fill_diagonal_(float(\"inf\"))\n", "")], "lui-même"),
            ("au-carre", [("return distances.kthvalue(k, dim=1).values",
                           "return distances.kthvalue(k, dim=1).values ** 2")], "au carré"),
            ("k-plus-1", [("kthvalue(k, dim=1)", "kthvalue(k + 1, dim=1)")], r"k\+1"),
        ],
        3: [
            ("inversees", [("return precision, recall", "return recall, precision")], "inversées"),
            ("k-moins-1", [("knn_radii(real, k)", "knn_radii(real, k - 1)"),
                           ("knn_radii(fake, k)", "knn_radii(fake, k - 1)")], r"\(k-1\)"),
            ("un-seul-nombre", [("return precision, recall", "return precision")], "deux nombres"),
        ],
        4: [
            ("inversees", [("return density, coverage", "return coverage, density")], "inversées"),
            ("pas-divisee", [(".mean().item() / k", ".mean().item()")], "pas divisée par k"),
        ],
        5: [
            ("au-carre", [("return (to_train.median() / torch.cat(within).median()).item()",
                           "return (to_train.median() / torch.cat(within).median()).item() ** 2")],
             "au carré"),
            ("moyennes", [("to_train.median() / torch.cat(within).median()",
                           "to_train.mean() / torch.cat(within).mean()")], "MÉDIANES"),
            ("soi-meme", [("        distances[rows, rows + start] = float(\"inf\")      "
                           "# une image n'est pas sa propre voisine\n", "")],
             "division par zéro"),
        ],
    },
}


#: Exercice -> exercices dont il appelle la réponse (le pas d'entraînement appelle les pertes ;
#: précision, rappel, densité et couverture appellent knn_radii).
DEPENDS = {TOY: {4: {3}}, EVALUATION: {3: {2}, 4: {2}}}


def mistake_plan(lab: str) -> list[dict]:
    """Répartit toutes les erreurs typiques du lab en aussi peu de copies que possible.

    Renvoie une liste de copies ; chacune est un dictionnaire exercice -> erreur
    ``(nom, substitutions, motif)``. Deux exercices liés par ``DEPENDS`` ne sont jamais faux
    dans la même copie ; les autres exercices y reçoivent la réponse juste.
    """
    linked = {(a, b) for a, deps in DEPENDS[lab].items() for b in deps}
    linked |= {(b, a) for a, b in linked}
    pending = {n: list(variants) for n, variants in MISTAKES[lab].items()}
    plans = []
    while any(pending.values()):
        plan = {}
        for n in sorted(pending, key=lambda m: -len(pending[m])):
            if pending[n] and not any((n, m) in linked for m in plan):
                plan[n] = pending[n].pop(0)
        plans.append(dict(sorted(plan.items())))
    return plans


def _cells(path: str, folder):
    return nbformat.read(folder / path, as_version=4)


def _exercise_index(code_cells, number: int) -> int:
    """L'indice, parmi ``code_cells``, de la cellule « # Exercice ``number`` : … »."""
    return next(i for i, c in enumerate(code_cells) if EXERCISE_RE.match(c.source)
                and int(EXERCISE_RE.match(c.source).group(1)) == number)


def _code_cells(lab: str, folder) -> list:
    return [c for c in _cells(lab, folder).cells if c.cell_type == "code"]


def solution_answer(lab: str, number: int) -> str:
    """La réponse du corrigé à l'exercice ``number``, sans les marqueurs BEGIN/END SOLUTION."""
    cells = _code_cells(lab, course.SOLUTIONS_DIR)
    return "".join(line for line in cells[_exercise_index(cells, number)].source.splitlines(keepends=True)
                   if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def stub_answer(lab: str, number: int) -> str:
    """La cellule de l'exercice ``number`` telle que le lab la donne (bloc « À VOUS DE JOUER »)."""
    cells = _code_cells(lab, course.LABS_DIR)
    return cells[_exercise_index(cells, number)].source


def wrong_answer(lab: str, number: int, edits) -> str:
    """La réponse du corrigé, faussée par les substitutions ``edits`` (chacune doit s'appliquer)."""
    source = solution_answer(lab, number)
    for old, new in edits:
        assert source.count(old) >= 1, f"substitution introuvable dans l'exercice {number} : {old!r}"
        source = source.replace(old, new)
    return source


def submission(lab: str, answers: dict[int, str], extra_cells: dict[int, str] | None = None):
    """Une copie : le lab, dont les exercices de ``answers`` reçoivent le texte donné (les
    autres gardent leur bloc « À VOUS DE JOUER »). ``extra_cells`` : des cellules de code
    ajoutées par l'étudiant, après la cellule de l'exercice n."""
    nb = _cells(lab, course.LABS_DIR)
    for index in reversed(range(len(nb.cells))):
        cell = nb.cells[index]
        match = EXERCISE_RE.match(cell.source) if cell.cell_type == "code" else None
        if not match:
            continue
        number = int(match.group(1))
        if number in answers:
            cell.source = answers[number]
        if extra_cells and number in extra_cells:
            nb.cells.insert(index + 1, nbformat.v4.new_code_cell(extra_cells[number]))
    return nb


def complete(lab: str, numbers=None):
    """Les réponses justes du corrigé (pour les exercices ``numbers``, tous par défaut)."""
    total = len(MISTAKES[lab])
    return {n: solution_answer(lab, n) for n in (numbers or range(1, total + 1))}


def _quiet_exec(source: str, name: str, scope: dict) -> None:
    """Exécute ``source`` dans ``scope`` comme une cellule : sorties et avertissements avalés,
    figures fermées ; les erreurs remontent."""
    import contextlib
    import io
    import warnings

    import matplotlib.pyplot as plt

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exec(compile(source, name, "exec"), scope)
        finally:
            plt.close("all")


def lab_namespace(lab: str) -> dict:
    """Exécute dans ce processus, en mode rapide, les cellules de code du corrigé qui précèdent
    sa première cellule d'exercice ; renvoie l'espace de noms obtenu.

    C'est l'état d'un noyau au moment où l'étudiant écrit son premier exercice : la cellule de
    démarrage (imports, vérifications, ``CONFIG``) et ce qui prépare les exercices (données,
    caractéristiques de référence). Les erreurs typiques s'y jouent sans lancer un noyau par
    copie (voir :func:`run_answer`).
    """
    namespace = {"__name__": "__main__", "display": lambda *args, **kwargs: None}
    for index, cell in enumerate(_code_cells(lab, course.SOLUTIONS_DIR)):
        if EXERCISE_RE.match(cell.source):
            break
        _quiet_exec(cell.source, f"{lab} (cellule de code n° {index + 1})", namespace)
    return namespace


def check_source(lab: str, number: int) -> str:
    """Le texte de la cellule de vérification de l'exercice ``number`` (la première cellule de
    code qui suit l'exercice et appelle une fonction ``check_...``)."""
    cells = _code_cells(lab, course.LABS_DIR)
    start = _exercise_index(cells, number)
    return next(c.source for c in cells[start + 1:] if re.search(r"\bcheck_\w+\s*\(", c.source))


def run_answer(namespace: dict, lab: str, answers: dict[int, str]) -> None:
    """Exécute, dans une copie de ``namespace``, chaque réponse de ``answers`` (dans l'ordre des
    exercices) suivie de sa cellule de vérification, comme le ferait le noyau ; les erreurs
    (``CheckError`` d'une vérification comprise) remontent. Les exercices absents de
    ``answers`` prennent la réponse du corrigé s'ils précèdent le dernier exercice donné."""
    scope = dict(namespace)
    for number in range(1, max(answers) + 1):
        _quiet_exec(answers.get(number) or solution_answer(lab, number), f"{lab} (exercice {number})", scope)
        _quiet_exec(check_source(lab, number), f"{lab} (vérification {number})", scope)


def write(nb, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, ensure_ascii=False, indent=1), encoding="utf-8")
