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


def wasserstein_vs_js(path: Path, n: int = 20_001) -> None:
    """JS et W1 entre deux lois uniformes de largeur 1 décalées de θ, calculées sur une grille.

    P = U[0, 1], Q_θ = U[θ, θ + 1]. JS vient des densités discrétisées (en nats), W1 de
    l'intégrale de |F_P − F_Q| (en dimension 1, W1 est l'aire entre les deux fonctions de
    répartition). Dès que les supports sont disjoints (θ ≥ 1), JS reste à log 2 : son gradient
    par rapport à θ est nul, alors que W1 = θ dit encore de combien il faut déplacer Q.
    """
    thetas = torch.linspace(0, 3, 121, dtype=torch.float64)
    grid = torch.linspace(-0.5, 4.5, n, dtype=torch.float64)
    step = (grid[1] - grid[0]).item()
    p = ((grid >= 0) & (grid < 1)).double()
    p = p / (p.sum() * step)
    js, w1 = [], []
    for theta in thetas:
        q = ((grid >= theta) & (grid < theta + 1)).double()
        q = q / (q.sum() * step)
        m = (p + q) / 2

        def kl(a, b):
            mask = a > 0
            return (a[mask] * torch.log(a[mask] / b[mask])).sum() * step

        js.append(0.5 * kl(p, m) + 0.5 * kl(q, m))
        w1.append((torch.cumsum(p, 0) * step - torch.cumsum(q, 0) * step).abs().sum() * step)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    ax = axes[0]
    ax.fill_between([0, 1], 0, 1, color="tab:blue", alpha=0.4, label="P = U[0, 1] (les données)")
    ax.fill_between([2, 3], 0, 1, color="tab:orange", alpha=0.4, label="Q_θ (le générateur), θ = 2")
    ax.annotate("", xy=(2, 0.5), xytext=(0, 0.5), arrowprops={"arrowstyle": "->"})
    ax.text(1, 0.55, "déplacer toute la masse de θ : W1 = θ", ha="center", fontsize=8)
    ax.set_ylim(0, 1.5)
    ax.set_xlim(-0.5, 3.5)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Deux distributions sans recouvrement", fontsize=10)
    ax = axes[1]
    ax.plot(thetas, js, label="divergence de Jensen-Shannon (nats)")
    ax.plot(thetas, w1, "--", label="distance de Wasserstein-1")
    ax.axhline(torch.log(torch.tensor(2.0)).item(), color="gray", lw=0.8, ls=":")
    ax.text(2.9, 0.75, "log 2", ha="right", fontsize=8, color="gray")
    ax.axvspan(1, 3, color="#f4a582", alpha=0.25)
    ax.text(2, 2.3, "supports disjoints :\nJS plate, W1 pentue", ha="center", fontsize=8)
    ax.set_xlabel("θ : décalage entre les données et le générateur")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("JS ne dit plus rien, W1 mesure encore l'écart", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"JS à θ = 0,5 : {js[20]:.4f} (θ·log 2 = {0.5 * 0.6931:.4f}) ; à θ = 2 : {js[80]:.4f} ; "
          f"W1 à θ = 2 : {w1[80]:.4f}")


def main() -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    generator_gradients(FIGURES / "jour_02_gradients.png")
    bilinear_game(FIGURES / "jour_02_jeu_xy.png")
    wasserstein_vs_js(FIGURES / "jour_04_wasserstein_js.png")
    print(f"Figures écrites dans {FIGURES}")


if __name__ == "__main__":
    main()
