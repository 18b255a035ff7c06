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
