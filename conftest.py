"""Configuration de pytest pour tout le dépôt.

Fixée ici, au moment de l'import, une variable d'environnement atteint chaque
noyau Jupyter lancé par nbval : c'est ainsi que les notebooks passent en mode
rapide pendant les tests. Pour tester en mode complet (long) :
``GANS_QUICK=0 pytest``.
"""

import os

os.environ.setdefault("GANS_QUICK", "1")
