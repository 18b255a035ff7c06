"""Le correcteur des enseignants (``tools/grade.py``).

Deux parties : des tests rapides de ses pièces (lire une copie, reconnaître son lab,
rétablir les vérifications, donner les verdicts, la garde Python), puis une vraie
correction d'une classe fabriquée (``grading_fixtures.py``) : copies complètes, à moitié
faites, chaque erreur typique des exercices, boucle sans fin, noyau qui meurt, sortie de
plusieurs mégaoctets, notebook qui tente d'effacer hors de son dossier, JSON tronqué. Chaque
copie doit recevoir le bon verdict, et rien ne doit changer hors du dossier des notes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import grading_fixtures as gf
import nbformat
import pytest
from helpers import load_tool

from utils import course

grade = load_tool("grade")
ROOT = course.ROOT
LIMIT = 45   # secondes par copie : une copie juste s'arrête bien avant (mode --verifications-seulement)


# --- lire, reconnaître, préparer -----------------------------------------------------------

@pytest.mark.parametrize("content, reason", [
    ('{"cells": [{"cell_type": "code", "source": "x = 1", "outp', "JSON invalide"),
    ("bonjour", "JSON invalide"),
    ('["pas", "un", "notebook"]', "pas de liste de cellules"),
    ('{"cells": [{"cell_type": "image"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
     "mal formé"),
])
def test_unreadable_files_are_named(tmp_path, content, reason):
    path = tmp_path / "copie.ipynb"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(grade.Unreadable, match=reason):
        grade.read_submission(path)


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


# --- une vraie classe ----------------------------------------------------------------------

def _snapshot(*roots, skip=()):
    """Empreinte de chaque fichier sous ``roots`` (hors ``skip``) : chemin -> SHA-256."""
    prints = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if any(s == path or s in path.parents for s in skip) or "__pycache__" in path.parts:
                continue
            if path.is_file():
                prints[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                prints[str(path)] = "dossier"
    return prints


def _destroyer(copies: Path, notes: Path, witness: Path) -> tuple[str, str]:
    """Le code d'une copie malveillante : effacer le cours, les autres copies, un fichier voisin,
    écrire dans les notes ; rien n'est rattrapé dans la cellule de l'exercice 1."""
    targets = [str(ROOT / "utils" / "course.py"), str(ROOT / "utils"), str(copies / "sous-dossier" / "étudiant 7" / "Copie finale (2).ipynb"),
               str(copies), str(witness), str(notes / "notes.csv")]
    extra = (
        "import os, shutil\n"
        f"for target in {targets!r}:\n"
        "    for attempt in (lambda: shutil.rmtree(target), lambda: os.remove(target),\n"
        "                    lambda: open(target, 'w').write('effacé'),\n"
        "                    lambda: os.system('rm -rf ' + target)):\n"
        "        try:\n"
        "            attempt()\n"
        "        except Exception as error:\n"
        "            print('refusé :', type(error).__name__)\n"
    )
    exercise_1 = gf.solution_answer(gf.TOY, 1) + f"\nimport os\nos.remove({str(witness)!r})\n"
    return exercise_1, extra


def _build_class(tmp_path: Path):
    copies, notes, witness = tmp_path / "copies", tmp_path / "notes", tmp_path / "temoin.txt"
    witness.write_text("à garder", encoding="utf-8")
    toy, ev = gf.TOY, gf.EVALUATION
    every = gf.complete(toy)
    gf.write(gf.submission(toy, every), copies / "sous-dossier" / "étudiant 7" / "Copie finale (2).ipynb")
    gf.write(gf.submission(toy, gf.complete(toy, [1, 2])), copies / "moitie.ipynb")
    for lab, prefix in ((toy, "fautes"), (ev, "eval_fautes")):
        for k, plan in enumerate(gf.mistake_plan(lab), start=1):
            answers = {**gf.complete(lab), **{n: gf.wrong_answer(lab, n, m[1]) for n, m in plan.items()}}
            gf.write(gf.submission(lab, answers), copies / f"{prefix}_{k}.ipynb")
    gf.write(gf.submission(toy, {**every, 2: every[2] + "\nwhile True:\n    pass\n"}), copies / "boucle.ipynb")
    gf.write(gf.submission(toy, {**every, 2: every[2] + "\nimport os\nos._exit(1)\n"}), copies / "noyau.ipynb")
    gf.write(gf.submission(toy, {**every, 1: every[1] + "\nprint('bla ' * 750_000)\n"}), copies / "bavard.ipynb")
    exercise_1, extra = _destroyer(copies, notes, witness)
    gf.write(gf.submission(toy, {**every, 1: exercise_1}, extra_cells={2: extra}), copies / "destructeur.ipynb")
    gf.write(gf.submission(ev, gf.complete(ev)), copies / "eval_complet.ipynb")
    gf.write(gf.submission(ev, gf.complete(ev, [1, 2])), copies / "eval_moitie.ipynb")
    text = json.dumps(gf.submission(toy, every), ensure_ascii=False, indent=1)
    (copies / "tronque.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")
    (copies / "pas_un_notebook.ipynb").write_text("bonjour", encoding="utf-8")
    gf.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]), copies / "inconnu.ipynb")
    (copies / "rendu.pdf").write_bytes(b"%PDF-1.4")
    return copies, notes, witness


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Corrige une classe fabriquée une fois pour tous les tests qui suivent (3 à 4 minutes)."""
    tmp_path = tmp_path_factory.mktemp("classe")
    copies, notes, witness = _build_class(tmp_path)
    course_dirs = [ROOT / name for name in ("utils", "data", "02_labs", "solutions", "tools", "tests")]
    before = _snapshot(tmp_path, *course_dirs, skip=(notes,))
    temp_before = set(Path(tempfile.gettempdir()).glob("gans-correction-*"))
    start = os.times().elapsed
    results = grade.grade_folder(copies, notes, limit=LIMIT, checks_only=True, progress=False)
    elapsed = os.times().elapsed - start
    after = _snapshot(tmp_path, *course_dirs, skip=(notes,))
    temp_after = set(Path(tempfile.gettempdir()).glob("gans-correction-*"))
    return {"results": {r.file: r for r in results}, "notes": notes, "before": before, "after": after,
            "witness": witness, "temp": (temp_before, temp_after), "elapsed": elapsed}


