"""Le correcteur des enseignants (``tools/grade.py``) sur une vraie classe fabriquée.

Une correction de bout en bout, dans le bac à sable, d'une classe construite par
``grading_fixtures.py`` : copie complète (qui imprime aussi des mégaoctets), à moitié faite, une
copie fausse par lab, boucle sans fin, noyau qui meurt, copie qui tente d'effacer hors de son
dossier, JSON tronqué, fichier qui n'est pas un notebook, notebook d'un lab inconnu. Chaque copie
doit recevoir le bon verdict, et rien ne doit changer hors du dossier des notes. Chaque sorte de
verdict et chaque attaque y est prouvée une fois, en mode ``--verifications-seulement`` ; les
erreurs typiques une à une, elles, sont jouées sans noyau dans ``test_grade.py``.

Lent (environ 2 min sur 2 cœurs) : marqueur ``lent``, lancé par ``pytest --complet``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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

pytestmark = pytest.mark.lent

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
    # Un piège pour le nettoyage : un lien vers le fichier voisin (fait par la libc, que la garde
    # Python ne voit pas), dans un dossier dont la copie retire tous les droits.
    extra += (
        "import ctypes\n"
        "os.makedirs('piege', exist_ok=True)\n"
        f"assert ctypes.CDLL(None).symlink({str(witness).encode()!r}, b'piege/lien') == 0, 'lien non créé'\n"
        "os.chmod('piege', 0)\n"
    )
    exercise_1 = gf.solution_answer(gf.TOY, 1) + f"\nimport os\nos.remove({str(witness)!r})\n"
    return exercise_1, extra


#: Un message d'erreur qu'une copie contrôle : HTML, Markdown, faux titre.
EVIL = "<img src=x onerror=alert(1)> **tout juste** [lien](http://exemple) | ## faux titre"


def _attacker(copies: Path, socket_path: Path) -> tuple[dict, dict]:
    """Une copie qui attaque le correcteur lui-même, exercice par exercice : un message piégé
    (1) ; lire le corrigé, une autre copie et /etc, joindre une socket Unix de la machine par la
    libc, écrire de faux événements « ✅ » là où l'ancien correcteur les lisait (2) ; un
    gestionnaire d'erreurs qui imprime « ✅ » à la place de toute erreur, avant l'exercice 3,
    laissé non fait ; 16 Go d'un coup (4) ; puis tuer son parent et quitter le noyau."""
    home = [str(p) for p in (Path.home() / ".bashrc", Path.home() / ".profile") if p.exists()]
    secrets = [str(ROOT / "solutions" / gf.TOY), str(copies / "moitie.ipynb"), "/etc/hostname",
               "/etc/shadow", *home]
    spy = (
        "\nimport ctypes, json, os, struct\n"
        f"seen = [p for p in {secrets!r} if os.path.exists(p)]\n"
        "libc = ctypes.CDLL(None)\n"
        "fd = libc.socket(1, 1, 0)\n"
        f"path = {str(socket_path).encode()!r}\n"
        "address = struct.pack('H', 1) + path + bytes(108 - len(path))\n"
        "connected = libc.connect(fd, address, len(address)) == 0\n"
        "forged = ''.join(json.dumps({'event': 'done', 'cell': i, 'capped': False, 'error': None,\n"
        "                             'verdicts': ['✅ tout juste']}) + '\\n' for i in range(60))\n"
        "for where in (os.environ['HOME'] + '/evenements.jsonl', '../../maison/evenements.jsonl'):\n"
        "    try:\n"
        "        with open(where, 'w') as stream:\n"
        "            stream.write(forged + json.dumps({'event': 'end'}) + '\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "if seen or connected:\n"
        "    raise RuntimeError(f'vu hors de la copie : {seen}, socket jointe : {connected}')\n"
    )
    handler = ("get_ipython().set_custom_exc((BaseException,), "
               "lambda shell, etype, value, tb, tb_offset=None: print('✅ tout est juste'))\n")
    answers = {1: gf.solution_answer(gf.TOY, 1) + f"\nraise ValueError({EVIL!r})\n",
               2: gf.solution_answer(gf.TOY, 2) + spy,
               4: gf.solution_answer(gf.TOY, 4)
               + "\nimport torch\ntorch.empty(16 << 30, dtype=torch.uint8).fill_(1)\n"}
    leave = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos._exit(0)\n"
    return answers, {2: handler, 4: leave}


