"""Le correcteur des enseignants (``tools/grade.py``) : ses pièces, sans classe entière.

Lire une copie, reconnaître son lab, rétablir les vérifications, donner les verdicts, la garde
Python, les erreurs d'usage ; et, sans lancer de noyau, chaque erreur typique des exercices
(``grading_fixtures.MISTAKES``) jouée contre sa vérification, chaque bloc « À VOUS DE JOUER »
lu comme « non tenté ». La correction d'une vraie classe, dans le bac à sable, est dans
``test_grade_classe.py`` (lent).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys

import grading_fixtures as gf
import nbformat
import pytest
from helpers import load_tool

from utils import course
from utils.checks import CheckError

grade = load_tool("grade")
ROOT = course.ROOT
LIMIT = 45   # secondes par copie : une copie juste s'arrête bien avant (mode --verifications-seulement)


# --- lire, reconnaître, préparer -----------------------------------------------------------

@pytest.mark.parametrize("content, reason", [
    ('{"cells": [{"cell_type": "code", "source": "x = 1", "outp', "JSON invalide"),
    ("bonjour", "JSON invalide"),
    ('["pas", "un", "notebook"]', "ne décrit pas un notebook .*reçu : list"),
    ('{"metadata": {}, "nbformat": 4}', "pas de liste de cellules"),
    ('{"cells": "abc", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "« cells » est de type str"),
    ('{"cells": [7], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "cellule n° 1 est de type int"),
    ('{"cells": [{"cell_type": "code", "source": 12, "metadata": {}, "outputs": []}], "metadata": {},'
     ' "nbformat": 4, "nbformat_minor": 5}', "texte de la cellule n° 1 est de type int"),
    ('{"cells": [], "metadata": {}, "nbformat": 7}', "format de notebook 7 inconnu"),
    ("[" * 100_000 + "]" * 100_000, "imbriqué sur plus de 64 niveaux"),
    ('{"a": ' * 70 + "1" + "}" * 70, "imbriqué sur plus de 64 niveaux"),
    ('{"cells": [{"cell_type": "image"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
     "mal formé"),
])
def test_unreadable_files_are_named(tmp_path, content, reason):
    path = tmp_path / "copie.ipynb"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(grade.Unreadable, match=reason):
        grade.read_submission(path)


def test_nbformat_3_notebook_is_read_and_converted(tmp_path):
    """Un notebook valide de l'ancien format 3 (« worksheets ») est lu, converti au format 4."""
    import nbformat.v3 as v3

    old = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[
        v3.new_text_cell("markdown", source="# Titre"), v3.new_code_cell(input="x = 1\nprint(x)")])])
    path = tmp_path / "ancien.ipynb"
    path.write_text(v3.writes_json(old), encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8"))["nbformat"] == 3
    nb = grade.read_submission(path)
    assert nb.nbformat == 4
    assert [(c.cell_type, c.source) for c in nb.cells] == [("markdown", "# Titre"), ("code", "x = 1\nprint(x)")]


def test_a_folder_or_fifo_named_ipynb_is_not_read(tmp_path):
    (tmp_path / "dossier.ipynb").mkdir()
    os.mkfifo(tmp_path / "tube.ipynb")
    notebooks, others = grade.find_submissions(tmp_path)
    assert notebooks == [] and others == []
    with pytest.raises(grade.Unreadable, match="pas un fichier ordinaire"):
        grade.read_submission(tmp_path / "tube.ipynb")   # sans bloquer sur le tube


def test_binary_file_is_unreadable(tmp_path):
    path = tmp_path / "copie.ipynb"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(grade.Unreadable, match="UTF-8"):
        grade.read_submission(path)


def test_every_lab_and_solution_is_recognised():
    labs = grade.course_labs()
    assert [lab.path for lab in labs] == [lab.path for day in course.written_days() for lab in day.labs]
    for lab in labs:
        assert lab.exercises and [e.number for e in lab.exercises] == list(range(1, len(lab.exercises) + 1))
        for folder in (course.LABS_DIR, course.SOLUTIONS_DIR):
            found, score = grade.identify(nbformat.read(folder / lab.path, as_version=4), labs)
            assert found is lab, f"{folder.name}/{lab.path} reconnu comme {found and found.path} ({score:.0%})"


def test_unknown_notebook_is_not_forced_into_a_lab():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('bonjour')")])
    assert grade.identify(nb, grade.course_labs())[0] is None


def _toy_lab():
    return next(lab for lab in grade.course_labs() if lab.path == gf.TOY)


def test_edited_or_deleted_checks_are_restored():
    lab = _toy_lab()
    nb = gf.submission(gf.TOY, gf.complete(gf.TOY))
    first, second = (next(i for i, c in enumerate(nb.cells) if c.source.strip() == e.check_source.strip())
                     for e in lab.exercises[:2])
    nb.cells[first].source = "print('✅ tout est juste')  # check_toy_generator(generator)"
    del nb.cells[second]
    plan = grade.prepare(nb, lab)
    assert plan.notes == ["exercice 1 : cellule de vérification modifiée, rétablie",
                          "exercice 2 : cellule de vérification absente, rétablie"]
    for exercise in lab.exercises:
        ex_cell, check_cell = plan.cells[exercise.number]
        assert plan.nb.cells[ex_cell].source.startswith(f"# Exercice {exercise.number} :")
        assert plan.nb.cells[check_cell].source == exercise.check_source
        assert ex_cell < check_cell
    assert all(not c.get("outputs") for c in plan.nb.cells if c.cell_type == "code")


def test_checks_only_stops_after_the_last_check():
    lab = _toy_lab()
    plan = grade.prepare(gf.submission(gf.TOY, {}), lab, checks_only=True)
    assert plan.nb.cells[-1].source == lab.exercises[-1].check_source


def test_missing_exercise_cell_is_not_attempted():
    lab = _toy_lab()
    nb = gf.submission(gf.TOY, {1: "generator = None  # j'ai effacé la première ligne"})
    plan = grade.prepare(nb, lab)
    result = grade.judge(plan, lab, [], grade.GRADED, LIMIT)
    assert result.verdicts[1][0] == grade.NOT_ATTEMPTED
    assert "introuvable" in result.verdicts[1][1]


def _events(plan, outcomes, end=True):
    """Des événements de cellules comme les écrit le processus d'exécution."""
    events = []
    for cell, error, verdicts in outcomes:
        events += [{"event": "start", "cell": cell},
                   {"event": "done", "cell": cell, "capped": False, "verdicts": verdicts,
                    "error": None if error is None else {"ename": error[0], "evalue": error[1]}}]
    return events + ([{"event": "end"}] if end else [])


def test_verdicts_from_cell_events():
    lab = _toy_lab()
    plan = grade.prepare(gf.submission(gf.TOY, {}), lab)
    (e1, c1), (e2, c2), (e3, c3), (e4, c4) = (plan.cells[n] for n in (1, 2, 3, 4))
    stub = ("NotImplementedError", "Exercice 3 : les pertes : complétez le bloc « À VOUS DE JOUER ».")
    events = _events(plan, [
        (e1, None, []), (c1, None, ["✅ Générateur correct"]),
        (e2, None, []), (c2, ("CheckError", "❌ Discriminateur : la couche de sortie est suivie de nn.Sigmoid()."), []),
        (e3, stub, []), (c3, ("NameError", "name 'discriminator_loss' is not defined"), []),
        (e4, ("SyntaxError", "invalid syntax (3008716541.py, line 4)"), []),
        (c4, ("NameError", "name 'train_step' is not defined"), []),
    ])
    result = grade.judge(plan, lab, events, grade.GRADED, LIMIT)
    assert result.verdicts == {
        1: (grade.PASSED, ""),
        2: (grade.FAILED, "Discriminateur : la couche de sortie est suivie de nn.Sigmoid()."),
        3: (grade.NOT_ATTEMPTED, ""),
        4: (grade.CRASHED, "SyntaxError: invalid syntax (3008716541.py, line 4)"),
    }


def test_check_that_reports_a_stub_is_not_attempted():
    lab = _toy_lab()
    plan = grade.prepare(gf.submission(gf.TOY, {}), lab)
    e1, c1 = plan.cells[1]
    events = _events(plan, [(e1, None, []), (c1, ("CheckError", "❌ Le générateur n'est pas encore écrit "
                                                  "(la cellule lève encore NotImplementedError)."), [])])
    assert grade.judge(plan, lab, events, grade.GRADED, LIMIT).verdicts[1][0] == grade.NOT_ATTEMPTED


def test_interrupted_run_names_the_cell_and_what_was_not_reached():
    lab = _toy_lab()
    plan = grade.prepare(gf.submission(gf.TOY, {}), lab)
    e1, c1 = plan.cells[1]
    e2, _ = plan.cells[2]
    events = _events(plan, [(e1, None, []), (c1, None, ["✅"])], end=False) + [{"event": "start", "cell": e2}]
    for status, words in ((grade.TIMED_OUT, "temps limite de 45 s dépassé"),
                          (grade.KERNEL_DIED, "le noyau s'est arrêté")):
        result = grade.judge(plan, lab, events, status, LIMIT)
        assert result.verdicts[1] == (grade.PASSED, "")
        assert result.verdicts[2][0] == grade.CRASHED
        assert result.verdicts[2][1].startswith(f"cellule de l'exercice {words}")
        assert result.verdicts[2][1].endswith("pendant cette cellule")
        assert all(result.verdicts[n][0] == grade.CRASHED and "non exécutée" in result.verdicts[n][1]
                   for n in (3, 4))
        assert f"cellule n° {e2 + 1}" in result.reason


# --- la garde Python (la seule protection sans bubblewrap) ---------------------------------

def _guarded(tmp_path, code):
    root = tmp_path / "copie"
    root.mkdir(exist_ok=True)
    script = grade.GUARD + "\n" + code
    return subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "GANS_GRADING_ROOT": str(root)}, timeout=60)