def _verdicts(graded, name):
    return [graded["results"][name].verdicts[n][0] for n in sorted(graded["results"][name].verdicts)]


P, F_, N, C = grade.PASSED, grade.FAILED, grade.NOT_ATTEMPTED, grade.CRASHED


@pytest.mark.parametrize("name, lab, expected", [
    ("sous-dossier/étudiant 7/Copie finale (2).ipynb", gf.TOY, [P, P, P, P]),
    ("moitie.ipynb", gf.TOY, [P, P, N, N]),
    ("bavard.ipynb", gf.TOY, [P, P, P, P]),
    ("eval_complet.ipynb", gf.EVALUATION, [P, P, P, P, P]),
    ("eval_moitie.ipynb", gf.EVALUATION, [P, P, N, N, N]),
])
def test_complete_and_half_done_submissions(graded_class, name, lab, expected):
    result = graded_class["results"][name]
    assert result.lab.path == lab and result.status == grade.GRADED
    assert _verdicts(graded_class, name) == expected, result.verdicts


@pytest.mark.parametrize("lab, prefix", [(gf.TOY, "fautes"), (gf.EVALUATION, "eval_fautes")])
def test_each_typical_mistake_fails_with_the_checks_message(graded_class, lab, prefix):
    plans = gf.mistake_plan(lab)
    assert sum(len(p) for p in plans) == sum(len(v) for v in gf.MISTAKES[lab].values())
    for k, plan in enumerate(plans, start=1):
        result = graded_class["results"][f"{prefix}_{k}.ipynb"]
        assert result.lab.path == lab and result.status == grade.GRADED
        for number, (verdict, message) in result.verdicts.items():
            if number in plan:
                name, _, pattern = plan[number]
                assert verdict == F_, f"{prefix}_{k}, exercice {number} ({name}) : {verdict} {message}"
                assert re.search(pattern, message, re.S), f"{name} : {message}"
                assert not message.startswith("❌")
            elif not gf.DEPENDS[lab].get(number, set()) & plan.keys():
                # Juste, et n'appelle aucune réponse fausse : réussi.
                assert verdict == P, f"{prefix}_{k}, exercice {number} : {verdict} {message}"


def test_endless_loop_is_stopped_and_the_rest_is_graded(graded_class):
    result = graded_class["results"]["boucle.ipynb"]
    assert result.status == grade.TIMED_OUT
    assert result.verdicts[1] == (P, "")
    assert result.verdicts[2][0] == C and f"temps limite de {LIMIT} s dépassé pendant" in result.verdicts[2][1]
    assert all(result.verdicts[n][0] == C and "non exécutée" in result.verdicts[n][1] for n in (3, 4))
    assert result.seconds < LIMIT + 30


def test_dead_kernel_is_named(graded_class):
    result = graded_class["results"]["noyau.ipynb"]
    assert result.status == grade.KERNEL_DIED
    assert result.verdicts[1] == (P, "")
    assert result.verdicts[2][0] == C and "le noyau s'est arrêté" in result.verdicts[2][1]
    assert [result.verdicts[n][0] for n in (3, 4)] == [C, C]


