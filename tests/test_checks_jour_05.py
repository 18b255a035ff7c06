"""Jour 5 : les auto-vérifications de l'autoencodeur, de la reparamétrisation et de la perte
du VAE acceptent la réponse du corrigé et rejettent chaque erreur typique."""

import pytest
import torch
import torch.nn.functional as F
from helpers import NAN, AutoEncoder, Broken, assert_check_leaves_model_untouched, diverged
from torch import nn

from utils import checks
from utils.checks import CheckError

# --- une implémentation correcte (celle du corrigé ; l'autoencodeur : helpers.py) ---


def reparameterize(mu, logvar):
    std = torch.exp(0.5 * logvar)
    return mu + torch.randn_like(std) * std


def vae_loss(recon, x, mu, logvar):
    n = x.shape[0]
    rec = F.binary_cross_entropy(recon, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return rec + kl, rec, kl


def test_autoencoder_check_accepts_the_solution(verdicts):
    checks.check_autoencoder(AutoEncoder())
    assert len(verdicts()) == 1


def _ae(encoder=None, decoder=None, forward=None):
    """Un autoencodeur du corrigé dont on remplace l'encodeur, le décodeur ou forward."""
    model = AutoEncoder()
    if encoder is not None:
        model.encoder = nn.Sequential(*encoder)
    if decoder is not None:
        model.decoder = nn.Sequential(*decoder)
    if forward is not None:
        model.forward = lambda x: forward(model, x)
    return model


def _enc(*middle_and_tail):
    return [nn.Flatten(), *middle_and_tail]


def _dec_head():
    return [nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 784)]


UNFLAT = nn.Unflatten(1, (1, 28, 28))


def _not_written(model, x):
    raise NotImplementedError("Exercice 1 : l'encodeur et le décodeur")


class _FunctionalEncoder(nn.Module):
    """Un encodeur écrit à la main (une classe avec son forward) : une variante juste, même si
    sa ReLU, réutilisée, est créée avant les couches."""

    def __init__(self, relu=True):
        super().__init__()
        self.act = nn.ReLU() if relu else nn.Identity()   # créée avant les couches qu'elle suit
        self.a, self.b, self.c = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 2)

    def forward(self, x):
        return self.c(self.act(self.b(self.act(self.a(x.flatten(1))))))


def test_autoencoder_check_accepts_relu_written_in_forward(verdicts):
    model = AutoEncoder()
    model.encoder = _FunctionalEncoder()
    checks.check_autoencoder(model)
    assert len(verdicts()) == 1


@pytest.mark.parametrize("model, message", [
    (AutoEncoder(z_dim=3), "encoder : couches 784 → 256 → 128 → 2 attendues"),
    (AutoEncoder(last_act=nn.ReLU()), r"Linear\(128, 2\) ne doit être suivie d'aucune activation"),
    (AutoEncoder(out_act=nn.Tanh()), r"nn.Sigmoid\(\), pas nn.Tanh\(\)"),
    (nn.Sequential(nn.Linear(784, 2)), "self.encoder"),
    # aucune ReLU : un autoencodeur entièrement linéaire
    (_ae(_enc(nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 2)),
         [nn.Linear(2, 128), nn.Linear(128, 256), nn.Linear(256, 784), nn.Sigmoid(), UNFLAT]),
     r"model.encoder : aucune activation entre Linear\(784, 256\) et Linear\(256, 128\)"),
    # une ReLU oubliée dans le décodeur seulement
    (_ae(decoder=[nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 256), nn.Linear(256, 784),
                  nn.Sigmoid(), UNFLAT]),
     r"model.decoder : aucune activation entre Linear\(128, 256\) et Linear\(256, 784\)"),
    # LeakyReLU à la place de ReLU
    (_ae(_enc(nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Linear(256, 128), nn.LeakyReLU(0.2),
              nn.Linear(128, 2))), r"l'énoncé met seulement nn.ReLU\(\) ; trouvé nn.LeakyReLU"),
    # Dropout en plus
    (_ae(_enc(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 128), nn.ReLU(),
              nn.Linear(128, 2))), r"trouvé nn.ReLU\(\), nn.Dropout"),
    # sortie sans activation, ou ReLU avant la sigmoïde
    (_ae(decoder=[*_dec_head(), UNFLAT]), r"terminez la dernière couche Linear\(256, 784\) par nn.Sigmoid"),
    (_ae(decoder=[*_dec_head(), nn.ReLU(), nn.Sigmoid(), UNFLAT]), r"trouvé nn.ReLU\(\), nn.Sigmoid\(\)"),
    # une activation sur le code à l'entrée du décodeur
    (_ae(decoder=[nn.ReLU(), *_dec_head(), nn.Sigmoid(), UNFLAT]),
     r"avant la première couche Linear\(2, 128\), l'énoncé ne met rien"),
    # nn.Flatten oublié, nn.Unflatten oublié
    (_ae(encoder=[nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 2)]),
     r"commencez-le par nn.Flatten\(\)"),
    (_ae(decoder=[*_dec_head(), nn.Sigmoid()]), r"Terminez le décodeur par nn.Unflatten"),
    # forward qui oublie le décodeur, ou les prend dans le mauvais ordre
    (_ae(forward=lambda m, x: m.encoder(x)), r"forward doit renvoyer self.decoder\(self.encoder\(x\)\)"),
    (_ae(forward=lambda m, x: m.encoder(m.decoder(x))), r"model\(x\) lève une erreur"),
    (_ae(forward=lambda m, x: (m.decoder(m.encoder(x)), m.encoder(x))), "renvoie un tuple"),
    (_ae(forward=_not_written), "forward n'est pas encore écrit"),
])
def test_autoencoder_check_rejects(model, message):
    with pytest.raises(CheckError, match=message):
        checks.check_autoencoder(model)


