"""Entraîne un DCGAN du jour 3 (ou un WGAN-GP du jour 4) pendant 20 époques ou plus, et livre son générateur.

Le notebook du jour 3 n'a le temps, sur un CPU, que de 2 époques ; celui du jour 4, de 1 600 pas
du générateur. Cet outil fait un entraînement complet d'une configuration (la recette Keras du lab,
celle de Radford et al., des variantes de capacité, de lot, d'optimiseur, ou un WGAN-GP à critique
dense ou convolutif : ``--lister``), depuis une graine fixe, avec une barre de progression, un
journal et une reprise possible :

* à la fin de chaque époque, l'état complet (réseaux, optimiseurs, moyennes mobiles, générateurs
  aléatoires) est enregistré dans ``runs/dcgan_20_epoques/<configuration>-graine<g>/etat.pt`` ;
  relancer la même commande reprend à l'époque suivante (sur CPU, avec le même nombre de fils,
  les poids sont ceux d'un entraînement d'une traite) ; ``--epochs`` plus grand prolonge un
  entraînement fini ;
* une époque fait voir chaque image une fois à D (au critique de WGAN-GP : ``n_critic`` lots par
  pas du générateur) ; la copie moyennée du générateur est notée à chaque époque par l'évaluateur
  du cours (10 000 chiffres) ; tout s'écrit dans ``journal.json`` dans le même dossier ; une perte
  non finie arrête l'entraînement, et le journal le dit ;
* à la fin, chaque moyenne mobile suivie (et les poids bruts) est arrondie en demi-précision
  (float16), rechargée et notée : ce sont les scores d'un générateur livré tel quel.

``--livrer`` copie le générateur en demi-précision et son journal dans ``utils/pretrained/``
et met à jour ``utils/pretrained/SHA256SUMS`` ; les notebooks des jours 3, 4 et 6 les chargent avec
:func:`utils.gan.load_pretrained_dcgan`, et un test vérifie qu'ils obtiennent les scores du journal.
``--tableau DOSSIER`` affiche le tableau Markdown des journaux d'un dossier.

Usage, depuis la racine du dépôt ::

    python tools/train_dcgan_20_epochs.py --config keras                 # la recette du lab
    python tools/train_dcgan_20_epochs.py --config keras --epochs 3      # une recherche courte
    python tools/train_dcgan_20_epochs.py --config keras --livrer        # après les 20 époques
    python tools/train_dcgan_20_epochs.py --config wgan_gp_jour4 --epochs 40
    python tools/train_dcgan_20_epochs.py --lister                       # les configurations
    python tools/train_dcgan_20_epochs.py --tableau tools/recherche_jour_03
    GANS_DEVICE=cuda python tools/train_dcgan_20_epochs.py --config keras

Sur un CPU, ``--threads`` fixe le nombre de fils de calcul (deux entraînements côte à côte :
``--threads 1`` chacun).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.checks.jour_04 import reference_wgan_gp_step  # noqa: E402
from utils.data import iterate_minibatches, load_mnist, steps_per_epoch  # noqa: E402
from utils.evaluator import evaluate_samples  # noqa: E402
from utils.gan import (  # noqa: E402
    PRETRAINED_DIR,
    SAMPLE_SEED,
    DCGANDiscriminator,
    discriminator_loss,
    ema_ready,
    generator_from_settings,
    generator_loss,
    init_weights,
    make_ema,
    sample_digits,
    train_step,
    write_checksums,
)
from utils.runtime import get_device, set_seed  # noqa: E402
from utils.tracking import progress  # noqa: E402

# La recette Keras du lab (la cellule CONFIG du notebook du jour 3), avec les ajouts du cours.
KERAS = {
    "z_dim": 256, "g_channels": (128, 64), "d_channels": (64, 128), "dropout": 0.3,
    "d_batch_norm": False, "optimizer": "rmsprop", "lr_g": 5e-4, "lr_d": 5e-5, "batch_size": 64,
    "real_label": 0.9, "d_steps": 1, "ema_decay": 0.999,
    # Pour tester une explication des pertes finales du DCGAN Keras (voir keras_predict) :
    "d_fakes_eval": False, "bn_momentum": 0.1,
    # Le jeu et les réseaux : « gan » (la perte du jour 1) ou « wgan_gp » (jour 4) ; le générateur
    # convolutif du jour 3 (« dcgan ») ou dense du jour 1 (« dense ») ; pour WGAN-GP, le critique.
    "loss": "gan", "g_arch": "dcgan", "critic": "", "n_critic": 1, "gp_weight": 0.0,
    "betas": (0.5, 0.999),
}

# Radford et al. (2016), écrit comme un changement de la recette Keras.
RADFORD = {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "d_batch_norm": True, "dropout": 0.0,
           "real_label": 1.0, "z_dim": 100}

# WGAN-GP (Gulrajani et al., 2017, réglages de leur MNIST) : n_critic = 5, λ = 10, Adam 1e-4 avec
# β = (0 ; 0,9), le générateur convolutif du jour 3 avec un bruit de dimension 128.
WGAN_GP = {"loss": "wgan_gp", "optimizer": "adam", "betas": (0.0, 0.9), "lr_g": 1e-4, "lr_d": 1e-4,
           "n_critic": 5, "gp_weight": 10.0, "z_dim": 128, "dropout": 0.0, "real_label": 1.0,
           "critic": "conv", "critic_channels": (64, 128, 256)}

# Chaque variante change quelques réglages de la recette Keras.
CONFIGS = {
    "keras": {},
    "keras_lr_d_1e-4": {"lr_d": 1e-4},
    "keras_lr_x2": {"lr_g": 1e-3, "lr_d": 1e-4},
    "keras_bn_d": {"d_batch_norm": True},
    "keras_sans_dropout": {"dropout": 0.0},
    "keras_d_large": {"d_channels": (128, 256)},
    "keras_g_large": {"g_channels": (256, 128)},
    "keras_lot_128": {"batch_size": 128},
    "adam_2e-4_bn_d": {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "d_batch_norm": True,
                       "dropout": 0.0, "real_label": 1.0},
    # Comme le fait generator.predict() dans une boucle Keras : D apprend sur des images tirées
    # avec G en mode inférence (BatchNorm sur ses moyennes mobiles, élan 0,99 à la Keras), tandis
    # que la perte de G est calculée avec G en mode entraînement (statistiques du lot).
    "keras_predict": {"d_fakes_eval": True, "bn_momentum": 0.01},
    "keras_adam": {"optimizer": "adam"},
    "keras_gd2": {"g_channels": (256, 128), "d_channels": (128, 256)},
    "keras_g4": {"g_channels": (512, 256)},
    "keras_d4": {"d_channels": (256, 512)},
    "keras_gd4": {"g_channels": (512, 256), "d_channels": (256, 512)},
    # La recette de Radford et al. (2016) : BatchNorm dans G et dans D (pas sur la couche d'entrée
    # de D), sans Dropout ni lissage, Adam 2e-4 avec β1 = 0,5, bruit de dimension 100.
    "radford": RADFORD,
    "radford_g2": {**RADFORD, "g_channels": (256, 128)},
    "radford_g4": {**RADFORD, "g_channels": (512, 256)},
    "radford_d2": {**RADFORD, "d_channels": (128, 256)},
    "radford_d4": {**RADFORD, "d_channels": (256, 512)},
    "radford_gd2": {**RADFORD, "g_channels": (256, 128), "d_channels": (128, 256)},
    "radford_gd4": {**RADFORD, "g_channels": (512, 256), "d_channels": (256, 512)},
    "radford_lot_128": {**RADFORD, "batch_size": 128},
    "wgan_gp_conv": WGAN_GP,
    "wgan_gp_conv_ln": {**WGAN_GP, "critic": "conv_ln"},
    "wgan_gp_conv_demi": {**WGAN_GP, "critic_channels": (32, 64, 128)},
    "wgan_gp_dense_1e-3": {**WGAN_GP, "critic": "dense", "lr_g": 1e-3, "lr_d": 1e-3},
    "wgan_gp_dense": {**WGAN_GP, "critic": "dense"},
    # Le WGAN-GP du jour 4 tel que le lab l'entraîne : G et critique denses, Adam 1e-3.
    "wgan_gp_jour4": {**WGAN_GP, "critic": "dense", "g_arch": "dense", "z_dim": 64, "lr_g": 1e-3,
                      "lr_d": 1e-3},
}

# Ce que chaque configuration change, en français (le notebook s'en sert comme légende).
DESCRIPTIONS = {
    "keras": "DCGAN, recette Keras",
    "keras_lr_d_1e-4": "recette Keras, D à 1e-4",
    "keras_lr_x2": "DCGAN, taux doublés (G 1e-3, D 1e-4)",
    "keras_bn_d": "recette Keras, BatchNorm dans D",
    "keras_sans_dropout": "recette Keras, sans Dropout dans D",
    "keras_d_large": "recette Keras, D deux fois plus large",
    "keras_g_large": "DCGAN, G deux fois plus large (256 et 128 filtres)",
    "keras_lot_128": "recette Keras, lots de 128",
    "adam_2e-4_bn_d": "Adam 2e-4, BatchNorm dans D, sans lissage ni Dropout",
    "keras_predict": "recette Keras, D nourri par G en mode inférence (comme predict)",
    "keras_adam": "recette Keras avec Adam (mêmes taux)",
    "keras_gd2": "recette Keras, G et D deux fois plus larges",
    "keras_g4": "recette Keras, G quatre fois plus large",
    "keras_d4": "recette Keras, D quatre fois plus large",
    "keras_gd4": "recette Keras, G et D quatre fois plus larges",
    "radford": "DCGAN, recette de Radford et al.",
    "radford_g2": "Radford, G deux fois plus large",
    "radford_g4": "Radford, G quatre fois plus large",
    "radford_d2": "Radford, D deux fois plus large",
    "radford_d4": "Radford, D quatre fois plus large",
    "radford_gd2": "Radford, G et D deux fois plus larges",
    "radford_gd4": "Radford, G et D quatre fois plus larges",
    "radford_lot_128": "Radford, lots de 128",
    "wgan_gp_conv": "WGAN-GP, critique convolutif (Gulrajani et al.)",
    "wgan_gp_conv_ln": "WGAN-GP, critique convolutif avec LayerNorm",
    "wgan_gp_conv_demi": "WGAN-GP, critique convolutif deux fois moins large",
    "wgan_gp_dense_1e-3": "WGAN-GP, critique dense, G convolutif, Adam 1e-3",
    "wgan_gp_dense": "WGAN-GP, critique dense du jour 4, G convolutif",
    "wgan_gp_jour4": "WGAN-GP du jour 4 (G et critique denses, Adam 1e-3)",
}

# Le nombre d'époques de la recette Keras : seul un entraînement complet se livre.
FULL_EPOCHS = 20

# Moyennes mobiles suivies en plus de celle de la configuration (le choix se fait sur le journal).
EXTRA_DECAYS = (0.9999,)


def config_for(name: str) -> dict:
    if name not in CONFIGS:
        raise SystemExit(f"Configuration inconnue : {name!r}. Choisissez parmi : {', '.join(CONFIGS)}.")
    return {**KERAS, **CONFIGS[name]}


class ConvCritic(nn.Module):
    """Le critique convolutif du MNIST de Gulrajani et al. (2017) : trois convolutions 5 × 5 de pas 2
    (64, 128 puis 256 filtres ; 28 → 14 → 7 → 4), LeakyReLU(0,2), une couche dense vers un nombre.
    Aucune BatchNorm : la pénalité de gradient porte sur chaque image seule, et une normalisation
    par lot ferait dépendre la note d'une image des autres. ``layer_norm=True`` normalise chaque
    image après la deuxième et la troisième convolution (une LayerNorm sur C × H × W)."""

    def __init__(self, channels=(64, 128, 256), layer_norm=False):
        super().__init__()
        c1, c2, c3 = channels
        norm = (lambda c: nn.GroupNorm(1, c)) if layer_norm else (lambda c: nn.Identity())
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 5, stride=2, padding=2), norm(c2), nn.LeakyReLU(0.2),
            nn.Conv2d(c2, c3, 5, stride=2, padding=2), norm(c3), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(c3 * 4 * 4, 1),
        )

    def forward(self, x):
        return self.net(x)


class DenseCritic(nn.Module):
    """Le critique dense du jour 4 (exercice 1) : 784 → 512 → 256 → 128 → 1, LeakyReLU(0,2)."""

    def __init__(self, hidden=(512, 256, 128)):
        super().__init__()
        layers, width_in = [nn.Flatten()], 28 * 28
        for width in hidden:
            layers += [nn.Linear(width_in, width), nn.LeakyReLU(0.2)]
            width_in = width
        self.net = nn.Sequential(*layers, nn.Linear(width_in, 1))

    def forward(self, x):
        return self.net(x)


def make_discriminator(config: dict) -> nn.Module:
    """Le discriminateur (perte « gan ») ou le critique (perte « wgan_gp ») de la configuration."""
    if config["loss"] == "gan":
        return DCGANDiscriminator(config["d_channels"], config["dropout"], config["d_batch_norm"])
    if config["critic"] in ("conv", "conv_ln"):
        return ConvCritic(tuple(config["critic_channels"]), layer_norm=config["critic"] == "conv_ln")
    if config["critic"] == "dense":
        return DenseCritic()
    raise ValueError(f"Critique inconnu : {config['critic']!r}. Choisissez 'conv', 'conv_ln' ou 'dense'.")


def wgan_gp_step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic, gp_weight) -> dict:
    """Un pas de WGAN-GP (jour 4, exercice 5), celui de référence de la vérification du jour 4 :
    ``n_critic`` pas du critique, chacun sur un lot neuf de ``batches``, puis un pas du générateur.
    ``loss_d`` est la perte du critique (le nom que le journal donne à la perte de D)."""
    values = reference_wgan_gp_step(batches, generator, critic, opt_g, opt_c, z_dim, n_critic, gp_weight)
    values["loss_d"] = values.pop("loss_c")
    return values


def make_optimizer(params, config: dict, lr: float) -> torch.optim.Optimizer:
    if config["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9)
    if config["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(config["betas"]))
    raise ValueError(f"Optimiseur inconnu : {config['optimizer']!r}. Choisissez 'rmsprop' ou 'adam'.")


def predict_style_step(real, generator, discriminator, opt_g, opt_d, z_dim, real_label) -> dict:
    """Un pas « à la Keras » : D voit des images de G en mode inférence, G s'entraîne en mode entraînement.

    ``d_fake`` est la note de D sur les images qu'il a vues ; ``d_fake_g`` sa note sur les images
    du pas de G (celles de la perte de G).
    """
    n = real.shape[0]
    generator.eval()
    with torch.no_grad():
        fake_for_d = generator(torch.randn(n, z_dim, device=real.device))
    generator.train()
    opt_d.zero_grad()
    d_real, d_fake = discriminator(real), discriminator(fake_for_d)
    loss_d = discriminator_loss(d_real, d_fake, real_label)
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    d_fake_g = discriminator(generator(torch.randn(n, z_dim, device=real.device)))
    loss_g = generator_loss(d_fake_g)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item(), "d_fake_g": d_fake_g.mean().item()}


def _atomic_save(obj, path: Path) -> None:
    """Écrit ``obj`` dans ``path`` d'un coup (fichier temporaire puis renommage). Un disque plein
    ou un dossier en lecture seule arrête l'outil avec un message en français ; l'ancien fichier
    reste intact et le fichier temporaire est effacé."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        torch.save(obj, temp)
        os.replace(temp, path)
    except (OSError, RuntimeError) as error:
        temp.unlink(missing_ok=True)
        free = shutil.disk_usage(path.parent).free / 2**20 if path.parent.exists() else float("nan")
        raise SystemExit(f"Impossible d'écrire {path} ({free:.0f} Mo libres sur ce disque) : le disque est "
                         f"peut-être plein, ou le dossier protégé en écriture. Libérez de la place ou "
                         f"choisissez une autre --sortie ; rien de ce qui était enregistré n'a été perdu. "
                         f"(Détail : {' '.join(str(error).split())[:200]})") from None


