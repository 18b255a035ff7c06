"""Structure du dépôt : programme (``utils/course.py``) et fichiers d'accord, paires
lab/solution, labs sans sorties ni solutions, solutions sans bloc à compléter, liens
valides, noyau standard, ouverture des notebooks, taille des notebooks."""

import ast
import importlib
import re

import nbformat
import pytest
from helpers import PLAYGROUND_ACTIONS

from utils import course

ROOT = course.ROOT
DAYS = course.written_days()
SOLUTIONS = course.solution_paths()
LABS = course.lab_paths()
LESSONS = course.lesson_paths()

#: Taille maximale d'un corrigé (sorties comprises) et d'un lab, en octets : des
#: notebooks légers s'ouvrent vite, sur Binder comme sur GitHub.
MAX_SOLUTION_BYTES = 800_000
MAX_LAB_BYTES = 100_000


def rel(path):
    return str(path.relative_to(ROOT))


def day_id(day):
    return f"jour_{day.number:02d}"


def notebooks_under(folder):
    """Chemins (relatifs à ``folder``) des notebooks présents sur le disque."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.ipynb")
            if ".ipynb_checkpoints" not in p.parts}


def test_there_is_something_to_check():
    assert SOLUTIONS and LABS and LESSONS


def test_day_one_paths_fixed_by_the_sources():
    """La leçon du jour 1 renvoie à ../02_labs/images_gan/train_gan_images.ipynb (sources)."""
    day = course.get_day(1)
    assert day.lesson == "01_cours/jour_01_introduction.md"
    assert day.lab == "images_gan/train_gan_images.ipynb"


@pytest.mark.parametrize("folder", ["solutions", "02_labs"])
def test_every_notebook_on_disk_is_in_the_course_and_back(folder):
    on_disk = notebooks_under(ROOT / folder)
    listed = {lab.path for day in DAYS for lab in day.labs}
    assert not on_disk - listed, (
        f"Notebooks de {folder}/ absents du programme (ajoutez leur jour dans "
        f"utils/course.py) : {sorted(on_disk - listed)}")
    assert not listed - on_disk, f"Notebooks du programme absents de {folder}/ : {sorted(listed - on_disk)}"


def test_every_lesson_on_disk_is_in_the_course_and_back():
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "01_cours").glob("*.md")}
    listed = {day.lesson for day in DAYS}
    assert on_disk == listed, (
        f"Leçons hors programme : {sorted(on_disk - listed)} ; "
        f"leçons du programme introuvables : {sorted(listed - on_disk)}")


@pytest.mark.parametrize("day", DAYS, ids=day_id)
def test_files_named_in_the_course_exist(day):
    for path in (day.lesson_path, *day.all_lab_paths, *day.all_solution_paths):
        assert path.is_file(), f"jour {day.number} : {rel(path)} n'existe pas (voir utils/course.py)"


@pytest.mark.parametrize("day", DAYS, ids=day_id)
def test_checks_module_of_each_day_is_importable(day):
    source = ROOT.joinpath(*day.checks.split(".")).with_suffix(".py")
    if not source.is_file():
        pytest.skip(f"{rel(source)} n'existe pas encore (module de vérifications du jour "
                    f"{day.number}, {day.checks})")
    module = importlib.import_module(day.checks)
    assert any(name.startswith("check_") and callable(getattr(module, name)) for name in dir(module)), (
        f"{day.checks} ne définit aucune fonction check_...")


@pytest.mark.parametrize("path", SOLUTIONS, ids=rel)
def test_solution_is_light(path):
    size = path.stat().st_size
    assert size <= MAX_SOLUTION_BYTES, (
        f"{rel(path)} pèse {size / 1000:.0f} ko, pour {MAX_SOLUTION_BYTES / 1000:.0f} ko au plus : "
        "moins de grandes images, des GIF plutôt que des animations HTML, pas d'état de widget.")


@pytest.mark.parametrize("path", SOLUTIONS, ids=rel)
def test_solution_stores_no_widget_state_and_no_html_animation(path):
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata, "état de widget enregistré : relancez tools/run_solutions.py"
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            assert "animation" not in html.lower() or "<script" not in html, (
                f"cellule {index} : animation HTML, remplacez-la par un GIF")


def test_browser_test_knows_every_playground():
    """Le test dans le navigateur n'exécute que les corrigés qui ont un terrain de jeu : sa liste
    doit nommer chacun d'eux (un corrigé qui appelle ``.widget()``), et rien d'autre."""
    with_widget = {str(path.relative_to(course.SOLUTIONS_DIR)) for path in SOLUTIONS
                   if any(cell.cell_type == "code" and re.search(r"\.widget\(\)", cell.source)
                          for cell in nbformat.read(path, as_version=4).cells)}
    assert with_widget == set(PLAYGROUND_ACTIONS), (
        "mettez à jour PLAYGROUND_ACTIONS dans tests/helpers.py : corrigés avec un terrain de jeu "
        f"{sorted(with_widget)}, listés {sorted(PLAYGROUND_ACTIONS)}")


@pytest.mark.parametrize("path", LABS, ids=rel)
def test_lab_is_light(path):
    size = path.stat().st_size
    assert size <= MAX_LAB_BYTES, f"{rel(path)} pèse {size / 1000:.0f} ko, pour {MAX_LAB_BYTES / 1000:.0f} ko au plus."


@pytest.mark.parametrize("path", LABS, ids=rel)
def test_lab_has_no_outputs_and_no_solution(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source, index
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cellule {index} a des sorties"
    assert any("NotImplementedError" in c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", SOLUTIONS, ids=rel)
def test_solution_has_no_stub_and_stored_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code_cells:
        assert "À VOUS DE JOUER" not in cell.source
        assert "raise NotImplementedError" not in cell.source
        assert cell.execution_count is not None, "solution non exécutée : relancez tools/run_solutions.py"
    assert any("### BEGIN SOLUTION" in c.source for c in code_cells)


@pytest.mark.parametrize("path", SOLUTIONS + LABS, ids=rel)
def test_standard_python3_kernel(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["kernelspec"]["language"] == "python"


def _called_name(func: ast.expr) -> str:
    """Nom de la fonction appelée : ``check_x`` pour ``check_x(...)`` comme pour ``m.check_x(...)``."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def calls_a_check(source: str) -> bool:
    """Vrai si la cellule appelle vraiment une fonction ``check_...``.

    Le code est analysé (``ast``, après traduction des commandes magiques
    d'IPython) : ``check_`` dans un commentaire ou une chaîne ne compte pas.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Call) and _called_name(node.func).startswith("check_")
               for node in ast.walk(tree))


@pytest.mark.parametrize("source, expected", [
    ("check_exercice_1(D)", True),
    ("from utils.checks import jour_01 as checks\nchecks.check_discriminator(D)", True),
    ("result = utils.checks.jour_01.check_losses(d_loss, g_loss)\nprint(result)", True),
    ("%matplotlib inline\ncheck_exercice_1(D)", True),
    ("# check_exercice_1(D)", False),
    ("# À faire : check_exercice_1(D)\nprint(D)", False),
    ('print("lancez check_exercice_1(D)")', False),
    ('"""check_exercice_1(D)"""', False),
    ("verify = check_exercice_1", False),
    ("def check_me():\n    pass", False),
    ("recheck_exercice_1(D)", False),
    ("check_exercice_1(D", False),
])
def test_self_check_rule_needs_a_real_call(source, expected):
    assert calls_a_check(source) is expected


@pytest.mark.parametrize("path", SOLUTIONS, ids=rel)
def test_notebook_opening_and_self_checks(path):
    """Titre, objectifs, budget de temps, cellule de démarrage ; chaque exercice suivi d'une vérification."""
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    opening = "\n".join(c.source for c in cells[:3] if c.cell_type == "markdown")
    assert "Objectifs" in opening and "Budget de temps" in opening
    first_code = next(c for c in cells if c.cell_type == "code")
    assert "setup(" in first_code.source
    code_cells = [c for c in cells if c.cell_type == "code"]
    for index, cell in enumerate(code_cells):
        if "### BEGIN SOLUTION" in cell.source:
            assert re.search(r"^# Exercice \d+", cell.source, re.MULTILINE), cell.source[:80]
            following = code_cells[index + 1].source
            assert calls_a_check(following), (
                f"pas d'appel à une vérification check_...(...) juste après : {cell.source[:60]}")


