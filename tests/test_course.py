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
        assert day.lab.endswith(".ipynb") and not day.lab.startswith(("02_labs", "solutions", "/"))
        assert day.checks == f"utils.checks.jour_{day.number:02d}"
        assert day.title and day.lab_title and day.budget
    labs = [day.lab for day in course.written_days()]
    assert len(labs) == len(set(labs))


def test_paths_in_course_order():
    assert course.solution_paths()[0] == ROOT / "solutions" / "images_gan" / "train_gan_images.ipynb"
    assert course.lab_paths()[0] == ROOT / "02_labs" / "images_gan" / "train_gan_images.ipynb"
    assert course.lesson_paths()[0] == ROOT / "01_cours" / "jour_01_introduction.md"
    numbers = [course.day_of(path).number for path in course.solution_paths()]
    assert numbers == [day.number for day in course.written_days()]


def test_day_of_finds_lesson_lab_and_solution(monkeypatch):
    day = course.written_days()[-1]
    for path in (day.lesson_path, day.lab_path, day.solution_path):
        assert course.day_of(path) is day
    monkeypatch.chdir(ROOT)
    assert course.day_of(f"solutions/{day.lab}") is day


def test_day_of_unknown_file():
    with pytest.raises(ValueError, match="ni une leçon"):
        course.day_of(ROOT / "README.md")


def test_get_day():
    assert course.get_day(6).planned
    assert not course.get_day(4).planned
    with pytest.raises(ValueError, match="Pas de jour 99"):
        course.get_day(99)
