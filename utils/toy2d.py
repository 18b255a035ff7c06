"""GAN jouet en deux dimensions (jour 2) : cibles, mesures, dessins et terrain de jeu.

Ce module ne contient ni modèle ni boucle d'entraînement : ceux-là, vous les
écrivez dans le notebook. Il fournit ce qui les entoure :

* les distributions cibles du plan (:func:`sample_target`) ;
* le comptage des modes couverts (:func:`mode_coverage`) ;
* la carte du discriminateur sur une grille du plan (:func:`discriminator_map`) ;
* les dessins d'un instantané et leur animation (:func:`plot_snapshot`,
  :func:`animate_snapshots`) ;
* le terrain de jeu interactif :class:`Playground`, dont toute la logique
  (réinitialiser, avancer, changer un réglage) est appelable sans widgets.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import torch

TARGETS = {
    "ring": "anneau de 8 gaussiennes",
    "grid": "grille de 5 × 5 gaussiennes",
    "moons": "deux lunes",
    "spiral": "spirale",
}
"""Les cibles disponibles : nom (identifiant) → description en français."""

MODE_STD = 0.05
"""Écart type de chaque gaussienne des cibles « ring » et « grid »."""

PLANE_LIMIT = 3.0
"""Les dessins couvrent le carré [-3, 3] × [-3, 3]."""


def _check_target(name: str) -> None:
    if name not in TARGETS:
        choices = ", ".join(f"« {k} » ({v})" for k, v in TARGETS.items())
        raise ValueError(f"Cible inconnue : {name!r}. Choisissez parmi {choices}.")


def mode_centers(name: str) -> torch.Tensor | None:
    """Centres des modes d'une cible à modes séparés (« ring », « grid ») ; ``None`` sinon."""
    _check_target(name)
    if name == "ring":
        angles = torch.arange(8) * (2 * math.pi / 8)
        return 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)
    if name == "grid":
        ticks = torch.arange(-2.0, 3.0)
        return torch.cartesian_prod(ticks, ticks)
    return None