def test_guard_allows_writing_inside_the_copy(tmp_path):
    run = _guarded(tmp_path, "open('a.txt', 'w').write('x'); import os; os.mkdir('d'); os.remove('a.txt')\n"
                             "open('/etc/hostname').read(); print('ok')")
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


@pytest.mark.parametrize("code", [
    "open(TARGET, 'w').write('x')",
    "open(TARGET, 'a')",
    "import os; os.remove(TARGET)",
    "import pathlib; pathlib.Path(TARGET).unlink()",
    "import shutil; shutil.rmtree(TARGET_DIR)",
    "import os; os.rename(TARGET, TARGET + '.bak')",
    "import os; os.symlink(TARGET, 'lien'); open('lien', 'w')",
    "import os; os.system('rm ' + TARGET)",
    "import subprocess; subprocess.run(['rm', TARGET])",
    "import os; os.chmod(TARGET, 0)",
    "import os; fd = os.open(TARGET, os.O_WRONLY | os.O_TRUNC)",
    "import socket; socket.create_connection(('192.0.2.1', 80), timeout=1)",
], ids=["ecrire", "ajouter", "effacer", "unlink", "rmtree", "renommer", "lien", "system",
        "subprocess", "chmod", "os-open", "reseau"])
def test_guard_refuses_to_touch_anything_outside(tmp_path, code):
    witness = tmp_path / "autre" / "temoin.txt"
    witness.parent.mkdir()
    witness.write_text("intact", encoding="utf-8")
    run = _guarded(tmp_path, f"TARGET = {str(witness)!r}\nTARGET_DIR = {str(witness.parent)!r}\n{code}")
    assert run.returncode != 0
    assert "PermissionError: Correcteur" in run.stderr, run.stderr
    assert witness.read_text(encoding="utf-8") == "intact"
    assert sorted(p.name for p in witness.parent.iterdir()) == ["temoin.txt"]


