"""Le programme du cours (``utils/course.py``) : sa forme, ses fonctions, et le tableau
du README qui en est tiré."""

import pytest
from helpers import load_tool

from utils import course

ROOT = course.ROOT


make_readme = load_tool("make_readme")


def test_readme_table_is_up_to_date():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert make_readme.updated(text) == text, (
        "Tableau du programme périmé dans le README, lancez « python tools/make_readme.py »")


def test_readme_table_rows():
    day = course.Day(9, "Un titre", lesson="01_cours/jour_09.md", lab="theme/lab.ipynb",
                     lab_title="Le lab", checks="utils.checks.jour_09", budget="1 h 30, dont 2 min de calcul")
    assert make_readme.row(day) == (
        "| 9 | [Un titre](01_cours/jour_09.md) "
        "| [Le lab](02_labs/theme/lab.ipynb) "
        "| [corrigé](solutions/theme/lab.ipynb) "
        "| 1 h 30, dont 2 min de calcul |\n")
    assert make_readme.row(course.Day(7, "un jour prévu")) == "| 7 | un jour prévu | *à venir* | | |\n"
    two = course.Day(8, "Deux labs", lesson="01_cours/jour_08.md", lab="a/un.ipynb", lab_title="Un",
                     checks="utils.checks.jour_08", budget="1 h",
                     extra_labs=(course.Lab("b/deux.ipynb", "Deux", "2 h"),))
    assert make_readme.row(two) == (
        "| 8 | [Deux labs](01_cours/jour_08.md) | [Un](02_labs/a/un.ipynb) "
        "| [corrigé](solutions/a/un.ipynb) | 1 h |\n"
        "| | | [Deux](02_labs/b/deux.ipynb) | [corrigé](solutions/b/deux.ipynb) | 2 h |\n")


def test_readme_update_replaces_only_the_table():
    text = "avant\n<!-- programme:début -->\nvieux tableau\n<!-- programme:fin -->\naprès\n"
    new = make_readme.updated(text, days=(course.Day(4, "à venir"),))
    assert new == ("avant\n<!-- programme:début -->\n" + make_readme.HEADER
                   + "| 4 | à venir | *à venir* | | |\n<!-- programme:fin -->\naprès\n")
    assert make_readme.updated(new, days=(course.Day(4, "à venir"),)) == new


@pytest.mark.parametrize("text", ["pas de balises", "<!-- programme:fin -->\n<!-- programme:début -->"])
def test_readme_without_markers_is_reported(text):
    with pytest.raises(ValueError, match="programme:début"):
        make_readme.updated(text)


def test_days_are_in_order_and_complete():
    numbers = [day.number for day in course.DAYS]
    assert numbers == sorted(set(numbers))
    for day in course.DAYS:
        if day.planned:
            assert day.lesson is None and day.checks is None, f"jour {day.number} à venir"
            continue
        assert day.lesson.startswith(f"01_cours/jour_{day.number:02d}_") and day.lesson.endswith(".md")
        for lab in day.labs:
            assert lab.path.endswith(".ipynb")
            assert not lab.path.startswith(("02_labs", "solutions", "/"))
            assert lab.title and lab.budget
        assert day.labs[0].path == day.lab
        assert day.checks == f"utils.checks.jour_{day.number:02d}"
        assert day.title and day.lab_title and day.budget
    labs = [lab.path for day in course.written_days() for lab in day.labs]
    assert len(labs) == len(set(labs))


def test_paths_in_course_order():
    assert course.solution_paths()[0] == ROOT / "solutions" / "images_gan" / "train_gan_images.ipynb"
    assert course.lab_paths()[0] == ROOT / "02_labs" / "images_gan" / "train_gan_images.ipynb"
    assert course.lesson_paths()[0] == ROOT / "01_cours" / "jour_01_introduction.md"
    numbers = [course.day_of(path).number for path in course.solution_paths()]
    assert numbers == [day.number for day in course.written_days() for _ in day.labs]
    assert course.solution_paths()[-2:] == [ROOT / "solutions" / "cgan" / "cgan_mnist.ipynb",
                                            ROOT / "solutions" / "evaluation" / "evaluer_generateurs.ipynb"]


def test_day_of_finds_lesson_lab_and_solution(monkeypatch):
    day = course.written_days()[-1]
    assert len(day.labs) == 2, "le dernier jour a deux labs : ce test couvre le second"
    for path in (day.lesson_path, *day.all_lab_paths, *day.all_solution_paths):
        assert course.day_of(path) is day
    monkeypatch.chdir(ROOT)
    assert course.day_of(f"solutions/{day.lab}") is day
    assert course.day_of(f"02_labs/{day.labs[1].path}") is day


def test_day_of_unknown_file():
    with pytest.raises(ValueError, match="ni une leçon"):
        course.day_of(ROOT / "README.md")


def test_get_day():
    assert not course.get_day(6).planned
    assert course.Day(7, "un jour prévu").planned and course.Day(7, "un jour prévu").labs == ()
    with pytest.raises(ValueError, match="Pas de jour 99"):
        course.get_day(99)
