"""Les rapports de mutants (``tools/mutants.py``) : à jour, au score, et reproductibles.

* Chaque rapport porte l'empreinte de ce dont il dépend (l'outil, les équivalents, les réponses
  justes, les vérifications du jour, les cellules de ses corrigés) : une vérification ou un
  corrigé modifié sans relancer l'outil fait échouer ``test_reports_are_up_to_date``.
* Le score : au moins 98 % des mutants non équivalents tués par exercice, chaque réponse juste
  écrite autrement acceptée.
* Un échantillon fixe de mutants par lab (premier exercice) est rejoué et doit recevoir le même
  verdict que dans le rapport (test lent : ``pytest --complet``).
"""

from __future__ import annotations

import re

import pytest
from helpers import load_tool

from utils import course

mutants = load_tool("mutants")
DAYS = [day.number for day in course.DAYS if not day.planned]
ROW = re.compile(r"^\| (\S+#\d+) .*? \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| "
                 r"([\d.]+) \| (\d+)/(\d+) \| (\d+) \|$")


def _rows(number):
    text = mutants.report_path(number).read_text(encoding="utf-8")
    return [ROW.match(line).groups() for line in text.splitlines() if ROW.match(line)]


@pytest.mark.parametrize("number", DAYS)
def test_reports_are_up_to_date(number):
    assert mutants.report_path(number).is_file(), f"lancez python tools/mutants.py --day {number}"
    assert mutants.report_fingerprint(number) == mutants.fingerprint(number), (
        f"rapport du jour {number} périmé : relancez python tools/mutants.py --day {number}")


@pytest.mark.parametrize("number", DAYS)
def test_every_exercise_kills_98_percent_and_accepts_every_right_answer(number):
    rows = _rows(number)
    expected = {e.key for lab in mutants.day_labs(number) for e in mutants.exercises(lab)}
    assert {row[0] for row in rows} == expected
    for key, generated, killed, crashed, alive, blocked, equivalent, idle, score, right, tried, _ in rows:
        counts = [int(x) for x in (killed, crashed, alive, blocked, equivalent, idle)]
        assert sum(counts) == int(generated), key
        assert int(killed) + int(crashed) >= 0.98 * (int(killed) + int(crashed) + int(alive) + int(blocked)), key
        assert int(tried) >= 1 and right == tried, f"{key} : une réponse juste écrite autrement est refusée"


def test_every_listed_equivalent_is_a_mutant_of_todays_solutions():
    known = {m.key for number in DAYS for lab in mutants.day_labs(number)
             for exercise in mutants.exercises(lab) for m in mutants.generate(exercise)}
    listed = set(mutants.load_equivalents())
    assert listed and not listed - known, sorted(listed - known)[:3]


def test_generated_mutants_cover_the_operators_asked_for():
    exercise = next(e for e in mutants.exercises("wgan_gp/wgan_gp_mnist.ipynb") if e.number == 5)
    operators = {m.operator for m in mutants.generate(exercise)}
    assert {"constante", "instruction retirée", "opérateur", "arguments intervertis", "argument retiré",
            "appel .detach() retiré", "fonction échangée", "entrée ignorée",
            "argument modifié sur place"} <= operators
    exercise = next(e for e in mutants.exercises("dynamique/gan_2d_playground.ipynb") if e.number == 2)
    operators = {m.operator for m in mutants.generate(exercise)}
    assert {"activation", "couche ajoutée", "couche retirée", "valeur bornée", "signe"} <= operators


@pytest.mark.lent
@pytest.mark.parametrize("lab", [str(p.relative_to(course.SOLUTIONS_DIR)) for p in course.solution_paths()])
def test_a_fixed_sample_of_mutants_keeps_its_reported_verdict(lab):
    number = course.day_of(course.SOLUTIONS_DIR / lab).number
    report = mutants.report_path(number).read_text(encoding="utf-8")
    (result,) = mutants.run_lab(lab, only=1, workers=1, sample=6, log=lambda *args: None)
    assert result.solution.status == "survivant"
    for outcome in result.outcomes:
        if outcome.status == "équivalent":
            continue
        short = outcome.key.split(" | ", 1)[1].replace("|", "\\|")
        if outcome.status in ("tué", "planté"):
            assert f"| `{short}` | {outcome.status} |" in report, outcome.key
        elif outcome.status == "non déclenché":
            assert f"- `{short}` : non déclenché" in report, outcome.key
        else:
            full = outcome.key.replace("|", "\\|")
            assert f"- `{full}` : {outcome.status}" in report, outcome.key
    assert all(o.status == "juste" for o in result.right), [o.message for o in result.right]
