"""Contrôler un générateur conditionnel (jour 6) : interpolation et exploration.

* :func:`lerp` et :func:`slerp` : interpolation linéaire et sphérique entre deux
  bruits ;
* :func:`interpolation_path` : les points d'un chemin, de ``z1`` à ``z2`` ;
* :func:`draw_conditional` : les images d'un générateur conditionnel pour des
  bruits et des étiquettes, en mode évaluation ;
* :class:`ConditionalExplorer` : un curseur entre deux bruits (linéaire et
  sphérique côte à côte) et un sélecteur de chiffre, le style tenu fixe. Sa
  logique (:meth:`ConditionalExplorer.update`) s'appelle sans widgets.

Le générateur attendu s'appelle ``generator(z, labels)`` avec ``z`` (N, z_dim)
et ``labels`` des entiers (N,), et renvoie des images (N, 1, 28, 28) dans [-1, 1].
"""

from __future__ import annotations

import io

import torch

__all__ = ["ConditionalExplorer", "draw_conditional", "interpolation_path", "lerp", "slerp"]


def _check_pair(z1: torch.Tensor, z2: torch.Tensor) -> None:
    if not (isinstance(z1, torch.Tensor) and isinstance(z2, torch.Tensor)) or z1.shape != z2.shape:
        raise ValueError("z1 et z2 doivent être deux tenseurs de même forme (deux bruits), reçu "
                         f"{getattr(z1, 'shape', type(z1).__name__)} et {getattr(z2, 'shape', type(z2).__name__)}.")
    if z1.dim() != 1:
        raise ValueError(f"z1 et z2 doivent être deux bruits seuls, de forme (z_dim,) ; reçu {tuple(z1.shape)}. "
                         "Pour un lot de paires, appelez la fonction paire par paire.")


def _check_t(t) -> float:
    """``t`` est un nombre entre 0 (z1) et 1 (z2) : au-delà, ce serait une extrapolation."""
    if isinstance(t, torch.Tensor) and t.numel() == 1:
        t = t.item()
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1:
        raise ValueError(f"t doit être un nombre entre 0 (z1) et 1 (z2), reçu {t!r} : au-delà, on "
                         "sortirait du chemin entre les deux bruits (extrapolation).")
    return float(t)


def lerp(z1: torch.Tensor, z2: torch.Tensor, t: float) -> torch.Tensor:
    """Interpolation linéaire : (1 - t) z1 + t z2, pour t entre 0 et 1."""
    _check_pair(z1, z2)
    t = _check_t(t)
    return (1 - t) * z1 + t * z2