def test_autoencoder_check_rejects_linear_encoder_written_by_hand():
    model = AutoEncoder()
    model.encoder = _FunctionalEncoder(relu=False)
    with pytest.raises(CheckError, match="model.encoder est entièrement linéaire"):
        checks.check_autoencoder(model)


def test_reparameterize_check(verdicts):
    checks.check_reparameterize(reparameterize)
    assert len(verdicts()) == 1


def _noise(mu):
    return torch.randn_like(mu)


@pytest.mark.parametrize("right", [
    lambda mu, logvar: mu + torch.exp(logvar).sqrt() * torch.randn_like(mu),
    lambda mu, logvar: mu + torch.exp(logvar / 2) * torch.randn(mu.shape),
    lambda mu, logvar: torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).rsample(),
    lambda mu, logvar: mu - torch.exp(0.5 * logvar) * torch.randn_like(mu),
])
def test_reparameterize_check_accepts_variants(right, verdicts):
    checks.check_reparameterize(right)
    assert len(verdicts()) == 1


@pytest.mark.parametrize("wrong, message", [
    (lambda mu, logvar: mu, "pas de bruit"),
    (lambda mu, logvar: mu + torch.exp(logvar) * _noise(mu), "variance"),
    (lambda mu, logvar: mu + 0.5 * torch.exp(logvar) * _noise(mu), "0,5 va dans l'exponentielle"),
    (lambda mu, logvar: mu + torch.exp(-0.5 * logvar) * _noise(mu),
     "signe est inversé dans l'exponentielle"),
    (lambda mu, logvar: mu + torch.sqrt(logvar) * _noise(mu), r"pas torch.sqrt\(logvar\)"),
    (lambda mu, logvar: logvar + torch.exp(0.5 * mu) * _noise(mu), "mu et logvar sont inversés"),
    (lambda mu, logvar: mu + _noise(mu), "n'est pas multiplié par l'écart type"),
    (lambda mu, logvar: mu * torch.exp(0.5 * logvar) + _noise(mu), "n'est pas multiplié par l'écart type"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * (torch.rand_like(mu) * 2 - 1), "gaussien"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.rand_like(mu), r"pas torch.rand_like"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn(1), "le même bruit"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar), "pas de bruit"),
    (lambda mu, logvar: (mu + torch.exp(0.5 * logvar) * _noise(mu)).detach(), "coupé le graphe"),
    (lambda mu, logvar: torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).sample(), "coupé le graphe"),
    (lambda mu, logvar: torch.normal(mu, torch.exp(0.5 * logvar)), "n'atteint pas mu et logvar"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar).detach() * _noise(mu), "n'atteint pas mu et logvar"),
    (lambda mu, logvar: (_noise(mu), mu + torch.exp(0.5 * logvar) * _noise(mu))[1], "une seule fois"),
    (lambda logvar, mu: mu + torch.exp(0.5 * logvar) * _noise(mu), "dans le désordre"),
])
def test_reparameterize_check_rejects(wrong, message):
    with pytest.raises(CheckError, match=message):
        checks.check_reparameterize(wrong)


def test_vae_loss_check(verdicts):
    checks.check_vae_loss(vae_loss)
    assert len(verdicts()) == 1


def _with(rec=None, kl=None, total=None):
    """La perte du corrigé dont on remplace la reconstruction, la KL ou le total."""
    def loss(recon, x, mu, logvar):
        _, good_rec, good_kl = vae_loss(recon, x, mu, logvar)
        r = rec(recon, x, mu, logvar) if rec else good_rec
        k = kl(recon, x, mu, logvar) if kl else good_kl
        return (total(r, k) if total else r + k), r, k
    return loss


