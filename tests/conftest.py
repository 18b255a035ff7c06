"""Fixtures et réglages communs aux fichiers de tests de ``tests/``.

Les fonctions ordinaires partagées (réponses correctes des corrigés, utilisées
jusque dans les paramètres de ``pytest.mark.parametrize``) sont dans
``helpers.py``.
"""

import matplotlib

# Avant que les fichiers de tests n'importent pyplot : des figures en mémoire, sans fenêtre.
matplotlib.use("Agg")

import pytest  # noqa: E402


@pytest.fixture
def verdicts(capsys):
    """Lit les verdicts imprimés par les auto-vérifications.

    ``verdicts()`` renvoie les lignes ✅ imprimées depuis la lecture précédente
    (et vide la sortie capturée) ; il échoue si un ❌ a été imprimé.
    """
    def read():
        out = capsys.readouterr().out
        assert "❌" not in out, out
        return [line for line in out.splitlines() if line.startswith("✅")]
    return read


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Chaque lab n'est exécuté qu'une fois par lancement de pytest.

    Quand le test dans le navigateur (``tests/test_browser.py``) est sélectionné et peut tourner,
    c'est lui qui exécute chaque lab jusqu'à son premier exercice, avec les mêmes assertions ;
    l'exécution des labs par nbclient (``tests/test_labs.py``) est alors sautée. Sans navigateur
    (Chromium absent, ou ``-m "not navigateur"``), nbclient les exécute. ``trylast`` : après la
    désélection par ``-m``.
    """
    name = lambda item: getattr(item, "originalname", None)  # noqa: E731 - les cellules nbval n'en ont pas
    in_browser = any(name(item) == "test_lab_stops_at_its_first_exercise_in_the_browser"
                     for item in items)
    if not in_browser:
        return
    skip = pytest.mark.skip(reason="lab exécuté dans le navigateur (tests/test_browser.py)")
    for item in items:
        if name(item) == "test_lab_stops_at_first_exercise":
            item.add_marker(skip)
