"""Le programme du cours : la liste des jours, dans l'ordre, en un seul endroit.

Les outils (``tools/make_labs.py``, ``tools/run_solutions.py``,
``tools/make_readme.py``), les tests et le tableau du README lisent tous cette
liste. Ajouter un jour, c'est ajouter une entrée à :data:`DAYS` (puis écrire la
leçon et le corrigé, et lancer les outils : voir ``CONTRIBUTING.md``).

Un jour prévu mais pas encore écrit a ``lesson=None`` et ``lab=None`` : le
README l'affiche « à venir », les outils et les tests l'ignorent.

L'import ne fait rien d'autre que définir ces données : aucun fichier lu.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Racine du dépôt (le paquet ``utils`` est installé en mode éditable).
ROOT = Path(__file__).resolve().parent.parent
LESSONS_DIR = ROOT / "01_cours"
LABS_DIR = ROOT / "02_labs"
SOLUTIONS_DIR = ROOT / "solutions"


@dataclass(frozen=True)
class Lab:
    """Un notebook de plus pour un jour qui en a plusieurs (le jour 6).

    ``path`` : chemin sous ``02_labs/`` et ``solutions/`` ; ``title`` : titre
    dans le README ; ``budget`` : durée affichée dans le README.
    """

    path: str
    title: str
    budget: str


@dataclass(frozen=True)
class Day:
    """Un jour du cours.

    ``number`` : numéro du jour ; ``title`` : titre de la leçon (en français) ;
    ``lesson`` : chemin de la leçon depuis la racine du dépôt
    (``"01_cours/jour_01_introduction.md"``) ; ``lab`` : chemin du notebook,
    le même sous ``02_labs/`` et sous ``solutions/``
    (``"images_gan/train_gan_images.ipynb"``) ; ``lab_title`` : titre du lab
    dans le README ; ``checks`` : module des auto-vérifications
    (``"utils.checks.jour_01"``) ; ``budget`` : durée du lab affichée dans le
    README ; ``extra_labs`` : les notebooks suivants d'un jour qui en a
    plusieurs (des :class:`Lab`), dans l'ordre où les faire. Un jour à venir
    n'a que ``number`` et ``title``.
    """

    number: int
    title: str
    lesson: str | None = None
    lab: str | None = None
    lab_title: str = ""
    checks: str | None = None
    budget: str = ""
    extra_labs: tuple[Lab, ...] = ()

    @property
    def planned(self) -> bool:
        """``True`` pour un jour prévu mais pas encore écrit (ni leçon ni lab)."""
        return self.lab is None

    @property
    def lesson_path(self) -> Path:
        """Chemin absolu de la leçon."""
        return ROOT / self.lesson

    @property
    def lab_path(self) -> Path:
        """Chemin absolu du lab étudiant, sous ``02_labs/``."""
        return LABS_DIR / self.lab

    @property
    def solution_path(self) -> Path:
        """Chemin absolu du corrigé, sous ``solutions/``."""
        return SOLUTIONS_DIR / self.lab

    @property
    def labs(self) -> tuple[Lab, ...]:
        """Tous les notebooks du jour, dans l'ordre : le premier, puis ``extra_labs``."""
        if self.planned:
            return ()
        return (Lab(self.lab, self.lab_title, self.budget), *self.extra_labs)

    @property
    def all_lab_paths(self) -> list[Path]:
        """Chemins absolus de tous les labs du jour, sous ``02_labs/``."""
        return [LABS_DIR / lab.path for lab in self.labs]

    @property
    def all_solution_paths(self) -> list[Path]:
        """Chemins absolus de tous les corrigés du jour, sous ``solutions/``."""
        return [SOLUTIONS_DIR / lab.path for lab in self.labs]