def _load_state(state_path: Path) -> dict:
    """Relit ``etat.pt`` pour reprendre ; un fichier abîmé arrête l'outil avec un message clair."""
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=False)   # états aléatoires : sur le CPU
    except Exception as error:  # noqa: BLE001 - tronqué, abîmé, autre format : le même conseil
        raise SystemExit(f"{state_path} est illisible (tronqué ou abîmé : {type(error).__name__}). Il n'a "
                         "pas été modifié. Pour repartir de zéro, renommez-le ou effacez-le, ou choisissez "
                         "une autre --sortie.") from None
    needed = {"configuration", "seed", "epoch", "generator", "discriminator", "opt_g", "opt_d", "emas",
              "data_order", "rng_cpu", "log"}
    if not isinstance(state, dict) or not needed <= state.keys():
        missing = sorted(needed - state.keys()) if isinstance(state, dict) else [type(state).__name__]
        raise SystemExit(f"{state_path} n'est pas un état de cet outil (il y manque : {', '.join(missing)}). "
                         "Il n'a pas été modifié ; renommez-le, effacez-le ou choisissez une autre --sortie.")
    return state


def _write_json(data, path: Path) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temp, path)


def half_state(generator: torch.nn.Module) -> dict:
    """Les poids du générateur, les flottants arrondis en float16 (sur le CPU)."""
    return {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu())
            for k, v in generator.state_dict().items()}


