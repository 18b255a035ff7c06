"""Les labs sont générés à partir des solutions, à jour, et s'arrêtent à leur premier exercice."""

import nbformat
import pytest
from helpers import load_tool
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from utils import course

ROOT = course.ROOT
LABS = course.lab_paths()


make_labs = load_tool("make_labs")


def test_labs_are_up_to_date():
    stale = [str(path.relative_to(ROOT)) for path, text in make_labs.expected_labs().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"Labs périmés, lancez « python tools/make_labs.py » : {stale}"


def test_stub_keeps_indentation_and_names_the_exercise():
    source = (
        "# Exercice 3 : la perte\n"
        "def f(x):\n"
        "    ### BEGIN SOLUTION\n"
        "    return x + 1\n"
        "    ### END SOLUTION\n"
    )
    stub = make_labs.strip_code(source, "essai")
    assert "return x + 1" not in stub
    assert "    raise NotImplementedError('Exercice 3 : la perte : complétez le bloc « À VOUS DE JOUER ».')" in stub
    compile(stub, "essai", "exec")


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "sans END"),
    ("x = 1\n### END SOLUTION\n", "sans BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "imbriqué"),
])
def test_bad_markers_are_reported(source, message):
    with pytest.raises(make_labs.LabError, match=message):
        make_labs.strip_code(source, "essai")


def test_markdown_answers_are_removed():
    text = "Question ?\n<!-- BEGIN SOLUTION -->\nLa réponse.\n<!-- END SOLUTION -->\n"
    assert "La réponse" not in make_labs.strip_markdown(text, "essai")


@pytest.mark.parametrize("path", LABS, ids=lambda p: str(p.relative_to(ROOT)))
def test_lab_stops_at_first_exercise(path):
    """Exécuté dans un noyau neuf, le lab tourne sans erreur jusqu'à son premier exercice,
    et s'y arrête avec NotImplementedError, et rien d'autre."""
    nb = nbformat.read(path, as_version=4)
    first_stub = next(i for i, c in enumerate(nb.cells)
                      if c.cell_type == "code" and "raise NotImplementedError" in c.source)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert info.value.ename == "NotImplementedError", f"{info.value.ename}: {info.value.evalue}"
    assert "Exercice 1" in info.value.evalue
    executed = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("outputs")
                and any(o.get("output_type") == "error" for o in c.outputs)]
    assert executed == [first_stub], "l'erreur doit venir de la cellule du premier exercice"
