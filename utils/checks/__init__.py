"""Auto-vérifications des exercices.

Chaque fonction ``check_...`` teste votre réponse contre une référence :

* si elle est juste, elle affiche un verdict ✅ (toujours le même texte, pour
  pouvoir le comparer d'une exécution à l'autre) ;
* sinon elle lève :class:`CheckError` avec un message ❌ qui dit ce qui était
  attendu, ce qui a été reçu, de combien on s'écarte et quoi corriger.

Les vérifications n'utilisent pas l'aléa du notebook : elles tirent leurs
propres nombres et rendent ensuite le générateur aléatoire dans l'état où elles
l'ont trouvé.

Organisation (pour qui maintient le cours) : ``core`` rassemble ce que tous
les jours partagent (verdicts, traduction des erreurs de PyTorch, sondes des
modèles et des gradients) ; chaque jour a son module, ``jour_01``,
``jour_02``, ``jour_03``, ``jour_04``, ``jour_05``, ``jour_06``. Un jour qui reprend une vérification
d'un jour précédent l'importe de son module au lieu de la recopier (le jour 3
vérifie ses pertes et son pas d'entraînement avec celles du jour 1).

Pour ajouter un jour : écrire ``jour_NN.py`` (fonctions ``check_...``
publiques, ``__all__``, aides privées préfixées par ``_``), puis réexporter
ici ses fonctions ``check_...``, pour que les notebooks écrivent simplement
``from utils.checks import check_...``.
"""

from .core import CheckError, describe_difference
from .jour_01 import (
    check_discriminator,
    check_discriminator_loss,
    check_generator,
    check_generator_loss,
    check_train_step,
)
from .jour_02 import (
    TOY_LOSSES,
    check_toy_discriminator,
    check_toy_generator,
    check_toy_losses,
    check_toy_train_step,
)
from .jour_03 import (
    check_conv_transpose_size,
    check_dcgan_discriminator,
    check_dcgan_generator,
    check_dcgan_train_step,
    check_smoothed_discriminator_loss,
)
from .jour_04 import (
    check_critic,
    check_critic_loss,
    check_gradient_penalty,
    check_wgan_generator_loss,
    check_wgan_gp_step,
)
from .jour_05 import check_autoencoder, check_reparameterize, check_vae_loss
from .jour_06 import (
    check_cgan_step,
    check_conditional_discriminator,
    check_conditional_generator,
    check_density_coverage,
    check_frechet_distance,
    check_knn_radii,
    check_memorisation_ratio,
    check_precision_recall,
)

__all__ = [
    "CheckError", "describe_difference",
    # jour 1
    "check_discriminator", "check_generator", "check_discriminator_loss", "check_generator_loss",
    "check_train_step",
    # jour 2
    "TOY_LOSSES", "check_toy_generator", "check_toy_discriminator", "check_toy_losses",
    "check_toy_train_step",
    # jour 3 (la perte lissée et le pas à plusieurs pas de D reprennent les vérifications du jour 1)
    "check_conv_transpose_size", "check_dcgan_generator", "check_dcgan_discriminator",
    "check_smoothed_discriminator_loss", "check_dcgan_train_step",
    # jour 4
    "check_critic", "check_critic_loss", "check_gradient_penalty", "check_wgan_generator_loss",
    "check_wgan_gp_step",
    # jour 5
    "check_autoencoder", "check_reparameterize", "check_vae_loss",
    # jour 6 : le GAN conditionnel, puis l'évaluation
    "check_conditional_generator", "check_conditional_discriminator", "check_cgan_step",
    "check_frechet_distance", "check_knn_radii", "check_precision_recall", "check_density_coverage",
    "check_memorisation_ratio",
]