def score_half(state: dict, config: dict, name: str) -> dict:
    """Recharge des poids float16 dans un générateur float32 et le note sur 10 000 chiffres."""
    generator = generator_from_settings(config)
    generator.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    generator.eval()   # noté sur le CPU, comme le test qui le vérifie, quel que soit l'appareil d'entraînement
    report = evaluate_samples(sample_digits(generator, config["z_dim"]), name=name)
    return _report_dict(report)


def _report_dict(report) -> dict:
    return {"fid": round(report.fid, 3), "confident_share": round(report.confident_share, 4),
            "class_shares": [round(s, 4) for s in report.class_shares],
            "all_digits_between_5_15": report.all_digits_between()}


def train(name: str, epochs: int, seed: int, device: torch.device, out: Path) -> dict:
    config = config_for(name)
    decays = [config["ema_decay"], *[d for d in EXTRA_DECAYS if d != config["ema_decay"]]]
    out.mkdir(parents=True, exist_ok=True)
    state_path, log_path = out / "etat.pt", out / "journal.json"

    images, _ = load_mnist("train", device=device)
    images = images.contiguous(memory_format=torch.channels_last)
    # Une époque : chaque image vue une fois par D (par le critique, n_critic lots par pas de G).
    per_epoch = steps_per_epoch(images.shape[0], config["batch_size"]) // config["n_critic"]

    set_seed(seed)
    generator = generator_from_settings(config).to(device).apply(init_weights)
    for module in generator.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.momentum = config["bn_momentum"]
    discriminator = make_discriminator(config).to(device).apply(init_weights)
    generator.to(memory_format=torch.channels_last)
    discriminator.to(memory_format=torch.channels_last)
    opt_g = make_optimizer(generator.parameters(), config, config["lr_g"])
    opt_d = make_optimizer(discriminator.parameters(), config, config["lr_d"])
    emas = {d: make_ema(generator, d) for d in decays}
    data_order = torch.Generator().manual_seed(seed)
    log = {"configuration": name, "description": DESCRIPTIONS[name], "settings": {k: list(v) if isinstance(v, tuple) else v
                                               for k, v in config.items()},
           "seed": seed, "epochs_planned": epochs, "steps_per_epoch": per_epoch,
           "device": str(device), "threads": torch.get_num_threads(),
           "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cœurs",
           "torch": torch.__version__, "sample_seed": SAMPLE_SEED, "epochs": [], "seconds": 0.0}
    start_epoch = 0
    if state_path.exists():
        state = _load_state(state_path)
        if state["configuration"] != name or state["seed"] != seed:
            raise SystemExit(f"{state_path} appartient à un autre entraînement ; changez --sortie.")
        changed = {k: (v, log["settings"][k]) for k, v in state["log"]["settings"].items()
                   if k in log["settings"] and log["settings"][k] != v}
        if changed:
            raise SystemExit(f"Les réglages de {name} ont changé depuis le début de cet entraînement "
                             f"(avant, maintenant : {changed}) ; reprendre mélangerait deux recettes. "
                             "Rétablissez-les, ou repartez de zéro avec une autre --sortie.")
        if state["epoch"] > epochs:
            raise SystemExit(f"{state_path} a déjà fait {state['epoch']} époques, plus que --epochs {epochs} : "
                             "demandez au moins autant d'époques, ou choisissez une autre --sortie.")
        before = (state["log"].get("device"), state["log"].get("threads"))
        if before != (str(device), torch.get_num_threads()):
            print(f"⚠️ Commencé sur {before[0]} avec {before[1]} fil(s), repris sur {device} avec "
                  f"{torch.get_num_threads()} : le résultat reste juste, mais peut différer au bit près "
                  "d'un entraînement d'une traite.")
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        for d, ema in emas.items():
            ema.load_state_dict(state["emas"][str(d)])
        data_order.set_state(state["data_order"])
        torch.set_rng_state(state["rng_cpu"])
        if device.type == "cuda" and state.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(state["rng_cuda"])
        log = state["log"]
        log["epochs_planned"] = epochs
        start_epoch = state["epoch"]
        print(f"Reprise après l'époque {start_epoch} ({log['seconds']:.0f} s déjà passées).")

    # Un essai d'écriture de la taille d'un état, avant la première époque : un disque plein se voit
    # tout de suite, et non après une époque entière de calcul.
    trial = out / ".essai_ecriture.pt"
    _atomic_save({"generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                  "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                  "emas": {str(d): e.state_dict() for d, e in emas.items()}}, trial)
    trial.unlink()

    main_ema = emas[config["ema_decay"]]
    bar = progress(total=epochs * per_epoch, initial=start_epoch * per_epoch, desc=f"{name} (graine {seed})")
    for epoch in range(start_epoch + 1, epochs + 1):
        started, sums = time.time(), {}
        generator.train()
        discriminator.train()
        for ema in emas.values():
            ema.train()
        batches = iterate_minibatches(images, config["batch_size"], generator=data_order)
        for real in (batches if config["loss"] == "gan" else range(per_epoch)):
            if config["loss"] == "wgan_gp":
                values = wgan_gp_step(batches, generator, discriminator, opt_g, opt_d, config["z_dim"],
                                      config["n_critic"], config["gp_weight"])
            elif config["d_fakes_eval"]:
                values = predict_style_step(real, generator, discriminator, opt_g, opt_d, config["z_dim"],
                                            config["real_label"])
            else:
                values = train_step(real, generator, discriminator, opt_g, opt_d, config["z_dim"],
                                    real_label=config["real_label"], d_steps=config["d_steps"])
            for ema in emas.values():
                ema.update_parameters(generator)
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            if not math.isfinite(values["loss_d"] + values["loss_g"]):
                log["diverged_at_step"] = bar.n + 1
                _write_json(log, log_path)
                raise SystemExit(f"{name} a divergé à l'époque {epoch} (pertes {values['loss_d']}, "
                                 f"{values['loss_g']}) : l'entraînement s'arrête ; le journal le dit. "
                                 "Baissez les taux d'apprentissage de cette configuration.")
            bar.update()
            if bar.n % 50 == 0:
                bar.set_postfix({k: f"{v:.3f}" for k, v in values.items() if k.startswith("loss")})
        seconds = time.time() - started
        with torch.no_grad():
            report = evaluate_samples(sample_digits(ema_ready(main_ema, config["z_dim"], n_samples=2000).module,
                                                    config["z_dim"]), device=device)
        entry = {"epoch": epoch, "step": epoch * per_epoch, "train_seconds": round(seconds, 1),
                 "ms_per_step": round(1000 * seconds / per_epoch, 1), "threads": torch.get_num_threads(),
                 **{f"mean_{k}": round(v / per_epoch, 4) for k, v in sums.items()},
                 **_report_dict(report)}
        log["epochs"].append(entry)
        log["seconds"] = round(log["seconds"] + seconds, 1)
        bar.write(f"époque {epoch:2d} : FID-MNIST {report.fid:6.2f}, confiante "
                  f"{100 * report.confident_share:4.1f} %, chiffres {100 * min(report.class_shares):.1f}–"
                  f"{100 * max(report.class_shares):.1f} %, {entry['ms_per_step']:.0f} ms par étape")
        _atomic_save({"configuration": name, "seed": seed, "epoch": epoch,
                      "generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                      "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                      "emas": {str(d): e.state_dict() for d, e in emas.items()},
                      "data_order": data_order.get_state(), "rng_cpu": torch.get_rng_state(),
                      "rng_cuda": torch.cuda.get_rng_state() if device.type == "cuda" else None,
                      "log": log}, state_path)
        _write_json(log, log_path)
    bar.close()

    # Les générateurs tels qu'ils seraient livrés : float16, rechargés, notés.
    finals = {}
    for d, ema in emas.items():
        with torch.no_grad():
            state = half_state(ema_ready(ema, config["z_dim"], n_samples=2000).module)
        torch.save(state, out / f"generateur_ema_{d}.pt")
        finals[f"ema_{d}"] = score_half(state, config, f"{name}, moyenne {d}")
    state = half_state(generator.eval())
    torch.save(state, out / "generateur_brut.pt")
    finals["brut"] = score_half(state, config, f"{name}, poids bruts")
    log["final_float16"] = finals
    log["epochs_done"] = len(log["epochs"])
    _write_json(log, log_path)
    for key, scores in finals.items():
        print(f"{key:14s} (float16) : FID-MNIST {scores['fid']:.2f}, confiante "
              f"{100 * scores['confident_share']:.1f} %, chiffres {100 * min(scores['class_shares']):.1f}–"
              f"{100 * max(scores['class_shares']):.1f} %")
    return log


