"""Explorer l'espace latent d'un décodeur à deux dimensions (jour 5).

* :func:`decode_point` décode un point (z1, z2) en image ;
* :func:`latent_grid` décode une grille régulière du plan latent (la « carte »
  des chiffres) ;
* :class:`LatentExplorer` : deux curseurs et l'image décodée qui suit. Sa
  logique (:meth:`LatentExplorer.update`) s'appelle sans widgets.

Le décodeur attendu prend un lot de points (N, 2) et renvoie des images
(N, 1, 28, 28) ou (N, 784) dans [0, 1].
"""

from __future__ import annotations

import io

import torch


def _decode(decoder: torch.nn.Module, points: torch.Tensor) -> torch.Tensor:
    device = next(decoder.parameters()).device
    was_training = decoder.training
    decoder.eval()
    with torch.no_grad():
        images = decoder(points.to(device)).cpu()
    decoder.train(was_training)
    if images.shape[0] != points.shape[0] or images[0].numel() != 784:
        raise ValueError(f"Le décodeur doit renvoyer une image 28×28 par point : pour "
                         f"{points.shape[0]} points, reçu un tenseur de forme {tuple(images.shape)}.")
    return images.reshape(-1, 1, 28, 28)


def decode_point(decoder: torch.nn.Module, z1: float, z2: float) -> torch.Tensor:
    """Image (28, 28) décodée du point latent (z1, z2)."""
    return _decode(decoder, torch.tensor([[float(z1), float(z2)]]))[0, 0]


def latent_grid(decoder: torch.nn.Module, n: int = 15, limit: float = 3.0) -> torch.Tensor:
    """Décode une grille n × n du carré [-limit, limit]² ; renvoie (n², 1, 28, 28).

    Les images sont rangées ligne par ligne, z2 décroissant de haut en bas et z1
    croissant de gauche à droite, comme sur un graphique.
    """
    if n < 2:
        raise ValueError(f"La grille doit avoir au moins 2 points par côté, reçu n={n}.")
    ticks = torch.linspace(-limit, limit, n)
    z2, z1 = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
    return _decode(decoder, torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1))


def _png(image: torch.Tensor, scale: int = 6) -> bytes:
    from PIL import Image

    pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    picture = Image.fromarray(pixels, mode="L").resize((28 * scale, 28 * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


class LatentExplorer:
    """Deux curseurs sur le plan latent et le chiffre décodé qui suit.

    ``explorer = LatentExplorer(decoder)`` puis ``explorer.widget()`` dans une
    cellule. :meth:`update` fait tout le travail et peut s'appeler directement.
    """

    def __init__(self, decoder: torch.nn.Module, limit: float = 3.0):
        self.decoder = decoder
        self.limit = limit
        self.image = None
        self.point = (0.0, 0.0)

    def update(self, z1: float, z2: float) -> torch.Tensor:
        """Décode (z1, z2), met l'image du widget à jour s'il existe, et renvoie l'image."""
        self.point = (float(z1), float(z2))
        image = decode_point(self.decoder, z1, z2)
        if self.image is not None:
            self.image.value = _png(image)
        return image

    def widget(self):
        """Construit l'interface : deux curseurs z1, z2 et l'image décodée."""
        import ipywidgets as w

        sliders = [w.FloatSlider(value=0.0, min=-self.limit, max=self.limit, step=0.05,
                                 description=name, continuous_update=True)
                   for name in ("z1", "z2")]
        self.image = w.Image(format="png", width=168, height=168)

        def on_change(_):
            self.update(sliders[0].value, sliders[1].value)

        for slider in sliders:
            slider.observe(on_change, names="value")
        self.update(0.0, 0.0)
        panel = w.HBox([w.VBox(sliders), self.image])
        panel.sliders = sliders
        return panel