def test_megabytes_of_output_are_cut_not_kept(graded_class):
    result = graded_class["results"]["bavard.ipynb"]
    assert any("sorties tronquées" in note for note in result.notes)
    assert (graded_class["notes"] / "rapport.md").stat().st_size < 200_000


def test_destroyer_changes_nothing_outside_the_notes_folder(graded_class):
    result = graded_class["results"]["destructeur.ipynb"]
    assert result.verdicts[1][0] == C
    assert re.match(r"(PermissionError|OSError): ", result.verdicts[1][1]), result.verdicts[1][1]
    assert [result.verdicts[n][0] for n in (2, 3, 4)] == [P, P, P]
    assert graded_class["witness"].read_text(encoding="utf-8") == "à garder"
    changed = {k for k in graded_class["before"].keys() | graded_class["after"].keys()
               if graded_class["before"].get(k) != graded_class["after"].get(k)}
    assert not changed, f"fichiers changés hors du dossier des notes : {sorted(changed)[:10]}"
    before, after = graded_class["temp"]
    assert after == before, "des copies temporaires sont restées"


def test_unreadable_and_unknown_files_are_reported(graded_class):
    results = graded_class["results"]
    assert results["tronque.ipynb"].status == grade.UNREADABLE
    assert "JSON invalide" in results["tronque.ipynb"].reason
    assert results["pas_un_notebook.ipynb"].status == grade.UNREADABLE
    assert results["inconnu.ipynb"].status == grade.UNKNOWN_LAB
    assert "rendu.pdf" not in " ".join(results)
    assert "rendu.pdf" in (graded_class["notes"] / "ignores.txt").read_text(encoding="utf-8")


def test_csv_has_a_row_per_submission_and_a_column_per_exercise(graded_class):
    import csv

    with open(graded_class["notes"] / "notes.csv", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(graded_class["results"]) == 23
    assert [k for k in rows[0] if k.startswith("exercice ")] == [f"exercice {n}" for n in range(1, 6)]
    moitie = next(r for r in rows if r["copie"] == "moitie.ipynb")
    assert [moitie[f"exercice {n}"] for n in range(1, 6)] == [P, P, N, N, ""]
    assert moitie["réussis"] == "2" and moitie["exercices"] == "4" and moitie["jour"] == "2"


def test_report_shows_each_verdict_with_its_message(graded_class):
    report = (graded_class["notes"] / "rapport.md").read_text(encoding="utf-8")
    assert "## Jour 2 : GAN jouet en 2D" in report and "## Jour 6 : Évaluer honnêtement" in report
    assert "| `moitie.ipynb` | ✅ | ✅ | ⬜ | ⬜ | 2/4 | noté |" in report
    assert "❌ Exercice 2 (le discriminateur) : **échoué** — Discriminateur : la couche de sortie est suivie" in report
    assert "**illisible**, JSON invalide" in report
    assert "temps limite de 45 s dépassé" in report


def test_without_bubblewrap_the_python_guard_still_protects(tmp_path):
    """La même copie malveillante, corrigée sans bac à sable système (comme sur un Mac)."""
    copies, notes, witness = tmp_path / "copies", tmp_path / "notes", tmp_path / "temoin.txt"
    witness.write_text("à garder", encoding="utf-8")
    every = gf.complete(gf.TOY)
    gf.write(gf.submission(gf.TOY, every), copies / "sous-dossier" / "étudiant 7" / "Copie finale (2).ipynb")
    exercise_1, extra = _destroyer(copies, notes, witness)
    gf.write(gf.submission(gf.TOY, {**every, 1: exercise_1}, extra_cells={2: extra}), copies / "destructeur.ipynb")
    course_dirs = [ROOT / name for name in ("utils", "data", "02_labs", "solutions", "tools")]
    before = _snapshot(tmp_path, *course_dirs, skip=(notes,))
    results = {r.file: r for r in grade.grade_folder(copies, notes, limit=LIMIT, checks_only=True,
                                                      sandbox=False, progress=False)}
    assert _snapshot(tmp_path, *course_dirs, skip=(notes,)) == before
    result = results["destructeur.ipynb"]
    assert result.verdicts[1] == (C, "PermissionError: Correcteur : os.remove interdit pendant la "
                                     f"correction hors de la copie ({witness})")
    assert [result.verdicts[n][0] for n in (2, 3, 4)] == [P, P, P]
    assert _verdicts({"results": results}, "sous-dossier/étudiant 7/Copie finale (2).ipynb") == [P, P, P, P]