def ship(name: str, seed: int, out: Path, which: str) -> None:
    """Copie le générateur float16 choisi et son journal dans utils/pretrained/, puis les sommes SHA-256."""
    if not (out / "journal.json").exists():
        raise SystemExit(f"Pas de journal dans {out} : entraînez d'abord cette configuration avec cette graine "
                         "(la même commande sans --livrer), ou indiquez son dossier avec --sortie.")
    log = json.loads((out / "journal.json").read_text(encoding="utf-8"))
    if "final_float16" not in log or log["epochs_done"] < FULL_EPOCHS:
        raise SystemExit(f"{out} : {len(log['epochs'])} époque(s) sur {FULL_EPOCHS} ; seul un entraînement "
                         "complet se livre. Relancez-le sans --livrer (il reprendra où il s'est arrêté).")
    if which not in log["final_float16"]:
        raise SystemExit(f"--generateur {which!r} inconnu ; choisissez parmi {', '.join(log['final_float16'])}.")
    source = out / f"generateur_{which}.pt"
    prefix = "" if name.startswith("wgan_gp") else "dcgan_"
    target_name = f"{prefix}{name}_{log['epochs_done']}_epoques"
    PRETRAINED_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, PRETRAINED_DIR / f"{target_name}.pt")
    shipped = {**log, "description": DESCRIPTIONS[name], "shipped": which, "scores": log["final_float16"][which],
               "weights_file": f"{target_name}.pt"}
    _write_json(shipped, PRETRAINED_DIR / f"{target_name}.json")
    write_checksums()
    digest = hashlib.sha256((PRETRAINED_DIR / f"{target_name}.pt").read_bytes()).hexdigest()
    print(f"Livré : utils/pretrained/{target_name}.pt (sha256 {digest[:16]}…) et son journal.")


