"""Les auto-vérifications du jour 6 : chaque réponse juste passe, chaque erreur classique est
reconnue avec le bon message."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.checks import CheckError, jour_06

# --- les réponses justes, comme un étudiant les écrirait ---------------------------------


def frechet_distance(mu1, sigma1, mu2, sigma2):
    cross = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0).sqrt().sum()
    return ((mu1 - mu2).pow(2).sum() + torch.trace(sigma1) + torch.trace(sigma2) - 2 * cross).item()


def knn_radii(points, k):
    distances = torch.cdist(points, points)
    distances.fill_diagonal_(float("inf"))
    return distances.kthvalue(k, dim=1).values


def precision_recall(real, fake, k=3):
    distances = torch.cdist(real, fake)
    precision = (distances < knn_radii(real, k)[:, None]).any(dim=0).float().mean()
    recall = (distances < knn_radii(fake, k)[None, :]).any(dim=1).float().mean()
    return precision.item(), recall.item()


def density_coverage(real, fake, k=5):
    inside = torch.cdist(real, fake) < knn_radii(real, k)[:, None]
    return (inside.sum(dim=0).float().mean() / k).item(), inside.any(dim=1).float().mean().item()


def memorisation_ratio(samples, train, n_reference=None):
    reference = train if n_reference is None else train[:n_reference]
    to_train = torch.cdist(samples, train).min(dim=1).values
    within = torch.cdist(reference, train)
    within[torch.arange(len(reference)), torch.arange(len(reference))] = float("inf")
    return (to_train.median() / within.min(dim=1).values.median()).item()


class CondGenerator(nn.Module):
    def __init__(self, z_dim=64, n_classes=10, hidden=(32, 32), embed=False, label_as_number=False):
        super().__init__()
        self.n_classes, self.embed, self.number = n_classes, embed, label_as_number
        self.embedding = nn.Embedding(n_classes, 8) if embed else None
        width = 1 if label_as_number else (8 if embed else n_classes)
        layers, size = [], z_dim + width
        for h in hidden:
            layers += [nn.Linear(size, h), nn.BatchNorm1d(h), nn.LeakyReLU(0.2)]
            size = h
        self.net = nn.Sequential(*layers, nn.Linear(size, 784), nn.Tanh())

    def label(self, labels):
        if self.number:
            return labels.float()[:, None]
        return self.embedding(labels) if self.embed else F.one_hot(labels, self.n_classes).float()

    def forward(self, z, labels):
        return self.net(torch.cat([z, self.label(labels)], dim=1)).view(-1, 1, 28, 28)


class CondDiscriminator(nn.Module):
    def __init__(self, n_classes=10, ignore_label=False):
        super().__init__()
        self.n_classes, self.ignore = n_classes, ignore_label
        self.net = nn.Sequential(nn.Linear(784 + n_classes, 32), nn.LeakyReLU(0.2), nn.Dropout(0.1),
                                 nn.Linear(32, 1), nn.Sigmoid())

    def forward(self, images, labels):
        onehot = F.one_hot(labels, self.n_classes).float()
        if self.ignore:
            onehot = torch.zeros_like(onehot)
        return self.net(torch.cat([images.flatten(1), onehot], dim=1))


def cgan_step(real, labels, generator, discriminator, opt_g, opt_d, z_dim, fake_labels="same",
              detach=True, g_first=False, wrong_term="shift", wrong_weight=1.0, g_detach=False):
    z = torch.randn(real.shape[0], z_dim, device=real.device)
    wanted = labels if fake_labels == "same" else torch.randint(0, 10, labels.shape)
    fake = generator(z, wanted)
    judged = wanted
    if wrong_term == "shift":
        wrong = (labels + torch.randint(1, 10, labels.shape)) % 10
    else:
        wrong = torch.randint(0, 10, labels.shape)
    if g_first:
        opt_g.zero_grad()
        loss_g = F.binary_cross_entropy(discriminator(fake, judged), torch.ones(len(real), 1))
        loss_g.backward()
        opt_g.step()
    opt_d.zero_grad()
    d_real = discriminator(real, labels)
    d_fake = discriminator(fake.detach() if detach else fake, judged)
    loss_d = (F.binary_cross_entropy(d_real, torch.ones_like(d_real))
              + F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake)))
    if wrong_term:
        d_wrong = discriminator(real, wrong)
        loss_d = loss_d + wrong_weight * F.binary_cross_entropy(d_wrong, torch.zeros_like(d_wrong))
    loss_d.backward()
    opt_d.step()
    if not g_first:
        opt_g.zero_grad()
        judged_fake = fake.detach() if g_detach else fake
        loss_g = F.binary_cross_entropy(discriminator(judged_fake, judged), torch.ones(len(real), 1))
        loss_g.backward()
        opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item()}


def frechet_distance_scipy(mu1, sigma1, mu2, sigma2):
    """Une bonne réponse écrite autrement que la référence de la vérification (metrics) : la
    racine de sigma1·sigma2 par scipy.linalg.sqrtm, en NumPy, comme pytorch-fid."""
    import numpy as np
    from scipy import linalg

    s1, s2 = sigma1.double().numpy(), sigma2.double().numpy()
    covmean = linalg.sqrtm(s1 @ s2).real
    diff = (mu1 - mu2).double().numpy()
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def fails(check, answer, match):
    with pytest.raises(CheckError, match=match):
        check(answer)


def test_right_answers_pass(capsys):
    jour_06.check_frechet_distance(frechet_distance)
    jour_06.check_frechet_distance(frechet_distance_scipy)   # écrite autrement (pas la référence)
    jour_06.check_knn_radii(knn_radii)
    jour_06.check_precision_recall(precision_recall)
    jour_06.check_density_coverage(density_coverage)
    jour_06.check_memorisation_ratio(memorisation_ratio)
    jour_06.check_conditional_generator(CondGenerator())
    jour_06.check_conditional_generator(CondGenerator(embed=True))
    jour_06.check_conditional_discriminator(CondDiscriminator())
    jour_06.check_cgan_step(cgan_step)
    assert capsys.readouterr().out.count("✅") == 10


def _stub(*args, **kwargs):
    raise NotImplementedError("à vous de jouer")


@pytest.mark.parametrize("name", ["frechet_distance", "knn_radii", "precision_recall", "density_coverage",
                                  "memorisation_ratio", "cgan_step"])
def test_stubs_are_reported_as_not_written(name):
    fails(getattr(jour_06, f"check_{name}"), _stub, "pas encore écrit")


# --- distance de Fréchet ------------------------------------------------------------------

def _fd_parts(mu1, s1, mu2, s2):
    cross = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0).sqrt().sum()
    return (mu1 - mu2).pow(2).sum(), torch.trace(s1) + torch.trace(s2), cross


def _root(m):
    values, vectors = torch.linalg.eigh(m)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


@pytest.mark.parametrize("wrong, match", [
    (lambda m1, s1, m2, s2: frechet_distance(m1, s1, m2, s2) ** 0.5, "sans racine finale"),
    (lambda m1, s1, m2, s2: (lambda a, t, c: a.sqrt() + t - 2 * c)(*_fd_parts(m1, s1, m2, s2)), "AU CARRÉ"),
    (lambda m1, s1, m2, s2: (lambda a, t, c: t - 2 * c)(*_fd_parts(m1, s1, m2, s2)), "moyennes .* manque"),
    (lambda m1, s1, m2, s2: (lambda a, t, c: a)(*_fd_parts(m1, s1, m2, s2)), "covariance .* manquent"),
    (lambda m1, s1, m2, s2: (lambda a, t, c: a + t - c)(*_fd_parts(m1, s1, m2, s2)), "facteur 2"),
    (lambda m1, s1, m2, s2: (lambda a, t, c: a + t + 2 * c)(*_fd_parts(m1, s1, m2, s2)), "SOUSTRAIT"),
    (lambda m1, s1, m2, s2: (m1 - m2).pow(2).sum() + torch.trace(s1 + s2 - 2 * s1 @ s2), "racine carrée de S1 S2"),
    (lambda m1, s1, m2, s2: (m1 - m2).pow(2).sum() + torch.trace(s1 + s2 - 2 * _root(s1) @ _root(s2)), "commutent"),
    (lambda m1, s1, m2, s2: (m1 - m2).pow(2).sum() + torch.trace(s1 + s2 - 2 * torch.sqrt(s1 @ s2)), "élément par élément"),
    (lambda m1, s1, m2, s2: (m1 - m2).pow(2).sum() + torch.trace(s1 + s2) - 2 * torch.linalg.eigvals(s1 @ s2).sqrt().sum(), "complexe"),
    (lambda m1, s1, m2, s2: (m1 - m2).pow(2) + torch.trace(s1), "un seul nombre"),
])
def test_frechet_mistakes(wrong, match):
    fails(jour_06.check_frechet_distance, wrong, match)


def test_frechet_in_place_modification_is_caught():
    def in_place(mu1, sigma1, mu2, sigma2):
        mu1 -= mu2
        return frechet_distance(mu1, sigma1, torch.zeros_like(mu2), sigma2)
    fails(jour_06.check_frechet_distance, in_place, "en place")


# --- rayons, précision et rappel, densité et couverture ----------------------------------

def _radii_with_self(points, k):
    return torch.cdist(points, points).kthvalue(k, dim=1).values


@pytest.mark.parametrize("wrong, match", [
    (_radii_with_self, "lui-même"),
    (lambda p, k: knn_radii(p, k) ** 2, "au carré"),
    (lambda p, k: torch.cdist(p, p).fill_diagonal_(float("inf")).topk(k, largest=False).indices[:, -1], "indices"),
    (lambda p, k: knn_radii(p, k + 1), "k\\+1"),
    (lambda p, k: torch.cdist(p[:, :1], p[:, :1]).fill_diagonal_(float("inf")).kthvalue(k, dim=1).values,
     "toutes les coordonnées"),
])
def test_knn_radii_mistakes(wrong, match):
    fails(jour_06.check_knn_radii, wrong, match)


def _pr_wrong_balls(real, fake, k=3):
    precision = (torch.cdist(fake, real) < knn_radii(fake, k)[:, None]).any(dim=1).float().mean()
    return precision.item(), precision_recall(real, fake, k)[1]


@pytest.mark.parametrize("wrong, match", [
    (lambda r, f, k=3: precision_recall(r, f, k)[::-1], "inversées"),
    (_pr_wrong_balls, "bon nuage"),
    (lambda r, f, k=3: precision_recall(r, f, k - 1), "\\(k-1\\)"),
    (lambda r, f, k=3: precision_recall(r, f, k)[0], "deux nombres"),
    (lambda r, f, k=3: (precision_recall(r, f, k)[0], 1.0), "Précision : part"),
])
def test_precision_recall_mistakes(wrong, match):
    fails(jour_06.check_precision_recall, wrong, match)


def _density_not_divided(real, fake, k=5):
    d, c = density_coverage(real, fake, k)
    return d * k, c


def _density_as_precision(real, fake, k=5):
    return precision_recall(real, fake, k)[0], density_coverage(real, fake, k)[1]


def _coverage_as_recall(real, fake, k=5):
    return density_coverage(real, fake, k)[0], precision_recall(real, fake, k)[1]


def _coverage_as_precision(real, fake, k=5):
    return density_coverage(real, fake, k)[0], precision_recall(real, fake, k)[0]


def _density_self_counted(real, fake, k=5):
    inside = torch.cdist(real, fake) < _radii_with_self(real, k)[:, None]
    return (inside.sum(dim=0).float().mean() / k).item(), inside.any(dim=1).float().mean().item()


@pytest.mark.parametrize("wrong, match", [
    (lambda r, f, k=5: density_coverage(r, f, k)[::-1], "inversées"),
    (_density_not_divided, "pas divisée par k"),
    (_density_as_precision, "la précision, pas la densité"),
    (_coverage_as_recall, "c'est le rappel"),
    (_coverage_as_precision, "la précision, pas la couverture"),
    (_density_self_counted, "\\(k-1\\)"),
])
def test_density_coverage_mistakes(wrong, match):
    fails(jour_06.check_density_coverage, wrong, match)


# --- mémorisation -------------------------------------------------------------------------

def _memo_self_counted(samples, train, n_reference=None):
    reference = train if n_reference is None else train[:n_reference]
    return (torch.cdist(samples, train).min(dim=1).values.median()
            / torch.cdist(reference, train).min(dim=1).values.median()).item()


def _memo_mean(samples, train, n_reference=None):
    reference = train if n_reference is None else train[:n_reference]
    within = torch.cdist(reference, train).fill_diagonal_(float("inf"))
    return (torch.cdist(samples, train).min(dim=1).values.mean() / within.min(dim=1).values.mean()).item()


def _memo_random_reference(samples, train, n_reference=None):
    if n_reference is not None:
        train = train[torch.randperm(len(train))]
    return memorisation_ratio(samples, train, n_reference)


@pytest.mark.parametrize("wrong, match", [
    (_memo_self_counted, "division par zéro"),
    (_memo_mean, "MÉDIANES"),
    (lambda s, t, n=None: memorisation_ratio(s, t, n) ** 2, "au carré"),
    (lambda s, t, n=None: 1 / memorisation_ratio(s, t, n) if memorisation_ratio(s, t, n) else 0.0, "à l'envers"),
    (_memo_random_reference, "PREMIÈRES"),
    (lambda s, t, n=None: memorisation_ratio(s, t, n) + 0.01, "on attend 0"),
])
def test_memorisation_mistakes(wrong, match):
    fails(jour_06.check_memorisation_ratio, wrong, match)


# --- GAN conditionnel ---------------------------------------------------------------------

class _IgnoresLabel(CondGenerator):
    def forward(self, z, labels):
        return super().forward(z, torch.zeros_like(labels))


class _WantsOneHot(CondGenerator):
    def forward(self, z, labels):
        return self.net(torch.cat([z, labels.float()], dim=1)).view(-1, 1, 28, 28)


class _NoTanh(CondGenerator):
    def __init__(self):
        super().__init__()
        self.net = self.net[:-1]


class _Flat(CondGenerator):
    def forward(self, z, labels):
        return super().forward(z, labels).flatten(1)


class _OneArgument(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(74, 784)

    def forward(self, z):
        return self.net(z)


@pytest.mark.parametrize("model, match", [
    (CondGenerator(label_as_number=True), "un seul nombre"),
    (_IgnoresLabel(), "n'entre pas dans le calcul"),
    (_WantsOneHot(), "F.one_hot"),
    (_NoTanh(), "\\[-1, 1\\]"),
    (_Flat(), "\\(20, 1, 28, 28\\)"),
    (_OneArgument(), "deux arguments"),
    (CondGenerator(z_dim=32), "on attend le bruit"),
])
def test_conditional_generator_mistakes(model, match):
    with pytest.raises(CheckError, match=match):
        jour_06.check_conditional_generator(model)


def test_conditional_checks_leave_the_model_as_it_was():
    model = CondGenerator()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    jour_06.check_conditional_generator(model)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


class _NoSigmoid(CondDiscriminator):
    def __init__(self):
        super().__init__()
        self.net = self.net[:-1]


@pytest.mark.parametrize("model, match", [
    (CondDiscriminator(ignore_label=True), "ne la voit pas"),
    (_NoSigmoid(), "probabilités"),
])
def test_conditional_discriminator_mistakes(model, match):
    with pytest.raises(CheckError, match=match):
        jour_06.check_conditional_discriminator(model)


@pytest.mark.parametrize("kwargs, match", [
    ({"fake_labels": "random"}, "étiquettes du lot réel"),
    ({"g_first": True}, "poids du générateur diffèrent"),
    ({"wrong_term": None}, "MAUVAISE étiquette"),
    ({"g_detach": True}, "n'ont pas bougé"),
    ({"wrong_term": "random"}, "ne sont pas toutes mauvaises"),
    ({"wrong_weight": 0.5}, "poids du discriminateur diffèrent"),
])
def test_cgan_step_mistakes(kwargs, match):
    fails(jour_06.check_cgan_step, lambda *a: cgan_step(*a, **kwargs), match)


def test_cgan_step_other_mistakes():
    def real_labels_swapped(real, labels, generator, discriminator, opt_g, opt_d, z_dim):
        return cgan_step(real, labels.flip(0), generator, discriminator, opt_g, opt_d, z_dim)

    def returns_tensors(*args):
        out = cgan_step(*args)
        return {k: torch.tensor(v) for k, v in out.items()}

    def mismatched(real, labels, generator, discriminator, opt_g, opt_d, z_dim):
        z = torch.randn(real.shape[0], z_dim)
        fake = generator(z, labels)
        opt_d.zero_grad()
        d_real = discriminator(real, labels)
        d_fake = discriminator(fake.detach(), labels.roll(1))
        loss = F.binary_cross_entropy(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy(
            d_fake, torch.zeros_like(d_fake))
        loss = loss + F.binary_cross_entropy(discriminator(real, (labels + 1) % 10), torch.zeros_like(d_real))
        loss.backward()
        opt_d.step()
        discriminator(fake, labels.roll(1))
        return {"loss_d": loss.item(), "loss_g": 0.0, "d_real": 0.0, "d_fake": 0.0}

    fails(jour_06.check_cgan_step, real_labels_swapped, "étiquettes du lot réel")
    fails(jour_06.check_cgan_step, returns_tensors, "nombre Python")
    fails(jour_06.check_cgan_step, mismatched, "autre étiquette")


# --- réponses justes mais écrites autrement, et propreté des vérifications ----------------

def test_other_right_answers_pass(verdicts):
    import numpy as np

    jour_06.check_precision_recall(lambda r, f, k=3: tuple(np.float32(v) for v in precision_recall(r, f, k)))
    jour_06.check_knn_radii(lambda p, k: torch.cdist(p, p).fill_diagonal_(float("inf")).topk(k, largest=False).values[:, -1])

    def memo_numpy(samples, train, n_reference=None):
        reference = train if n_reference is None else train[:n_reference]
        within = torch.cdist(reference, train)
        within[torch.arange(len(reference)), torch.arange(len(reference))] = float("inf")
        return np.median(torch.cdist(samples, train).min(dim=1).values.numpy()) / np.median(
            within.min(dim=1).values.numpy())
    jour_06.check_memorisation_ratio(memo_numpy)
    assert len(verdicts()) == 3, "chaque bonne réponse écrite autrement reçoit son ✅"


def test_precision_check_can_fail_on_precision_alone():
    fails(jour_06.check_precision_recall, lambda r, f, k=3: (1.0, precision_recall(r, f, k)[1]), "au lieu de")


def test_eigvalsh_on_the_product_is_explained():
    def with_eigvalsh(mu1, sigma1, mu2, sigma2):
        cross = torch.linalg.eigvalsh(sigma1 @ sigma2).clamp(min=0).sqrt().sum()
        return float((mu1 - mu2).pow(2).sum() + torch.trace(sigma1) + torch.trace(sigma2) - 2 * cross)
    fails(jour_06.check_frechet_distance, with_eigvalsh, "SYMÉTRIQUE")


def test_cgan_checks_leave_the_global_random_state_alone():
    generator, discriminator = CondGenerator(), CondDiscriminator()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    jour_06.check_conditional_generator(generator)
    jour_06.check_conditional_discriminator(discriminator)
    jour_06.check_cgan_step(cgan_step)
    assert torch.equal(torch.rand(3), expected)


def test_wrong_labels_judged_twice():
    def twice(real, labels, generator, discriminator, opt_g, opt_d, z_dim):
        out = cgan_step(real, labels, generator, discriminator, opt_g, opt_d, z_dim)
        discriminator(real, (labels + 3) % 10)
        return out
    fails(jour_06.check_cgan_step, twice, "une seule fois suffit")