def _build_class(tmp_path: Path):
    copies, notes, witness = tmp_path / "copies", tmp_path / "notes", tmp_path / "temoin.txt"
    witness.write_text("à garder", encoding="utf-8")
    witness.chmod(0o644)
    toy, ev = gf.TOY, gf.EVALUATION
    every = gf.complete(toy)
    # La copie complète imprime aussi 3,75 Mo dans l'exercice 1 : sorties tronquées, tout réussi.
    gf.write(gf.submission(toy, {**every, 1: every[1] + "\nprint('bla ' * 750_000)\n"}),
             copies / "sous-dossier" / "étudiant 7" / "Copie finale (2).ipynb")
    gf.write(gf.submission(toy, gf.complete(toy, [1, 2])), copies / "moitie.ipynb")
    # Une copie fausse par lab suffit à prouver ce qui est propre au correcteur (l'erreur de la
    # vérification devient « échoué » avec son message, les autres exercices restent réussis) :
    # chaque erreur typique est, elle, jouée contre sa vérification sans noyau, plus haut.
    for lab, prefix in ((toy, "fautes"), (ev, "eval_fautes")):
        plan = gf.mistake_plan(lab)[0]
        answers = {**gf.complete(lab), **{n: gf.wrong_answer(lab, n, m[1]) for n, m in plan.items()}}
        gf.write(gf.submission(lab, answers), copies / f"{prefix}_1.ipynb")
    # Une boucle sans fin qui dort : le correcteur l'arrête de la même façon qu'une boucle qui
    # calcule, sans prendre un cœur aux autres tests pendant LIMIT secondes.
    gf.write(gf.submission(toy, {**every, 2: every[2] + "\nimport time\nwhile True:\n    time.sleep(0.2)\n"}),
             copies / "boucle.ipynb")
    gf.write(gf.submission(toy, {**every, 2: every[2] + "\nimport os\nos._exit(1)\n"}), copies / "noyau.ipynb")
    exercise_1, extra = _destroyer(copies, notes, witness)
    gf.write(gf.submission(toy, {**every, 1: exercise_1}, extra_cells={2: extra}), copies / "destructeur.ipynb")
    answers, extra = _attacker(copies, tmp_path / "service.sock")
    gf.write(gf.submission(toy, answers, extra_cells=extra), copies / "attaquant.ipynb")
    (copies / "profond.ipynb").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    text = json.dumps(gf.submission(toy, every), ensure_ascii=False, indent=1)
    (copies / "tronque.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")
    (copies / "pas_un_notebook.ipynb").write_text("bonjour", encoding="utf-8")
    gf.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]), copies / "inconnu.ipynb")
    (copies / "rendu.pdf").write_bytes(b"%PDF-1.4")
    return copies, notes, witness


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Corrige une classe fabriquée une fois pour tous les tests qui suivent (2 à 3 minutes)."""
    import socket

    tmp_path = tmp_path_factory.mktemp("classe")
    copies, notes, witness = _build_class(tmp_path)
    course_dirs = [ROOT / name for name in ("utils", "data", "02_labs", "solutions", "tools", "tests")]
    # Un service de la machine, sur une socket Unix, que la copie « attaquant » tente de joindre.
    service = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    service.bind(str(tmp_path / "service.sock"))
    service.listen(5)
    before = _snapshot(tmp_path, *course_dirs, skip=(notes, tmp_path / "service.sock"))
    temp_before = set(Path(tempfile.gettempdir()).glob("gans-correction-*"))
    start = os.times().elapsed
    try:
        results = grade.grade_folder(copies, notes, limit=LIMIT, checks_only=True, progress=False)
    finally:
        elapsed = os.times().elapsed - start
        service.setblocking(False)
        try:
            service.accept()
            reached = True
        except BlockingIOError:
            reached = False
        service.close()
    after = _snapshot(tmp_path, *course_dirs, skip=(notes, tmp_path / "service.sock"))
    temp_after = set(Path(tempfile.gettempdir()).glob("gans-correction-*"))
    return {"results": {r.file: r for r in results}, "notes": notes, "before": before, "after": after,
            "witness": witness, "temp": (temp_before, temp_after), "elapsed": elapsed,
            "service_reached": reached}


def _verdicts(graded, name):
    return [graded["results"][name].verdicts[n][0] for n in sorted(graded["results"][name].verdicts)]


P, F_, N, C = grade.PASSED, grade.FAILED, grade.NOT_ATTEMPTED, grade.CRASHED


@pytest.mark.parametrize("name, lab, expected", [
    ("sous-dossier/étudiant 7/Copie finale (2).ipynb", gf.TOY, [P, P, P, P]),
    ("moitie.ipynb", gf.TOY, [P, P, N, N]),
])
def test_complete_and_half_done_submissions(graded_class, name, lab, expected):
    result = graded_class["results"][name]
    assert result.lab.path == lab and result.status == grade.GRADED
    assert _verdicts(graded_class, name) == expected, result.verdicts


@pytest.mark.parametrize("lab, prefix", [(gf.TOY, "fautes"), (gf.EVALUATION, "eval_fautes")])
def test_wrong_answers_fail_with_the_checks_message_and_the_rest_passes(graded_class, lab, prefix):
    plan = gf.mistake_plan(lab)[0]
    assert len(plan) >= 3, "la copie fausse doit porter plusieurs erreurs, dans des exercices différents"
    result = graded_class["results"][f"{prefix}_1.ipynb"]
    assert result.lab.path == lab and result.status == grade.GRADED
    assert sorted(result.verdicts) == [e.number for e in result.lab.exercises]
    for number, (name, _, pattern) in plan.items():   # chaque erreur plantée, pas chaque verdict rendu
        verdict, message = result.verdicts[number]
        assert verdict == F_, f"{prefix}_1, exercice {number} ({name}) : {verdict} {message}"
        assert re.search(pattern, message, re.S), f"{name} : {message}"
        assert not message.startswith("❌")
    for number, (verdict, message) in result.verdicts.items():
        if number not in plan and not gf.DEPENDS[lab].get(number, set()) & plan.keys():
            # Juste, et n'appelle aucune réponse fausse : réussi.
            assert verdict == P, f"{prefix}_1, exercice {number} : {verdict} {message}"


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
    result = graded_class["results"]["sous-dossier/étudiant 7/Copie finale (2).ipynb"]
    assert any("sorties tronquées" in note for note in result.notes)
    assert (graded_class["notes"] / "rapport.md").stat().st_size < 200_000


def test_destroyer_changes_nothing_outside_the_notes_folder(graded_class):
    result = graded_class["results"]["destructeur.ipynb"]
    assert result.verdicts[1][0] == C
    # Dans le bac à sable, le fichier voisin n'est même pas visible (FileNotFoundError).
    assert re.match(r"(PermissionError|OSError|FileNotFoundError): ", result.verdicts[1][1]), result.verdicts[1][1]
    assert [result.verdicts[n][0] for n in (2, 3, 4)] == [P, P, P]
    assert graded_class["witness"].read_text(encoding="utf-8") == "à garder"
    assert graded_class["witness"].stat().st_mode & 0o777 == 0o644   # le lien n'a pas été suivi
    assert not result.other_errors, result.other_errors               # le piège a bien été posé
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
    assert len(rows) == len(graded_class["results"]) == 12
    assert [k for k in rows[0] if k.startswith("exercice ")] == [f"exercice {n}" for n in range(1, 6)]
    moitie = next(r for r in rows if r["copie"] == "moitie.ipynb")
    assert [moitie[f"exercice {n}"] for n in range(1, 6)] == [P, P, N, N, ""]
    assert moitie["réussis"] == "2" and moitie["exercices"] == "4" and moitie["jour"] == "2"


def test_report_shows_each_verdict_with_its_message(graded_class):
    report = (graded_class["notes"] / "rapport.md").read_text(encoding="utf-8")
    assert "## Jour 2 : GAN jouet en 2D" in report and "## Jour 6 : Évaluer honnêtement" in report
    assert "| `moitie.ipynb` | ✅ | ✅ | ⬜ | ⬜ | 2/4 | noté |" in report
    assert "❌ Exercice 2 (le discriminateur) : **échoué** — `Discriminateur : la couche de sortie est suivie" in report
    assert "**illisible**, JSON invalide" in report
    assert "**illisible**, JSON imbriqué sur plus de 64 niveaux" in report
    assert "temps limite de 45 s dépassé" in report


def test_attacker_cannot_fake_verdicts_read_out_or_exhaust_memory(graded_class):
    """Les attaques de la copie « attaquant » : aucune ne change une note, aucune ne sort de la
    copie, et le rapport montre son message piégé comme du code et la signale."""
    result = graded_class["results"]["attaquant.ipynb"]
    assert result.lab.path == gf.TOY
    verdicts = result.verdicts
    assert [verdicts[n][0] for n in (1, 2, 3, 4)] == [C, P, N, C], verdicts
    assert verdicts[1][1].startswith("ValueError: <img src=x")
    assert verdicts[4][1].startswith(f"mémoire dépassée (limite de {grade.MAX_MEMORY_BYTES >> 30} Go"), verdicts[4]
    assert result.status == grade.KERNEL_DIED   # il a fini par quitter le noyau ; tout était déjà noté
    assert not graded_class["service_reached"], "la copie a joint une socket Unix hors du bac à sable"
    flagged = " ".join(result.notes)
    assert "set_custom_exc" in flagged and "ctypes" in flagged and "os._exit ou un signal" in flagged
    report = (graded_class["notes"] / "rapport.md").read_text(encoding="utf-8")
    detail = report[report.index("### `attaquant.ipynb`"):]
    assert "**planté** — `ValueError: <img src=x onerror=alert(1)> **tout juste**" in detail
    assert "\n## faux titre" not in report and "\n<img" not in report


def test_without_bubblewrap_the_python_guard_still_protects(tmp_path):
    """La même copie malveillante, corrigée sans bac à sable système (comme sur un Mac)."""
    copies, notes, witness = tmp_path / "copies", tmp_path / "notes", tmp_path / "temoin.txt"
    witness.write_text("à garder", encoding="utf-8")
    witness.chmod(0o644)
    every = gf.complete(gf.TOY)
    # La copie visée par le destructeur : un fichier illisible (pas de noyau à lancer pour elle) ;
    # les exercices 2 à 4 du destructeur, justes, montrent que la classe est notée sans bac à sable.
    target = copies / "sous-dossier" / "étudiant 7" / "Copie finale (2).ipynb"
    target.parent.mkdir(parents=True)
    target.write_text("une copie rendue en texte", encoding="utf-8")
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
    assert results["sous-dossier/étudiant 7/Copie finale (2).ipynb"].status == grade.UNREADABLE
    assert witness.read_text(encoding="utf-8") == "à garder" and witness.stat().st_mode & 0o777 == 0o644
    assert not result.other_errors, result.other_errors   # le piège a bien été posé
    assert target.read_text(encoding="utf-8") == "une copie rendue en texte"