#: Les jours, dans l'ordre du cours. C'est aussi l'ordre d'exécution des
#: corrigés : les jours 3, 4 et 5 relisent les échantillons enregistrés par le jour 1, et
#: l'évaluation du jour 6 ceux de tous les jours, GAN conditionnel compris.
DAYS: tuple[Day, ...] = (
    Day(
        number=1,
        title="Qu'est-ce qu'un GAN ?",
        lesson="01_cours/jour_01_introduction.md",
        lab="images_gan/train_gan_images.ipynb",
        lab_title="GAN entièrement connecté sur MNIST",
        checks="utils.checks.jour_01",
        budget="1 h 30, dont 5 à 6 min de calcul",
    ),
    Day(
        number=2,
        title="La perte et la dynamique de l'entraînement",
        lesson="01_cours/jour_02_dynamique.md",
        lab="dynamique/gan_2d_playground.ipynb",
        lab_title="GAN jouet en 2D et terrain de jeu interactif",
        checks="utils.checks.jour_02",
        budget="1 h 30, dont 3 à 4 min de calcul",
    ),
    Day(
        number=3,
        title="DCGAN : des convolutions dans les deux réseaux",
        lesson="01_cours/jour_03_dcgan.md",
        lab="dcgan/dcgan_mnist.ipynb",
        lab_title="DCGAN sur MNIST, la recette pièce par pièce",
        checks="utils.checks.jour_03",
        budget="1 h 30, dont 8 à 9 min de calcul",
    ),
    Day(
        number=4,
        title="Les échecs d'un GAN et leurs remèdes : de WGAN à WGAN-GP",
        lesson="01_cours/jour_04_echecs_et_remedes.md",
        lab="wgan_gp/wgan_gp_mnist.ipynb",
        lab_title="Galerie des échecs, WGAN-GP et quatre remèdes à temps égal",
        checks="utils.checks.jour_04",
        budget="1 h 30, dont environ 9 min de calcul",
    ),
    Day(
        number=5,
        title="Autoencodeurs, VAE et GAN",
        lesson="01_cours/jour_05_autoencodeurs.md",
        lab="autoencoders/ae_vae_mnist.ipynb",
        lab_title="AE et VAE sur MNIST, comparés au GAN",
        checks="utils.checks.jour_05",
        budget="1 h 30, dont environ 3 min de calcul",
    ),
    Day(
        number=6,
        title="Évaluer et contrôler un générateur",
        lesson="01_cours/jour_06_evaluer_et_controler.md",
        lab="cgan/cgan_mnist.ipynb",
        lab_title="GAN conditionnel : dessiner le chiffre demandé",
        checks="utils.checks.jour_06",
        budget="1 h, dont environ 4 min de calcul",
        extra_labs=(
            Lab("evaluation/evaluer_generateurs.ipynb",
                "Évaluer honnêtement : FID, précision et rappel, mémorisation, tableau du cours",
                "1 h 30, dont environ 5 min de calcul"),
        ),
    ),
)


def written_days() -> tuple[Day, ...]:
    """Les jours déjà écrits (leçon et lab), dans l'ordre du cours."""
    return tuple(day for day in DAYS if not day.planned)


def solution_paths() -> list[Path]:
    """Chemins absolus des corrigés (``solutions/...``), dans l'ordre du cours."""
    return [path for day in written_days() for path in day.all_solution_paths]


def lab_paths() -> list[Path]:
    """Chemins absolus des labs étudiants (``02_labs/...``), dans l'ordre du cours."""
    return [path for day in written_days() for path in day.all_lab_paths]


def lesson_paths() -> list[Path]:
    """Chemins absolus des leçons (``01_cours/...``), dans l'ordre du cours."""
    return [day.lesson_path for day in written_days()]


def day_of(path: str | Path) -> Day:
    """Le jour auquel appartient un fichier : sa leçon, son lab ou son corrigé.

    ``path`` : absolu, ou relatif au dossier courant. Lève :class:`ValueError`
    si le fichier n'est ni une leçon, ni un lab, ni un corrigé du programme.
    """
    target = Path(path).resolve()
    for day in written_days():
        if target == day.lesson_path or target in (*day.all_lab_paths, *day.all_solution_paths):
            return day
    raise ValueError(
        f"{path} n'est ni une leçon, ni un lab, ni un corrigé du programme : "
        "ajoutez son jour à DAYS dans utils/course.py."
    )


def get_day(number: int) -> Day:
    """Le jour de numéro ``number`` (écrit ou à venir) ; :class:`ValueError` s'il n'existe pas."""
    for day in DAYS:
        if day.number == number:
            return day
    raise ValueError(f"Pas de jour {number} au programme (jours : {[d.number for d in DAYS]}).")
