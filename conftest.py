"""Configuration de pytest pour tout le dépôt.

Fixée ici, au moment de l'import, une variable d'environnement atteint chaque
noyau Jupyter lancé par nbval : c'est ainsi que les notebooks passent en mode
rapide pendant les tests. Pour tester en mode complet (long) :
``GANS_QUICK=0 pytest``.

Les tests tournent en parallèle (pytest-xdist, un processus par cœur, quatre au
plus ; voir ``addopts`` dans ``pyproject.toml``) : chaque processus, et chaque
noyau qu'il lance, calcule alors sur un seul fil. Deux processus à deux fils
chacun sur une machine à deux cœurs iraient plus lentement qu'un seul.
"""

import os

import pytest

os.environ.setdefault("GANS_QUICK", "1")

if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_name] = "1"
    import sys

    if "torch" in sys.modules:   # déjà importé par un greffon : on règle aussi le fil courant
        sys.modules["torch"].set_num_threads(1)


@pytest.hookimpl(optionalhook=True)   # sans pytest-xdist (-p no:xdist), le crochet est ignoré
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` : un processus par cœur, quatre au plus (au-delà, le plus long fichier de
    tests fixe la durée, et chaque processus de plus lance ses propres noyaux)."""
    return max(1, min(os.cpu_count() or 1, 4))


def pytest_addoption(parser):
    parser.addoption(
        "--complet", action="store_true",
        help="lance aussi les tests lents (marqueur « lent » : le cours dans un navigateur, la "
             "correction d'une classe fabriquée) ; c'est la commande de la CI (.ci/run)")


def _runs_slow_tests(config) -> bool:
    """Les tests lents tournent avec --complet, ou quand -m choisit lui-même les marqueurs."""
    return config.getoption("--complet") or bool(config.getoption("markexpr"))


def pytest_report_header(config):
    if not _runs_slow_tests(config):
        return ("Tests lents (marqueur « lent » : navigateur, classe corrigée) laissés de côté ; "
                "pytest --complet lance tout, comme la CI.")
    return None


def pytest_collection_modifyitems(config, items):
    """Sans --complet (ni -m), les tests marqués « lent » ne sont pas lancés."""
    if _runs_slow_tests(config):
        return
    slow = [item for item in items if item.get_closest_marker("lent")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("lent")]