def _kl(var=lambda logvar: logvar.exp(), mu_term=lambda mu: mu.pow(2), factor=-0.5, reduce=torch.sum,
        one=1):
    def kl(recon, x, mu, logvar):
        return factor * reduce(one + logvar - mu_term(mu) - var(logvar)) / x.shape[0]
    return kl


def _bce(a, b):
    return F.binary_cross_entropy(a, b, reduction="sum")


@pytest.mark.parametrize("right", [
    _with(rec=lambda recon, x, mu, logvar: -(x * torch.log(recon) + (1 - x) * torch.log(1 - recon))
          .sum(dim=(1, 2, 3)).mean()),
    _with(kl=lambda recon, x, mu, logvar: (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)).mean()),
])
def test_vae_loss_check_accepts_variants(right, verdicts):
    checks.check_vae_loss(right)
    assert len(verdicts()) == 1


def _per_image(recon, x, mu, logvar):
    """Sommée sur les pixels et les dimensions latentes, mais pas moyennée sur le lot."""
    rec = F.binary_cross_entropy(recon, x, reduction="none").sum(dim=(1, 2, 3))
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
    return rec + kl, rec, kl


def _mean_over_everything(recon, x, mu, logvar):
    return -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())


@pytest.mark.parametrize("wrong, message", [
    # la reconstruction
    (_with(rec=lambda recon, x, mu, logvar: F.binary_cross_entropy(recon, x)), "moyennée sur les pixels"),
    (_with(rec=lambda recon, x, mu, logvar: _bce(recon, x)), "sommée sur tout le lot"),
    (_with(rec=lambda recon, x, mu, logvar: _bce(recon, x) / 128), r"pas par CONFIG\['batch_size'\]"),
    (_with(rec=lambda recon, x, mu, logvar: F.mse_loss(recon, x, reduction="sum") / x.shape[0]),
     "erreur quadratique"),
    (_with(rec=lambda recon, x, mu, logvar: F.mse_loss(recon, x)),
     r"erreur quadratique moyenne \(F.mse_loss\)"),
    (_with(rec=lambda recon, x, mu, logvar: _bce(x, recon) / x.shape[0]),
     "arguments de l'entropie croisée sont inversés"),
    (_with(rec=lambda recon, x, mu, logvar: -(recon * torch.log(x) + (1 - recon) * torch.log(1 - x)).sum()
           / x.shape[0]), "arguments de l'entropie croisée sont inversés"),
    (_with(rec=lambda recon, x, mu, logvar: (x * torch.log(recon) + (1 - x) * torch.log(1 - recon)).sum()
           / x.shape[0]), "signe moins de l'entropie croisée"),
    (_with(rec=lambda recon, x, mu, logvar: F.binary_cross_entropy_with_logits(recon, x, reduction="sum")
           / x.shape[0]), "pas F.binary_cross_entropy_with_logits"),
    # la KL
    (_with(kl=_kl(factor=0.5)), "signe de la KL"),
    (_with(kl=_kl(factor=-1)), "il manque le facteur 0,5"),
    (_with(kl=_mean_over_everything), "moyennée sur les dimensions latentes"),
    # -mean sur 2 dimensions latentes vaudrait -0,5 · somme : les tenseurs de test en ont 3
    (_with(kl=lambda recon, x, mu, logvar: -torch.mean(1 + logvar - mu.pow(2) - logvar.exp())),
     "moyennée sur les dimensions latentes au lieu d'être sommée, et il lui manque le facteur 0,5"),
    (_with(kl=lambda recon, x, mu, logvar: -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())),
     "la KL est sommée sur le lot"),
    (_with(kl=_kl(var=lambda logvar: logvar.pow(2))), "utilise logvar²"),
    (_with(kl=_kl(var=lambda logvar: logvar.exp().pow(2))), "utilise exp\\(logvar\\)²"),
    (_with(kl=_kl(var=lambda logvar: (0.5 * logvar).exp())), "utilise l'écart type"),
    (_with(kl=_kl(mu_term=lambda mu: mu)), "mu n'est pas élevé au carré"),
    (_with(kl=lambda recon, x, mu, logvar: -0.5 * torch.sum(1 + mu - logvar.pow(2) - mu.exp()) / x.shape[0]),
     "mu et logvar sont inversés dans la KL"),
    (_with(kl=_kl(one=0)), r"il manque le « 1 \+ »"),
    # le total et ce que la fonction renvoie
    (_with(total=lambda rec, kl: rec - kl), "le total est la somme"),
    (lambda *args: (vae_loss(*args)[1], vae_loss(*args)[2], vae_loss(*args)[0]), "dans le désordre"),
    (lambda recon, x, mu, logvar: vae_loss(recon, x, mu, logvar)[0], "triplet"),
    (lambda recon, x, logvar, mu: vae_loss(recon, x, mu, logvar), "les paramètres sont dans le désordre"),
    (lambda x, recon, mu, logvar: vae_loss(recon, x, mu, logvar), "les paramètres sont dans le désordre"),
    (_per_image, r"un nombre par image : moyennez-le sur le lot"),
])
def test_vae_loss_check_rejects(wrong, message):
    with pytest.raises(CheckError, match=message):
        checks.check_vae_loss(wrong)