def sample_target(name: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Tire ``n`` points (tenseur (n, 2)) de la cible ``name`` (voir :data:`TARGETS`)."""
    _check_target(name)
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"Le nombre de points doit être un entier positif, reçu {n!r}.")
    noise = torch.randn(n, 2, generator=generator)
    centers = mode_centers(name)
    if centers is not None:
        pick = torch.randint(len(centers), (n,), generator=generator)
        return centers[pick] + MODE_STD * noise
    t = torch.rand(n, generator=generator)
    if name == "moons":
        upper = torch.rand(n, generator=generator) < 0.5
        angle = math.pi * t
        x = torch.where(upper, angle.cos(), 1 - angle.cos())
        y = torch.where(upper, angle.sin(), 0.5 - angle.sin())
        points = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.6
        return points + MODE_STD * noise
    # spirale : deux tours, rayon croissant de 0,3 à 2,5
    angle = 4 * math.pi * t
    radius = 0.3 + 2.2 * t
    points = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
    return points + MODE_STD * noise


def mode_coverage(points: torch.Tensor, name: str, min_share: float = 0.2) -> dict:
    """Compte les modes couverts par des points générés (cibles « ring » et « grid »).

    Chaque point est rattaché au centre le plus proche ; il est « de qualité »
    s'il en est à moins de 3 écarts types. Un mode est couvert s'il reçoit au
    moins ``min_share`` de la part qu'il aurait si les points étaient répartis
    également (0,2 : un cinquième de sa part).

    Renvoie ``{"covered": int, "n_modes": int, "counts": list, "quality": float}``
    où ``quality`` est la part des points qui sont de qualité.
    """
    centers = mode_centers(name)
    if centers is None:
        raise ValueError(f"La cible {name!r} n'a pas de modes séparés à compter : utilisez "
                         "« ring » ou « grid ».")
    points = torch.as_tensor(points).detach().float().cpu()
    if points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"On attend des points de forme (N, 2), reçu {tuple(points.shape)}.")
    distances = torch.cdist(points, centers)
    nearest = distances.min(dim=1)
    good = nearest.values < 3 * MODE_STD
    counts = torch.bincount(nearest.indices[good], minlength=len(centers))
    needed = min_share * len(points) / len(centers)
    return {"covered": int((counts >= max(needed, 1)).sum()), "n_modes": len(centers),
            "counts": counts.tolist(), "quality": good.float().mean().item()}


def plane_grid(resolution: int = 60, limit: float = PLANE_LIMIT) -> torch.Tensor:
    """Points d'une grille régulière du carré [-limit, limit]², de forme (resolution², 2)."""
    ticks = torch.linspace(-limit, limit, resolution)
    yy, xx = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


@torch.no_grad()
def discriminator_map(discriminator: torch.nn.Module, resolution: int = 60,
                      limit: float = PLANE_LIMIT, to_probability: bool = True) -> torch.Tensor:
    """Valeur du discriminateur sur la grille du plan, en tableau (resolution, resolution).

    Le discriminateur du jour 2 renvoie un score brut (logit) ; avec
    ``to_probability=True`` on le passe dans une sigmoïde pour lire D(x) dans [0, 1].
    """
    device = next(discriminator.parameters()).device
    values = discriminator(plane_grid(resolution, limit).to(device)).reshape(resolution, resolution)
    return (values.sigmoid() if to_probability else values).cpu()


def plot_snapshot(snapshot: dict, real: torch.Tensor, ax=None, title: str | None = None,
                  arrows: int = 60):
    """Dessine un instantané : carte de D, points réels et générés, flèches du gradient de G.

    ``snapshot`` est un dictionnaire avec ``"fake"`` (points générés (N, 2)),
    ``"d_map"`` (carte de D, voir :func:`discriminator_map`), et facultativement
    ``"arrows"`` (direction où la perte du générateur pousse chaque point, (N, 2))
    et ``"step"``.
    """
    import matplotlib.pyplot as plt

    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
    lim = PLANE_LIMIT
    image = ax.imshow(torch.as_tensor(snapshot["d_map"]).cpu().numpy(), origin="lower", extent=(-lim, lim, -lim, lim),
                      cmap="RdBu", vmin=0, vmax=1, alpha=0.8)
    real = torch.as_tensor(real).detach().cpu().numpy()
    fake = torch.as_tensor(snapshot["fake"]).detach().cpu().numpy()
    ax.scatter(real[:, 0], real[:, 1], s=4, c="#1b7837", alpha=0.5, label="réels")
    ax.scatter(fake[:, 0], fake[:, 1], s=4, c="#762a83", alpha=0.7, label="générés")
    if snapshot.get("arrows") is not None and arrows:
        direction = torch.as_tensor(snapshot["arrows"]).detach().cpu().numpy()[:arrows]
        ax.quiver(fake[:arrows, 0], fake[:arrows, 1], direction[:, 0], direction[:, 1],
                  color="black", angles="xy", scale_units="xy", scale=None, width=0.004, alpha=0.7)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is None and "step" in snapshot:
        title = f"étape {snapshot['step']}"
    if title:
        ax.set_title(title, fontsize=10)
    if own:
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="D(x)")
        ax.legend(loc="lower right", fontsize=8, markerscale=3)
        plt.show()
        return None
    return image


