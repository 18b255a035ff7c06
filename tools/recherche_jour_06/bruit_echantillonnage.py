"""Le bruit d'échantillonnage du FID, de la précision, du rappel, de la densité et de la couverture.

Dix tirages au hasard de 10 000 images parmi les 60 000 d'entraînement, notés contre les 10 000
images de test dans l'espace des caractéristiques de l'évaluateur (les mesures de référence de
``utils.metrics``). Sert à juger la section 3 du corrigé « evaluer_generateurs » ; environ 1 min sur
2 cœurs.

    python tools/recherche_jour_06/bruit_echantillonnage.py
"""
import time

import torch

import utils
from utils import metrics

train, _ = utils.load_mnist_uint8("train")
test, _ = utils.load_mnist_uint8("test")
ref = metrics.features(test)
feats_all = metrics.features(train)
rows = []
start = time.time()
for seed in range(10):
    idx = torch.randperm(60000, generator=torch.Generator().manual_seed(100 + seed))[:10000]
    f = feats_all[idx]
    p, r = metrics.precision_recall(ref, f, 3)
    d, c = metrics.density_coverage(ref, f, 5)
    rows.append([metrics.fid(f, ref), p, r, d, c])
    print(seed, [round(x, 4) for x in rows[-1]], f"{time.time() - start:.0f} s", flush=True)
table = torch.tensor(rows)
print("colonnes : FID, précision, rappel, densité, couverture")
print("moyenne", table.mean(0))
print("écart-type", table.std(0))