def _fr(x: float) -> str:
    return f"{x:.1f}".replace(".", ",")


def table(folder: Path, marks=(1, 3, 5, 10, 20, 40)) -> str:
    """Le tableau Markdown des journaux ``*/journal.json`` de ``folder`` (un entraînement par ligne) :
    FID-MNIST de la copie moyennée à quelques époques, scores des générateurs finals en float16,
    durée d'entraînement et machine."""
    rows = ["| configuration | graine | époques | " + " | ".join(f"FID ép. {m}" for m in marks)
            + " | final float16 (moy. 0,999 / 0,9999 / brut) | chaque chiffre 5–15 % | durée | machine |",
            "|" + "---|" * (len(marks) + 7)]
    journals = sorted([*folder.glob("*/journal.json"), *folder.glob("*.json")])
    if not journals:
        raise SystemExit(f"Aucun journal.json dans les dossiers de {folder}.")
    for path in journals:
        log = json.loads(path.read_text(encoding="utf-8"))
        by_epoch = {e["epoch"]: e for e in log["epochs"]}
        fids = [_fr(by_epoch[m]["fid"]) if m in by_epoch else "—" for m in marks]
        finals = log.get("final_float16", {})
        final = " / ".join(_fr(finals[k]["fid"]) if k in finals else "—"
                           for k in ("ema_0.999", "ema_0.9999", "brut")) if finals else "—"
        best = min(finals.values(), key=lambda r: r["fid"]) if finals else None
        between = ("oui" if best["all_digits_between_5_15"] else "non") if best else "—"
        status = f"{len(log['epochs'])}" + (" (divergé)" if "diverged_at_step" in log else "")
        rows.append(f"| {log['configuration']} | {log['seed']} | {status} | " + " | ".join(fids)
                    + f" | {final} | {between} | {log['seconds'] / 60:.0f} min | {log['device']}, "
                      f"{log['threads']} fil(s) |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="keras", help="nom de la configuration (voir --lister)")
    parser.add_argument("--epochs", type=int, default=20, help="nombre d'époques (20 : la recette Keras ; plus : prolonger)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="fils de calcul sur CPU (0 : le défaut)")
    parser.add_argument("--sortie", default="", help="dossier de l'entraînement (défaut : runs/dcgan_20_epoques/…)")
    parser.add_argument("--livrer", action="store_true", help="copier le générateur dans utils/pretrained/")
    parser.add_argument("--generateur", default="", help="avec --livrer : ema_<décroissance> ou brut")
    parser.add_argument("--lister", action="store_true", help="afficher les configurations et quitter")
    parser.add_argument("--tableau", default="", help="dossier d'entraînements : afficher leur tableau et quitter")
    args = parser.parse_args()
    if args.tableau:
        print(table(Path(args.tableau)))
        return
    if args.lister:
        for name, change in CONFIGS.items():
            print(f"{name:20s} {change or '(la recette Keras du lab)'}")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.sortie) if args.sortie else ROOT / "runs" / "dcgan_20_epoques" / f"{args.config}-graine{args.seed}"
    if args.livrer:
        ship(args.config, args.seed, out, args.generateur or f"ema_{config_for(args.config)['ema_decay']}")
        return
    device = get_device()
    start = time.time()
    log = train(args.config, args.epochs, args.seed, device, out)
    print(f"Terminé en {time.time() - start:.0f} s (entraînement seul : {log['seconds']:.0f} s) ; "
          f"journal : {out / 'journal.json'}")


if __name__ == "__main__":
    main()
