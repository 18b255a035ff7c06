"""Paquet utilitaire du cours « GANs par la pratique ».

Ce que chaque lab utilise et qu'aucun lab n'enseigne : chargement de MNIST,
graine et appareil, mode rapide, grilles d'images et courbes, barre de
progression et TensorBoard, sauvegardes, auto-vérifications et évaluateur.
Les modèles et les boucles d'entraînement, eux, s'écrivent dans les notebooks
le jour où ils sont enseignés.

Les sous-modules :

* ``utils.gan`` : ce qu'un jour a enseigné et que les jours suivants importent
  (les réseaux du jour 1, les pertes, le pas d'entraînement, l'initialisation,
  la moyenne mobile des poids de G, la comptabilité d'une boucle) ;
* ``utils.checks`` : les auto-vérifications, un module par jour ;
* ``utils.course`` : le programme du cours, lu par les outils et les tests ;
* ``utils.toy2d`` et ``utils.latent`` : le GAN jouet du jour 2 et l'exploration
  de l'espace latent du jour 5 ;
* ``utils.metrics`` : FID, précision et rappel, densité et couverture,
  mémorisation (les références du jour 6) ;
* ``utils.control`` : interpolation entre deux bruits et exploration d'un
  générateur conditionnel (jour 6).

L'import ne change rien : ni graine, ni réglage de matplotlib, ni fichier écrit.
"""

from .checkpoint import (
    artifacts_dir,
    load_checkpoint,
    load_samples,
    save_checkpoint,
    save_generator_artifacts,
    to_uint8_images,
)
from .checks import CheckError
from .data import iterate_minibatches, load_mnist, load_mnist_uint8, steps_per_epoch
from .evaluator import EvaluationReport, compare_reports, evaluate_samples
from .plots import image_grid, plot_class_histogram, plot_history, save_grid_animation, show_images
from .runtime import get_device, is_quick_mode, quick_or_full, repo_root, set_seed, setup
from .tracking import TensorBoardLogger, progress

__all__ = [
    "CheckError", "EvaluationReport", "TensorBoardLogger", "artifacts_dir", "compare_reports",
    "evaluate_samples",
    "get_device", "image_grid", "is_quick_mode", "iterate_minibatches", "load_checkpoint",
    "load_mnist", "load_mnist_uint8", "load_samples", "plot_class_histogram", "plot_history",
    "progress", "quick_or_full", "repo_root", "save_checkpoint", "save_generator_artifacts",
    "save_grid_animation",
    "set_seed", "setup", "show_images", "steps_per_epoch", "to_uint8_images",
]
