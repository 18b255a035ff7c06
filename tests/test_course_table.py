"""Le tableau du cours (jour 6, évaluation) n'a classé que ce qui se compare.

Les deux cellules du tableau sont exécutées telles que le corrigé les écrit, dans un espace de
noms où ``utils.load_samples`` rend des jeux fabriqués et où ``score`` est la vraie précision (des
caractéristiques de l'évaluateur contre une référence de vrais chiffres) : un générateur divergé
(images toutes noires) et un fichier de 500 chiffres quand ``N`` en demande 2 000 sont écartés,
avec leur raison ; les autres sont classés.
"""

from __future__ import annotations

import contextlib
import io
import time

import matplotlib
import nbformat
import pytest
import torch

import utils
from utils import course, gan, metrics

matplotlib.use("Agg")

NOTEBOOK = course.SOLUTIONS_DIR / "evaluation" / "evaluer_generateurs.ipynb"
N = 2000


def _table_cells() -> list[str]:
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    first = next(i for i, source in enumerate(cells) if "\nGENERATORS = [" in source)
    return cells[first:first + 2]


@pytest.fixture(scope="module")
def digits():
    images, _ = utils.load_mnist_uint8("test")
    return images


def test_course_table_discards_diverged_and_short_sample_sets(digits, monkeypatch):
    torch.manual_seed(0)
    reference = metrics.features(digits[:N])
    black = torch.zeros(N, 28, 28, dtype=torch.uint8)
    sets = {
        "train_gan_images": digits[N:2 * N],                  # de vrais chiffres : classé
        "dcgan_mnist": black,                                 # divergé : écarté
        "wgan_gp_mnist": digits[2 * N:2 * N + 500],           # 500 chiffres : écarté
        "ae_vae_mnist": digits[4 * N:5 * N].flip(-1),         # des chiffres en miroir : classé
    }

    def load_samples(name):
        if name not in sets:
            raise FileNotFoundError(f"Aucun échantillon enregistré pour « {name} ».")
        return sets[name]

    def precision(images):
        fake = metrics.features(images)
        radii = torch.cdist(reference, reference).kthvalue(4, dim=1).values
        return (torch.cdist(fake, reference) <= radii).any(dim=1).double().mean().item()

    # Sans le tri, le générateur divergé serait premier en précision : c'est ce qui est écarté.
    assert precision(black) == 1.0 > precision(sets["train_gan_images"])

    def score(images, train_pixels=None):
        return {"précision": precision(images), "FID": 0.0}

    monkeypatch.setattr(utils, "load_samples", load_samples)
    scope = {"utils": utils, "N": N, "score": score, "pixels": lambda images: images,
             "train_images": digits, "time": time, "print_table": lambda *args, **kwargs: None,
             "COLUMNS": ["FID", "précision"], "plt": matplotlib.pyplot, "__name__": "__main__",
             "pretrained_names": gan.pretrained_names, "load_pretrained_dcgan": gan.load_pretrained_dcgan,
             "sample_digits": gan.sample_digits, "to_uint8_images": utils.to_uint8_images}
    out = io.StringIO()
    table, ranking = _table_cells()
    with contextlib.redirect_stdout(out):
        exec(compile(table, "tableau du cours", "exec"), scope)
        # Les autres colonnes du classement, neutres : seuls comptent ici les jeux classés.
        scope["board"] = {label: dict(row, **{c: 0.5 for c in ("rappel", "densité", "couverture",
                                                               "mémorisation", "part confiante")})
                          for label, row in scope["board"].items()}
        exec(compile(ranking, "classement du cours", "exec"), scope)
    matplotlib.pyplot.close("all")
    text = out.getvalue()

    # Les générateurs livrés (le meilleur DCGAN et le meilleur WGAN-GP) sont classés avec les autres.
    assert set(scope["board"]) == {"Jour 1 — GAN dense", "Jour 5 — VAE", "Jour 3 — DCGAN livré",
                                   "Jour 4 — WGAN-GP livré"}
    assert "Jour 4 — WGAN-GP livré : wgan_gp_" in text
    assert scope["discarded"] == {"Jour 3 — DCGAN": "images unies",
                                  "Jour 4 — WGAN-GP": f"500 échantillons au lieu de {N}"}
    assert set(scope["missing"]) == {"Jour 6 — GAN conditionnel"}
    assert "Jour 3 — DCGAN : écarté du classement, 100 % de ses images sont unies" in text
    assert f"Jour 4 — WGAN-GP : écarté du classement, 500 échantillons au lieu de {N}" in text
    assert "Jour 3 — DCGAN : écarté (images unies)" in text
    ranked = [line.split("  ")[0] for line in text.splitlines() if line.startswith("Jour ")
              and "écarté" not in line and "à exécuter" not in line and "⚠️" not in line]
    assert "Jour 3 — DCGAN" not in ranked and "Jour 1 — GAN dense" in ranked