def animate_snapshots(snapshots: list[dict], real: torch.Tensor, interval: int = 300,
                      max_frames: int = 16, colors: int = 64):
    """Rejoue une liste d'instantanés en GIF animé (qui tourne en boucle dans le notebook).

    On garde au plus ``max_frames`` images, réparties régulièrement, chacune de
    216 pixels de côté, en ``colors`` couleurs communes à toutes les images : le
    notebook reste léger, et le vert des points réels, le violet des points
    générés et le bleu de la carte de D restent distincts. ``interval`` : durée d'une image, en millisecondes. Renvoie un ``IPython.display.Image``
    (ses octets sont dans ``.data``).
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image as IPythonImage
    from PIL import Image

    if not snapshots:
        raise ValueError("Aucun instantané à animer : entraînez d'abord le modèle avec un "
                         "enregistrement (record_every) positif.")
    if max_frames < 1:
        raise ValueError(f"max_frames doit valoir au moins 1 (reçu : {max_frames}).")
    keep = sorted({round(i * (len(snapshots) - 1) / max(max_frames - 1, 1))
                   for i in range(min(max_frames, len(snapshots)))})
    frames = []
    fig, ax = plt.subplots(figsize=(3.6, 3.6), dpi=60)
    try:
        for index in keep:
            ax.clear()
            plot_snapshot(snapshots[index], real, ax=ax, arrows=30)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", facecolor="white")
            frames.append(Image.open(buffer).convert("RGB"))
    finally:
        plt.close(fig)
    # Une seule palette pour toutes les images, tirée de toutes (sinon une couleur absente de
    # l'image de référence, le vert des vrais points au début par exemple, disparaîtrait).
    # FASTOCTREE garde les couleurs rares mais distinctes (points verts et violets, bleu de D),
    # que MEDIANCUT noie dans les nuances de rouge du fond, les plus nombreuses.
    montage = Image.new("RGB", (frames[0].width, frames[0].height * len(frames)))
    for index, frame in enumerate(frames):
        montage.paste(frame, (0, index * frame.height))
    palette = montage.quantize(colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    frames = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    output = io.BytesIO()
    frames[0].save(output, format="GIF", save_all=True, append_images=frames[1:],
                   duration=interval, loop=0, optimize=True)
    return IPythonImage(data=output.getvalue(), format="gif")


# ---------------------------------------------------------------------------
# Le terrain de jeu
# ---------------------------------------------------------------------------

DEFAULT_CONFIG = {
    "target": "ring",
    "loss": "non_saturating",
    "lr_g": 1e-3,
    "lr_d": 1e-3,
    "d_steps": 1,
    "z_dim": 2,
    "batch_size": 256,
    "seed": 0,
}
"""Réglages par défaut d'une session d'entraînement du terrain de jeu."""

LOSSES = {
    "saturating": "saturante : min log(1 − D(G(z)))",
    "non_saturating": "non saturante : min −log D(G(z))",
    "least_squares": "moindres carrés (LSGAN)",
}
"""Les pertes proposées : identifiant → description."""

RESET_KEYS = ("target", "z_dim", "batch_size", "seed")
"""Réglages dont le changement oblige à repartir de zéro (les autres s'appliquent en direct)."""


class Playground:
    """Terrain de jeu : une session d'entraînement pilotée par des réglages.

    ``make_session(config)`` est une fonction (écrite dans le notebook) qui crée
    une session neuve à partir d'un dictionnaire de réglages (voir
    :data:`DEFAULT_CONFIG`). Une session doit offrir :

    * ``train(n_steps)`` : avance de ``n_steps`` pas d'entraînement ;
    * ``snapshot()`` : un dictionnaire pour :func:`plot_snapshot` ;
    * ``history`` : un dictionnaire de listes (``"loss_d"``, ``"loss_g"``) ;
    * ``config`` : le dictionnaire de réglages qu'elle lit à chaque pas.

    Toute la logique est dans :meth:`reset`, :meth:`step`, :meth:`apply` et
    :meth:`draw` ; :meth:`widget` ne fait que brancher des widgets dessus.
    """

    def __init__(self, make_session: Callable[[dict], object], steps_per_tick: int = 25,
                 **config):
        unknown = set(config) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError(f"Réglages inconnus : {sorted(unknown)}. Réglages possibles : "
                             f"{sorted(DEFAULT_CONFIG)}.")
        self.make_session = make_session
        self.steps_per_tick = steps_per_tick
        self.config = {**DEFAULT_CONFIG, **config}
        self.session = None
        self.reset()

    def reset(self) -> None:
        """Repart d'une session neuve avec les réglages actuels."""
        _check_target(self.config["target"])
        self.session = self.make_session(dict(self.config))
        self.real = sample_target(self.config["target"], 1000,
                                  torch.Generator().manual_seed(self.config["seed"] + 1))

    @property
    def steps(self) -> int:
        """Nombre de pas d'entraînement faits depuis la dernière réinitialisation."""
        return len(self.session.history["loss_d"])

    def step(self, n_steps: int | None = None) -> dict:
        """Avance de ``n_steps`` pas (par défaut ``steps_per_tick``) et renvoie l'instantané."""
        self.session.train(n_steps or self.steps_per_tick)
        return self.session.snapshot()

    def apply(self, **changes) -> bool:
        """Change des réglages ; renvoie ``True`` si la session a dû repartir de zéro."""
        unknown = set(changes) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError(f"Réglages inconnus : {sorted(unknown)}.")
        if "loss" in changes and changes["loss"] not in LOSSES:
            raise ValueError(f"Perte inconnue : {changes['loss']!r}. Choisissez parmi "
                             f"{sorted(LOSSES)}.")
        self.config.update(changes)
        if any(key in changes for key in RESET_KEYS):
            self.reset()
            return True
        self.session.config.update(changes)
        return False

    def draw(self):
        """Figure de l'état actuel : le plan à gauche, les pertes à droite."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4),
                                          gridspec_kw={"width_ratios": [1, 1.2]})
        snapshot = self.session.snapshot()
        plot_snapshot(snapshot, self.real, ax=left,
                      title=f"{TARGETS[self.config['target']]} — étape {self.steps}")
        history = self.session.history
        if history["loss_d"]:
            right.plot(history["loss_d"], label="perte de D", lw=0.8)
            right.plot(history["loss_g"], label="perte de G", lw=0.8)
            right.legend(fontsize=8)
        right.set_xlabel("étape")
        right.set_title(LOSSES[self.config["loss"]], fontsize=10)
        if self.config["target"] in ("ring", "grid"):
            cover = mode_coverage(snapshot["fake"], self.config["target"])
            right.text(0.02, 0.95, f"modes couverts : {cover['covered']} / {cover['n_modes']}",
                       transform=right.transAxes, va="top", fontsize=9)
        fig.tight_layout()
        return fig

    def widget(self):
        """Construit l'interface ipywidgets (réglages, lecture/pause, avance de
        ``steps_per_tick`` pas, remise à zéro)."""
        import ipywidgets as w
        import matplotlib.pyplot as plt
        from IPython.display import display

        style = {"description_width": "initial"}
        controls = {
            "target": w.Dropdown(options=[(v, k) for k, v in TARGETS.items()],
                                 value=self.config["target"], description="cible", style=style),
            "loss": w.Dropdown(options=[(v, k) for k, v in LOSSES.items()],
                               value=self.config["loss"], description="perte", style=style),
            "lr_g": w.FloatLogSlider(value=self.config["lr_g"], base=10, min=-5, max=-1,
                                     description="taux G", style=style),
            "lr_d": w.FloatLogSlider(value=self.config["lr_d"], base=10, min=-5, max=-1,
                                     description="taux D", style=style),
            "d_steps": w.IntSlider(value=self.config["d_steps"], min=1, max=10,
                                   description="pas de D par pas de G", style=style),
            "z_dim": w.IntSlider(value=self.config["z_dim"], min=1, max=16,
                                 description="dimension du bruit", style=style),
        }
        play = w.Play(value=0, min=0, max=10**9, interval=250, description="lecture")
        step_button = w.Button(description=f"{self.steps_per_tick} pas", icon="step-forward",
                               tooltip=f"avance de {self.steps_per_tick} pas d'entraînement")
        reset_button = w.Button(description="remise à zéro", icon="refresh")
        out = w.Output()

        def redraw():
            with out:
                out.clear_output(wait=True)
                fig = self.draw()
                display(fig)
                plt.close(fig)

        def on_control(change):
            key = next(k for k, c in controls.items() if c is change["owner"])
            self.apply(**{key: change["new"]})
            redraw()

        for control in controls.values():
            control.observe(on_control, names="value")
        last_tick = [0.0]

        def on_tick(_):
            # Si le noyau a pris du retard, les tics en attente arrivent aussitôt après le
            # précédent : on les saute, pour que la pause réponde tout de suite.
            if time.monotonic() - last_tick[0] < 0.05:
                return
            self.step()
            redraw()
            last_tick[0] = time.monotonic()

        play.observe(on_tick, names="value")
        step_button.on_click(lambda _: (self.step(), redraw()))
        reset_button.on_click(lambda _: (self.reset(), redraw()))
        redraw()
        panel = w.VBox([w.HBox([controls["target"], controls["loss"]]),
                        w.HBox([controls["lr_g"], controls["lr_d"]]),
                        w.HBox([controls["d_steps"], controls["z_dim"]]),
                        w.HBox([play, step_button, reset_button]), out])
        panel.controls = controls  # accessibles pour les tests
        panel.play, panel.step_button, panel.reset_button, panel.out = (play, step_button,
                                                                        reset_button, out)
        return panel