# --- sorties NaN ou détachées, modèle rendu intact, entrées qui ne sont pas ce qu'on attend ---

def _broken_decoder(post=None, no_grad=False):
    model = AutoEncoder()
    model.decoder = Broken(model.decoder, post, no_grad)
    return model


@pytest.mark.parametrize("post", [lambda out: out * NAN, lambda out: torch.log(out - out)],
                         ids=["nan", "log-de-0"])
def test_autoencoder_nan_or_infinite_output_is_refused(post):
    # Avant : « forward doit renvoyer self.decoder(self.encoder(x)) » ou « terminez le décodeur
    # par nn.Sigmoid() ».
    with pytest.raises(CheckError, match=r"^❌ Des NaN ou des infinis dans les images que rend "
                                         r"model\.decoder.*division par zéro"):
        checks.check_autoencoder(_broken_decoder(post))


def test_autoencoder_diverged_weights_are_named():
    with pytest.raises(CheckError, match=r"dans le code que rend model\.encoder.*Les poids du modèle en "
                                         r"contiennent déjà.*divergé"):
        checks.check_autoencoder(diverged(AutoEncoder()))


@pytest.mark.parametrize("model", [_broken_decoder(lambda out: out.detach()), _broken_decoder(no_grad=True)],
                         ids=["detach", "no_grad"])
def test_autoencoder_detached_output_is_named(model):
    # Avant : RuntimeError: element 0 of tensors does not require grad.
    with pytest.raises(CheckError, match=r"^❌ Autoencodeur : la sortie est détachée du graphe"):
        checks.check_autoencoder(model)


class _WithUnusedLayer(AutoEncoder):
    """Une couche créée dans __init__ mais jamais appelée : la vérification échoue à la rétropropagation."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Linear(2, 2)


@pytest.mark.parametrize("model, good", [(AutoEncoder(), True), (_WithUnusedLayer(), False)],
                         ids=["juste", "couche-inutilisee"])
def test_autoencoder_check_leaves_the_model_untouched(model, good):
    # Avant : les .grad de l'étudiant étaient effacés.
    assert_check_leaves_model_untouched(checks.check_autoencoder, model, good)


def test_autoencoder_of_another_dtype_is_refused_clearly():
    with pytest.raises(CheckError, match=r"^❌ L'autoencodeur a des poids de type torch\.float64"):
        checks.check_autoencoder(AutoEncoder().double())


@pytest.mark.parametrize("fn, message", [
    (lambda mu, logvar: reparameterize(mu, logvar) * NAN, r"^❌ Des NaN ou des infinis dans le z que renvoie "
                                                          r"reparameterize"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, dtype=torch.float64),
     r"reparameterize renvoie un tenseur de type torch\.float64, alors que mu est de type torch\.float32"),
    (None, r"On attend la fonction reparameterize, reçu None"),
], ids=["nan", "float64", "none"])
def test_reparameterize_broken_answers(fn, message):
    # Avant : « diffère ... (écart max nan), bien que la loi de z semble juste » ; pour float64,
    # RuntimeError: Double did not match Float.
    with pytest.raises(CheckError, match=message):
        checks.check_reparameterize(fn)


@pytest.mark.parametrize("fn, message", [
    (lambda *args: tuple(v * NAN for v in vae_loss(*args)),
     r"dans la valeur renvoyée par vae_loss \(terme total\) \(nan\)"),
    (vae_loss(torch.full((1, 1, 28, 28), 0.5), torch.full((1, 1, 28, 28), 0.5), torch.zeros(1, 2),
              torch.zeros(1, 2)), r"On attend la fonction vae_loss, reçu un objet tuple"),
], ids=["nan", "resultat"])
def test_vae_loss_broken_answers(fn, message):
    with pytest.raises(CheckError, match=message):
        checks.check_vae_loss(fn)
