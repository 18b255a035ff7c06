"""Structure du dépôt : paires lab/solution, labs sans sorties ni solutions,
solutions sans bloc à compléter, liens valides, noyau standard, ouverture des notebooks."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted(p for p in (ROOT / "solutions").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
LABS = sorted(p for p in (ROOT / "02_labs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
LESSONS = sorted((ROOT / "01_cours").glob("*.md"))


def rel(path):
    return str(path.relative_to(ROOT))


def test_there_is_something_to_check():
    assert SOLUTIONS and LABS and LESSONS


def test_day_one_paths_fixed_by_the_sources():
    assert (ROOT / "01_cours" / "jour_01_introduction.md").is_file()
    assert (ROOT / "02_labs" / "images_gan" / "train_gan_images.ipynb").is_file()


def test_every_lab_has_its_solution_and_back():
    labs = {p.relative_to(ROOT / "02_labs") for p in LABS}
    solutions = {p.relative_to(ROOT / "solutions") for p in SOLUTIONS}
    assert labs == solutions


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
            assert "check_" in following, f"pas de vérification après : {cell.source[:60]}"


def _links(text):
    return re.findall(r"\]\(([^)\s]+\.(?:ipynb|md))\)", text)


DOCUMENTS = [ROOT / "README.md", *LESSONS, *SOLUTIONS, *LABS]


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


def test_lessons_link_their_lab():
    text = (ROOT / "01_cours" / "jour_01_introduction.md").read_text(encoding="utf-8")
    assert "../02_labs/images_gan/train_gan_images.ipynb" in text