def slerp(z1: torch.Tensor, z2: torch.Tensor, t: float) -> torch.Tensor:
    """Interpolation sphérique (White 2016) : on tourne de z1 vers z2 sur l'arc qui les relie.

    slerp = sin((1-t)Ω)/sin Ω · z1 + sin(tΩ)/sin Ω · z2, avec cos Ω = z1·z2 / (|z1| |z2|).
    Si z1 et z2 sont presque alignés (Ω ≈ 0), c'est l'interpolation linéaire. Pour deux bruits
    opposés (Ω = π), l'arc n'est pas défini : on prend alors aussi la ligne droite.
    """
    _check_pair(z1, z2)
    t = _check_t(t)
    # En float64 : en float32, deux bruits exactement opposés donnent cos Ω = -1 + 1e-7, donc
    # sin Ω ≈ 5e-4, et la division par sin Ω ferait exploser le résultat au lieu de la ligne droite.
    a, b = z1.double(), z2.double()
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp(min=1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if torch.sin(omega).abs() < 1e-4:
        return lerp(z1, z2, t)
    out = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
    return out.to(z1.dtype)


def interpolation_path(z1: torch.Tensor, z2: torch.Tensor, steps: int = 9, mode: str = "slerp") -> torch.Tensor:
    """``steps`` points de z1 à z2 (extrémités comprises), empilés : (steps, *z1.shape)."""
    if mode not in ("lerp", "slerp"):
        raise ValueError(f"mode vaut « lerp » (linéaire) ou « slerp » (sphérique), reçu « {mode} ».")
    if steps < 2:
        raise ValueError(f"Un chemin a au moins 2 points (les deux extrémités), reçu steps={steps}.")
    step = lerp if mode == "lerp" else slerp
    return torch.stack([step(z1, z2, float(t)) for t in torch.linspace(0, 1, steps)])


def draw_conditional(generator: torch.nn.Module, z: torch.Tensor, labels) -> torch.Tensor:
    """Images (N, 1, 28, 28) du générateur conditionnel pour les bruits ``z`` (N, z_dim) et les
    étiquettes ``labels`` (un entier pour toutes, ou N entiers), en mode évaluation, sur le CPU."""
    device = next(generator.parameters()).device
    raw = torch.as_tensor(labels)
    if raw.is_floating_point() or raw.is_complex() or raw.dtype == torch.bool:
        if raw.dtype == torch.bool or not torch.equal(raw, raw.round()):
            raise ValueError(f"Les étiquettes sont des entiers (les chiffres), reçu {labels!r}.")
    labels = raw.long()
    if labels.numel() and labels.min() < 0:
        raise ValueError(f"Les étiquettes sont des entiers positifs (les chiffres), reçu {labels.tolist()}.")
    if labels.dim() == 0:
        labels = labels.expand(z.shape[0])
    if labels.shape != (z.shape[0],):
        raise ValueError(f"Il faut une étiquette par bruit : {z.shape[0]} bruits, {labels.numel()} étiquettes.")
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad():
            images = generator(z.to(device), labels.to(device)).cpu()
    finally:
        generator.train(was_training)
    if images.shape != (z.shape[0], 1, 28, 28):
        raise ValueError(f"Le générateur doit renvoyer une image 1×28×28 par bruit, reçu {tuple(images.shape)}.")
    return images


def _png(images: torch.Tensor, scale: int = 4) -> bytes:
    """Une rangée d'images dans [-1, 1], en PNG."""
    from PIL import Image

    row = torch.cat(list(images[:, 0]), dim=1)
    pixels = ((row.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    picture = Image.fromarray(pixels, mode="L")
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


class ConditionalExplorer:
    """Un curseur t entre deux bruits et un chiffre à choisir, pour un générateur conditionnel.

    ``explorer = ConditionalExplorer(generator, z_dim)`` puis ``explorer.widget()`` dans
    une cellule. :meth:`update` fait tout le travail et s'appelle aussi sans widgets :
    il renvoie l'image au point t du chemin linéaire et du chemin sphérique, pour le
    chiffre demandé. Le bouton « autre style » tire deux nouveaux bruits.
    """

    def __init__(self, generator: torch.nn.Module, z_dim: int, n_classes: int = 10, seed: int = 0):
        self.generator = generator
        self.z_dim = z_dim
        self.n_classes = n_classes
        self.seed = seed
        self.images = None
        self.state = (0.5, 0)
        self.new_style(seed)

    def new_style(self, seed: int | None = None) -> None:
        """Tire deux nouveaux bruits (les deux styles aux extrémités du chemin)."""
        self.seed = self.seed + 1 if seed is None else seed
        noise = torch.Generator().manual_seed(self.seed)
        self.z1, self.z2 = torch.randn(2, self.z_dim, generator=noise)

    def update(self, t: float, digit: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (28, 28) au point t des chemins linéaire et sphérique, pour le chiffre ``digit``."""
        if isinstance(digit, bool) or not isinstance(digit, (int, float)) or digit != int(digit) \
                or not 0 <= int(digit) < self.n_classes:
            raise ValueError(f"Le chiffre doit être un entier entre 0 et {self.n_classes - 1}, reçu {digit!r}.")
        t = _check_t(t)
        self.state = (t, int(digit))
        z = torch.stack([lerp(self.z1, self.z2, t), slerp(self.z1, self.z2, t)])
        linear, spherical = draw_conditional(self.generator, z, int(digit))
        if self.images is not None:
            self.images[0].value = _png(linear[None])
            self.images[1].value = _png(spherical[None])
            self.norms.value = (f"|z| linéaire : {z[0].norm():.2f} — sphérique : {z[1].norm():.2f} "
                                f"(un bruit typique : {self.z_dim ** 0.5:.2f})")
        return linear[0], spherical[0]

    def widget(self):
        """L'interface : curseur t, chiffre, bouton « autre style », et les deux images."""
        import ipywidgets as w

        slider = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t",
                               continuous_update=True)
        digit = w.Dropdown(options=list(range(self.n_classes)), value=0, description="chiffre")
        button = w.Button(description="autre style")
        self.images = [w.Image(format="png", width=112, height=112) for _ in range(2)]
        self.norms = w.Label()

        def on_change(_):
            self.update(slider.value, digit.value)

        def on_click(_):
            self.new_style()
            on_change(None)

        slider.observe(on_change, names="value")
        digit.observe(on_change, names="value")
        button.on_click(on_click)
        self.update(slider.value, digit.value)
        pictures = w.HBox([w.VBox([w.Label("linéaire"), self.images[0]]),
                           w.VBox([w.Label("sphérique"), self.images[1]])])
        panel = w.VBox([w.HBox([slider, digit, button]), pictures, self.norms])
        panel.slider, panel.digit, panel.button = slider, digit, button
        return panel