# --- le rapport : ce qui vient d'une copie est montré, jamais interprété --------------------

def _html(markdown: str) -> str:
    """Le rapport rendu comme le rendrait un lecteur Markdown (mistune, avec les tableaux)."""
    import mistune

    return mistune.create_markdown(escape=False, plugins=["table"])(markdown)


@pytest.mark.parametrize("text", [
    "<img src=x onerror=alert(1)> **gras** [lien](http://exemple) # titre",
    "```\n# faux titre\n| a | b |\n```",
    "`code` puis `` deux `` <b>x</b>",
    "<script>alert('x')</script>\n- faux point de liste",
])
def test_untrusted_text_is_a_single_code_span(text):
    shown = grade._code(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    assert shown.startswith(fence) and shown.endswith(fence) and "\n" not in shown
    assert shown[len(fence):-len(fence)].strip() == text.replace("\n", " ").strip()
    html = _html(f"- {shown}")
    assert html.count("<code>") == 1 and "<img" not in html and "<script" not in html and "<b>" not in html


def test_grader_text_has_no_html_or_markdown():
    shown = grade._md("<b>x</b> *y* [z](u) | `c` #")
    assert "<" not in shown and ">" not in shown
    for char in "*[]|`#":
        assert all(shown[i - 1] == "\\" for i, c in enumerate(shown) if c == char)


def test_report_escapes_what_a_submission_controls(tmp_path):
    lab = _toy_lab()
    evil = "<img src=x onerror=alert(1)> **gras** | [lien](http://x)\n## faux titre"
    result = grade.Result(file="copie `<b>` | x.ipynb", lab=lab, status=grade.GRADED,
                          verdicts={1: (grade.FAILED, evil), 2: (grade.CRASHED, "ValueError: " + evil),
                                    3: (grade.PASSED, ""), 4: (grade.NOT_ATTEMPTED, "")},
                          other_errors=[evil])
    grade.write_report([result], tmp_path / "rapport.md",
                       {"folder": str(tmp_path), "quick": True, "limit": 10, "date": "aujourd'hui",
                        "isolation": "bubblewrap"})
    html = _html((tmp_path / "rapport.md").read_text(encoding="utf-8"))
    assert "<img" not in html and "<strong>gras" not in html and 'href="http://x"' not in html
    assert "faux titre</h2>" not in html and "&lt;img src=x" in html
    assert html.count("<td>") == 8   # une ligne de tableau : copie, 4 exercices, réussis, statut, durée


def test_submissions_that_touch_checks_or_handlers_are_flagged():
    lab = _toy_lab()
    nb = gf.submission(gf.TOY, {
        **gf.complete(gf.TOY),
        2: gf.solution_answer(gf.TOY, 2) + "\nget_ipython().set_custom_exc((Exception,), lambda *a: print('✅'))\n",
        3: gf.solution_answer(gf.TOY, 3) + "\nimport utils.checks\nutils.checks.check_toy_losses = print\n"},
        extra_cells={4: "import sys\nsys.modules['utils.checks'] = None\nopen('../../solutions/x')"})
    notes = grade.suspicious_cells(nb, lab)
    assert len(notes) == 3, notes
    assert "set_custom_exc" in notes[0]
    assert "une vérification (check_…) redéfinie" in notes[1] and "le module des vérifications" in notes[1]
    assert "sys.modules" in notes[2] and "les fichiers du cours" in notes[2]
    assert grade.suspicious_cells(gf.submission(gf.TOY, gf.complete(gf.TOY)), lab) == []


def test_cleanup_never_changes_what_a_link_points_to(tmp_path):
    outside = tmp_path / "dehors.txt"
    outside.write_text("à garder", encoding="utf-8")
    outside.chmod(0o400)
    tmp_path.chmod(0o755)
    copy = tmp_path / "copie"
    (copy / "verrou").mkdir(parents=True)
    (copy / "verrou" / "lien").symlink_to(outside)
    (copy / "lien-dossier").symlink_to(tmp_path, target_is_directory=True)
    base = os.path.realpath(copy) + os.sep
    for target in (copy / "verrou" / "lien", copy / "lien-dossier" / "dehors.txt", copy / "lien-dossier"):
        grade._unlock(base, str(target))
    assert outside.stat().st_mode & 0o777 == 0o400 and tmp_path.stat().st_mode & 0o777 == 0o755
    (copy / "verrou").chmod(0o500)
    grade._unlock(base, str(copy / "verrou" / "lien"))
    assert (copy / "verrou").stat().st_mode & 0o777 == 0o700   # un vrai dossier de la copie
    grade._remove(copy)
    assert not copy.exists() and outside.read_text(encoding="utf-8") == "à garder"
    assert outside.stat().st_mode & 0o777 == 0o400


def test_count_line_is_the_same_for_terminal_and_report():
    lab = _toy_lab()
    results = [grade.Result(file="a", lab=lab), grade.Result(file="b", status=grade.UNREADABLE)]
    assert grade.count_line(results, others=2) == (
        "2 copie(s) lue(s) : 1 notée(s), 1 illisible(s) ou d'un lab inconnu ; "
        "2 autre(s) fichier(s) ignoré(s) (ignores.txt)")


# --- la commande : erreurs d'usage ---------------------------------------------------------

def test_existing_notes_are_never_overwritten_silently(tmp_path):
    copies, notes = tmp_path / "copies", tmp_path / "notes"
    copies.mkdir()
    notes.mkdir()
    (notes / "notes.csv").write_text("ancien", encoding="utf-8")
    with pytest.raises(grade.GradingError, match="--ecraser"):
        grade.grade_folder(copies, notes)
    assert (notes / "notes.csv").read_text(encoding="utf-8") == "ancien"


@pytest.mark.parametrize("where, message", [
    (lambda tmp: (tmp / "rien", tmp / "notes"), "n'existe pas"),
    (lambda tmp: (tmp, tmp / "notes"), "hors du dossier des copies"),
    (lambda tmp: (tmp, ROOT / "utils"), "dossier du cours"),
    (lambda tmp: (tmp, ROOT), "dossier du cours"),
    (lambda tmp: (tmp / "vide", tmp / "notes"), "Aucun notebook"),
])
def test_bad_folders_get_a_french_message(tmp_path, where, message):
    (tmp_path / "vide").mkdir()
    copies, notes = where(tmp_path)
    with pytest.raises(grade.GradingError, match=message):
        grade.grade_folder(copies, notes)


def test_command_line_error_is_french_and_exits_with_2(tmp_path, capsys):
    assert grade.main([str(tmp_path / "absent")]) == 2
    assert "❌ Le dossier des copies" in capsys.readouterr().err


def test_sandbox_is_there_in_ci():
    """En CI (GANS_CI=1), bubblewrap doit être installé et marcher : la correction ci-dessous
    s'y fait dans le bac à sable, pas seulement sous la garde Python."""
    if os.environ.get("GANS_CI") != "1" and not grade.sandbox_available():
        pytest.skip("bubblewrap absent : la classe est notée sous la garde Python seulement "
                    "(sudo apt-get install bubblewrap pour le bac à sable)")
    assert grade.sandbox_available(), "bubblewrap (bwrap) absent ou inutilisable en CI"


# --- chaque erreur typique contre sa vérification, sans noyau ------------------------------

@functools.cache
def _namespace(lab):
    return gf.lab_namespace(lab)


MISTAKE_CASES = [pytest.param(lab, number, mistake, id=f"{lab.split('/')[0]}-ex{number}-{mistake[0]}")
                 for lab in gf.MISTAKES for number, variants in gf.MISTAKES[lab].items()
                 for mistake in variants]


@pytest.mark.parametrize("lab", list(gf.MISTAKES))
def test_solution_answers_pass_their_checks_in_process(lab):
    """Le banc d'essai sans noyau : les réponses du corrigé passent toutes leurs vérifications."""
    gf.run_answer(_namespace(lab), lab, gf.complete(lab))


@pytest.mark.parametrize("lab, number, mistake", MISTAKE_CASES)
def test_each_typical_mistake_is_refused_by_its_check(lab, number, mistake):
    """La réponse du corrigé faussée comme l'écrirait un étudiant : la cellule de l'exercice
    s'exécute, et sa vérification la refuse avec le message attendu (ce que le correcteur
    rapporte comme « échoué » ; voir la copie fausse de la classe plus bas)."""
    name, edits, pattern = mistake
    with pytest.raises(CheckError) as info:
        gf.run_answer(_namespace(lab), lab, {number: gf.wrong_answer(lab, number, edits)})
    assert re.search(pattern, str(info.value), re.S), f"{name} : {info.value}"


STUB_CASES = [pytest.param(lab, number, id=f"{lab.split('/')[0]}-ex{number}")
              for lab in gf.MISTAKES for number in gf.MISTAKES[lab]]


@pytest.mark.parametrize("lab, number", STUB_CASES)
def test_untouched_stub_is_read_as_not_attempted(lab, number):
    """Le bloc « À VOUS DE JOUER » laissé tel quel : l'erreur que voit le noyau (celle de la
    cellule de l'exercice, ou celle de sa vérification qui l'appelle) est lue par le correcteur
    comme « non tenté », pour chaque exercice des deux labs."""
    with pytest.raises(Exception) as info:
        gf.run_answer(_namespace(lab), lab, {number: gf.stub_answer(lab, number)})
    error = {"ename": type(info.value).__name__, "evalue": str(info.value)}
    assert grade._is_stub(error), error


@pytest.mark.parametrize("lab", list(gf.MISTAKES))
def test_mistake_plan_places_every_mistake_once(lab):
    """Les copies fausses réparties par ``mistake_plan`` portent chaque erreur typique une fois,
    jamais deux exercices liés (``DEPENDS``) faux dans la même copie."""
    plans = gf.mistake_plan(lab)
    placed = [(n, m[0]) for plan in plans for n, m in plan.items()]
    assert sorted(placed) == sorted((n, m[0]) for n, variants in gf.MISTAKES[lab].items() for m in variants)
    for plan in plans:
        assert not any(gf.DEPENDS[lab].get(n, set()) & plan.keys() for n in plan), plan
