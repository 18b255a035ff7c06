"""Dessine les figures des leçons (``01_cours/figures/``).

Les figures sont calculées, pas dessinées à la main : relancer ce script après
une modification les régénère à l'identique.

Usage, depuis la racine du dépôt :

    python tools/make_lesson_figures.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "01_cours" / "figures"


def generator_gradients(path: Path) -> None:
    """|dL/ds| des pertes saturante et non saturante en fonction de D(G(z))."""
    d = torch.logspace(-4, -1e-4, 400)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(d, d, label="saturante : min log(1 − D(G(z)))  →  |dL/ds| = D(G(z))")
    ax.plot(d, 1 - d, "--", label="non saturante : min −log D(G(z))  →  |dL/ds| = 1 − D(G(z))")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("D(G(z)) : la note que D donne aux échantillons")
    ax.set_ylabel("|gradient par rapport au score s|")
    ax.axvspan(1e-4, 1e-2, color="#f4a582", alpha=0.3)
    ax.text(1.3e-4, 2e-3, "début de l'entraînement :\nD rejette les échantillons", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Le signal que reçoit le générateur", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bilinear_game(path: Path, lr: float = 0.1, steps: int = 200) -> None:
    """Trajectoires des mises à jour simultanées et alternées sur min_x max_y x·y."""
    fig, ax = plt.subplots(figsize=(4.6, 4.6))
    for alternate, label in ((False, "simultanée : s'éloigne en spirale"),
                             (True, "alternée : tourne sans converger")):
        x, y, path_xy = 1.0, 1.0, [(1.0, 1.0)]
        for _ in range(steps):
            x_new = x - lr * y
            y = y + lr * (x_new if alternate else x)
            x = x_new
            path_xy.append((x, y))
        points = torch.tensor(path_xy)
        ax.plot(points[:, 0], points[:, 1], lw=1, label=label)
    ax.plot(0, 0, "k*", ms=12, label="équilibre (0, 0)")
    ax.plot(1, 1, "ko", ms=4)
    ax.set_xlabel("x (minimise x·y)")
    ax.set_ylabel("y (maximise x·y)")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("min_x max_y x·y, taux 0,1, 200 pas", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    generator_gradients(FIGURES / "jour_02_gradients.png")
    bilinear_game(FIGURES / "jour_02_jeu_xy.png")
    print(f"Figures écrites dans {FIGURES}")


if __name__ == "__main__":
    main()