def _links(text):
    return re.findall(r"\]\(([^)\s]+\.(?:ipynb|md))\)", text)


DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "SOURCES.md", *LESSONS, *SOLUTIONS, *LABS]


def _student_text(path):
    """Ce qu'un étudiant lit : le Markdown d'une leçon, ou les cellules d'un notebook."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return "\n".join(c.source for c in nb.cells)
    return path.read_text(encoding="utf-8")


#: Les documents d'origine ont des numéros internes (« seed 001 ») qu'aucun
#: étudiant n'a vus : le cours les nomme (SOURCES.md) au lieu de les numéroter.
INTERNAL_NAME = re.compile(r"\bseeds?\s*0\d\d\b", re.IGNORECASE)
#: « la source », « cette source »... : un document que l'étudiant doit pouvoir retrouver
#: (mais pas « la source des oscillations », qui n'est pas un document).
SOURCE_MENTION = re.compile(r"\b(la|cette|notre|une) sources?\b(?!\s+(de|des|du|d['’]))",
                            re.IGNORECASE)


@pytest.mark.parametrize("path", [*LESSONS, *SOLUTIONS], ids=rel)
def test_source_documents_are_named_not_numbered(path):
    text = _student_text(path)
    found = INTERNAL_NAME.search(text)
    assert not found, (f"{rel(path)} cite « {found.group(0)} » : nommez le document "
                       "comme dans SOURCES.md")
    if SOURCE_MENTION.search(text):
        assert "SOURCES.md" in text, (
            f"{rel(path)} parle d'une source sans renvoyer à SOURCES.md, qui dit ce qu'elle est")


@pytest.mark.parametrize("path", DOCUMENTS, ids=rel)
def test_links_point_to_existing_files(path):
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    for link in _links(text):
        if link.startswith("http"):
            continue
        target = (path.parent / link.split("#")[0]).resolve()
        assert target.is_file(), f"{rel(path)} : lien cassé vers {link}"


@pytest.mark.parametrize("day", DAYS, ids=day_id)
def test_lessons_link_their_lab(day):
    text = day.lesson_path.read_text(encoding="utf-8")
    for lab in day.labs:
        assert f"../02_labs/{lab.path}" in text, f"{day.lesson} ne renvoie pas à son lab {lab.path}"
