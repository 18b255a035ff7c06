"""Des réponses justes écrites autrement que le corrigé, pour chaque exercice de chaque lab.

``RIGHT[(lab, n)]`` : une liste de ``(nom, cellule)`` ; la cellule est ce qu'un étudiant écrirait à
la place de la cellule de l'exercice n (avec ses imports s'il en ajoute). ``tools/mutants.py`` les
passe à la vérification comme les mutants : chacune doit recevoir ✅. Formes visées : fonction
plutôt que module, boucle plutôt que vectorisé (et l'inverse), ``scatter`` plutôt que
``F.one_hot``, ``nn.Embedding``, ``einsum``, un autre ordre de tirage là où l'énoncé le permet.
"""

DAY1 = "images_gan/train_gan_images.ipynb"
DAY2 = "dynamique/gan_2d_playground.ipynb"
DAY3 = "dcgan/dcgan_mnist.ipynb"
DAY4 = "wgan_gp/wgan_gp_mnist.ipynb"
DAY5 = "autoencoders/ae_vae_mnist.ipynb"
CGAN = "cgan/cgan_mnist.ipynb"
EVAL = "evaluation/evaluer_generateurs.ipynb"

RIGHT = {
    (DAY1, 1): [
        ("couche de sortie créée avant les cachées", '''
class Discriminator(nn.Module):
    def __init__(self, hidden=(512, 256, 128), dropout=0.1):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(hidden[-1], 1), nn.Sigmoid())
        layers, width = [nn.Flatten()], 784
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.head(self.body(x))


discriminator = Discriminator().to(DEVICE)
'''),
        ("activations en fonctions, ModuleList", '''
import torch.nn.functional as F


class Discriminator(nn.Module):
    def __init__(self, hidden=(512, 256, 128), dropout=0.1):
        super().__init__()
        sizes = [28 * 28, *hidden]
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(sizes[-1], 1)
        self.dropout = dropout

    def forward(self, x):
        x = x.view(x.size(0), -1)
        for layer in self.hidden_layers:
            x = F.dropout(F.leaky_relu(layer(x), 0.2), self.dropout, self.training)
        return torch.sigmoid(self.out(x))


discriminator = Discriminator().to(DEVICE)
'''),
        ("Sequential écrit en entier", '''
class Discriminator(nn.Module):
    def __init__(self, hidden=(512, 256, 128), dropout=0.1):
        super().__init__()
        h1, h2, h3 = hidden
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, h1), nn.LeakyReLU(negative_slope=0.2), nn.Dropout(p=dropout),
            nn.Linear(h1, h2), nn.LeakyReLU(negative_slope=0.2), nn.Dropout(p=dropout),
            nn.Linear(h2, h3), nn.LeakyReLU(negative_slope=0.2), nn.Dropout(p=dropout),
            nn.Linear(h3, 1), nn.Sigmoid(),
        )

    def forward(self, x):
        return self.net(x)


discriminator = Discriminator().to(DEVICE)
'''),
    ],
    (DAY1, 2): [
        ("blocs imbriqués, tanh et view dans forward", '''
Z_DIM = 64


class Generator(nn.Module):
    def __init__(self, z_dim=Z_DIM, hidden=(256, 512, 1024)):
        super().__init__()
        blocks = []
        for a, b in zip((z_dim, *hidden[:-1]), hidden):
            blocks.append(nn.Sequential(nn.Linear(a, b), nn.BatchNorm1d(b), nn.LeakyReLU(0.2)))
        self.blocks = nn.Sequential(*blocks)
        self.to_pixels = nn.Linear(hidden[-1], 784)

    def forward(self, z):
        return torch.tanh(self.to_pixels(self.blocks(z))).view(-1, 1, 28, 28)


generator = Generator().to(DEVICE)
'''),
    ],
    (DAY1, 3): [
        ("F.binary_cross_entropy", '''
import torch.nn.functional as F

bce = nn.BCELoss()


def discriminator_loss(d_real, d_fake):
    return (F.binary_cross_entropy(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake)))
'''),
        ("les log à la main", '''
bce = nn.BCELoss()


def discriminator_loss(d_real, d_fake):
    return -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
'''),
    ],
    (DAY1, 4): [
        ("le log à la main", '''
def generator_loss(d_fake):
    return -torch.log(d_fake).mean()
'''),
        ("cible pleine de 1", '''
def generator_loss(d_fake):
    return bce(d_fake, torch.full_like(d_fake, 1.0))
'''),
    ],
    (DAY1, 5): [
        ("zero_grad juste avant backward, float()", '''
def train_step(real, generator, discriminator, opt_g, opt_d, z_dim=Z_DIM):
    fake = generator(torch.randn(real.size(0), z_dim, device=real.device))
    d_real = discriminator(real)
    d_fake = discriminator(fake.detach())
    loss_d = discriminator_loss(d_real, d_fake)
    opt_d.zero_grad(set_to_none=False)
    loss_d.backward()
    opt_d.step()
    loss_g = generator_loss(discriminator(fake))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return dict(loss_d=float(loss_d), loss_g=float(loss_g), d_real=float(d_real.mean()),
                d_fake=float(d_fake.mean()))
'''),
    ],
    (DAY2, 1): [
        ("ModuleList et torch.relu", '''
class ToyGenerator(nn.Module):
    def __init__(self, z_dim=2, hidden=128, n_hidden=2):
        super().__init__()
        widths = [z_dim] + [hidden] * n_hidden
        self.hidden_layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.out = nn.Linear(widths[-1], 2)

    def forward(self, z):
        for layer in self.hidden_layers:
            z = torch.relu(layer(z))
        return self.out(z)


generator = ToyGenerator()
'''),
    ],
    (DAY2, 2): [
        ("couche de sortie créée avant les cachées", '''
class ToyDiscriminator(nn.Module):
    def __init__(self, hidden=128, n_hidden=2):
        super().__init__()
        self.out = nn.Linear(hidden, 1)
        layers, width = [], 2
        for _ in range(n_hidden):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.out(self.body(x))


discriminator = ToyDiscriminator()
'''),
        ("F.leaky_relu(x, 0.2) dans forward", '''
class ToyDiscriminator(nn.Module):
    def __init__(self, hidden=128, n_hidden=2):
        super().__init__()
        widths = [2] + [hidden] * n_hidden
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        for layer in self.hidden_layers:
            x = F.leaky_relu(layer(x), negative_slope=0.2)
        return self.out(x)


discriminator = ToyDiscriminator()
'''),
    ],
    (DAY2, 3): [
        ("softplus, pow, log(1 - sigmoïde)", '''
def discriminator_loss(real_out, fake_out, kind="non_saturating"):
    if kind == "least_squares":
        return ((real_out - 1).pow(2).mean() + fake_out.pow(2).mean()) / 2
    return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()


def generator_loss(fake_out, kind="non_saturating"):
    if kind == "least_squares":
        return 0.5 * (fake_out - 1).pow(2).mean()
    if kind == "saturating":
        return torch.log(1 - torch.sigmoid(fake_out)).mean()
    return F.softplus(-fake_out).mean()
'''),
    ],
    (DAY2, 4): [
        ("bruit de G tiré avant la boucle de D", '''
def train_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
               loss="non_saturating", d_steps=1):
    z_g = torch.randn(batch_size, z_dim)
    for _ in range(d_steps):
        real = sample_real(batch_size)
        fake = generator(torch.randn(batch_size, z_dim)).detach()
        loss_d = discriminator_loss(discriminator(real), discriminator(fake), loss)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
    loss_g = generator_loss(discriminator(generator(z_g)), loss)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
'''),
        ("lot réel tiré après le bruit, no_grad pour les faux", '''
def train_step(sample_real, generator, discriminator, opt_g, opt_d, z_dim, batch_size,
               loss="non_saturating", d_steps=1):
    for _ in range(d_steps):
        z = torch.randn(batch_size, z_dim)
        with torch.no_grad():
            fake = generator(z)
        real = sample_real(batch_size)
        opt_d.zero_grad()
        loss_d = discriminator_loss(discriminator(real), discriminator(fake), loss)
        loss_d.backward()
        opt_d.step()
    opt_g.zero_grad()
    loss_g = generator_loss(discriminator(generator(torch.randn(batch_size, z_dim))), loss)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": float(loss_d), "loss_g": float(loss_g)}
'''),
    ],
    (DAY3, 1): [
        ("la formule, termes dans un autre ordre", '''
def conv_transpose_output_size(size, kernel, stride, padding, output_padding=0):
    return stride * (size - 1) + kernel - 2 * padding + output_padding
'''),
        ("mesurée sur une vraie couche", '''
def conv_transpose_output_size(size, kernel, stride, padding, output_padding=0):
    layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding)
    return layer(torch.zeros(1, 1, size, size)).shape[-1]
'''),
    ],
    (DAY3, 2): [
        ("arguments positionnels, LeakyReLU en place", '''
class Generator(nn.Module):
    def __init__(self, z_dim=CONFIG["z_dim"], channels=CONFIG["g_channels"]):
        super().__init__()
        c1, c2 = channels
        self.net = nn.Sequential(
            nn.Linear(z_dim, c1 * 49, bias=False), nn.BatchNorm1d(c1 * 49), nn.LeakyReLU(0.2, inplace=True),
            nn.Unflatten(1, (c1, 7, 7)),
            nn.ConvTranspose2d(c1, c2, 4, 2, 1, bias=False), nn.BatchNorm2d(c2), nn.LeakyReLU(0.2, True),
            nn.ConvTranspose2d(c2, 1, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z)


generator = Generator().to(DEVICE)
'''),
    ],
    (DAY3, 3): [
        ("arguments positionnels", '''
class Discriminator(nn.Module):
    def __init__(self, channels=CONFIG["d_channels"], dropout=CONFIG["dropout"]):
        super().__init__()
        c1, c2 = channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Dropout(p=dropout), nn.Flatten(), nn.Linear(c2 * 49, 1), nn.Sigmoid(),
        )

    def forward(self, x):
        return self.net(x)


discriminator = Discriminator().to(DEVICE)
'''),
    ],
    (DAY3, 4): [
        ("F.binary_cross_entropy", '''
import torch.nn.functional as F

bce = nn.BCELoss()


def discriminator_loss(d_real, d_fake, real_label=1.0):
    return (F.binary_cross_entropy(d_real, torch.full_like(d_real, real_label))
            + F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake)))
'''),
        ("les log à la main", '''
bce = nn.BCELoss()


def discriminator_loss(d_real, d_fake, real_label=1.0):
    real_part = -(real_label * torch.log(d_real) + (1 - real_label) * torch.log(1 - d_real)).mean()
    return real_part - torch.log(1 - d_fake).mean()
'''),
    ],
    (DAY3, 5): [
        ("zero_grad juste avant backward", '''
def train_step(real, generator, discriminator, opt_g, opt_d, z_dim=CONFIG["z_dim"], real_label=1.0,
               d_steps=1):
    for _ in range(d_steps):
        fake = generator(torch.randn(real.size(0), z_dim, device=real.device))
        d_real, d_fake = discriminator(real), discriminator(fake.detach())
        loss_d = discriminator_loss(d_real, d_fake, real_label=real_label)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
    loss_g = generator_loss(discriminator(fake))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return {"loss_d": float(loss_d), "loss_g": float(loss_g), "d_real": float(d_real.mean()),
            "d_fake": float(d_fake.mean())}
'''),
    ],
    (DAY4, 1): [
        ("couche de sortie créée avant les cachées", '''
import torch.nn.functional as F


class Critic(nn.Module):
    def __init__(self, hidden=(512, 256, 128), shape=(1, 28, 28)):
        super().__init__()
        self.score = nn.Linear(hidden[-1], 1)
        sizes = [math.prod(shape), *hidden]
        self.body = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])

    def forward(self, x):
        x = x.view(x.size(0), -1)
        for layer in self.body:
            x = F.leaky_relu(layer(x), 0.2)
        return self.score(x)


critic = Critic().to(DEVICE)
'''),
        ("F.leaky_relu(x, 0.2) dans forward", '''
import torch.nn.functional as F


class Critic(nn.Module):
    def __init__(self, hidden=(512, 256, 128), shape=(1, 28, 28)):
        super().__init__()
        sizes = [math.prod(shape), *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.out = nn.Linear(sizes[-1], 1)

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
        return self.out(x)


critic = Critic().to(DEVICE)
'''),
    ],
    (DAY4, 2): [
        ("torch.mean", '''
def critic_loss(c_real, c_fake):
    return torch.mean(c_fake) - torch.mean(c_real)
'''),
        ("moyenne d'une différence (lots de même taille)", '''
def critic_loss(c_real, c_fake):
    return (c_fake - c_real).mean()
'''),
    ],
    (DAY4, 3): [
        ("rand_like, somme des carrés, einsum", '''
def gradient_penalty(critic, real, fake):
    alpha = torch.rand_like(real[:, :1, :1, :1])
    mixed = alpha * real + (1 - alpha) * fake
    mixed.requires_grad_()
    scores = critic(mixed)
    grad = torch.autograd.grad(outputs=scores, inputs=mixed, grad_outputs=torch.ones_like(scores),
                               create_graph=True)[0].reshape(real.size(0), -1)
    norms = torch.einsum("ij,ij->i", grad, grad).sqrt()
    return ((norms - 1) ** 2).mean()
'''),
    ],
    (DAY4, 4): [
        ("torch.mean", '''
def wgan_generator_loss(c_fake):
    return -torch.mean(c_fake)
'''),
    ],
    (DAY4, 5): [
        ("bruit de G tiré dès le premier lot", '''
def wgan_gp_step(batches, generator, critic, opt_g, opt_c, z_dim=Z_DIM, n_critic=5, gp_weight=10.0):
    z_g = None
    for _ in range(n_critic):
        real = next(batches)
        if z_g is None:
            z_g = torch.randn(real.shape[0], z_dim, device=real.device)
        fake = generator(torch.randn(real.shape[0], z_dim, device=real.device)).detach()
        c_real, c_fake = critic(real), critic(fake)
        gp = gradient_penalty(critic, real, fake)
        loss_c = critic_loss(c_real, c_fake) + gp_weight * gp
        opt_c.zero_grad()
        loss_c.backward()
        opt_c.step()
    loss_g = wgan_generator_loss(critic(generator(z_g)))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return {"loss_c": loss_c.item(), "loss_g": loss_g.item(),
            "wasserstein": (c_real.mean() - c_fake.mean()).item(), "gp": gp.item()}
'''),
        ("faux sous no_grad, zero_grad en tête", '''
def wgan_gp_step(batches, generator, critic, opt_g, opt_c, z_dim=Z_DIM, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(batches)
        with torch.no_grad():
            fake = generator(torch.randn(real.size(0), z_dim, device=real.device))
        opt_c.zero_grad()
        c_real, c_fake = critic(real), critic(fake)
        gp = gradient_penalty(critic, real, fake)
        loss_c = critic_loss(c_real, c_fake) + gp_weight * gp
        loss_c.backward()
        opt_c.step()
    opt_g.zero_grad()
    loss_g = wgan_generator_loss(critic(generator(torch.randn(real.size(0), z_dim, device=real.device))))
    loss_g.backward()
    opt_g.step()
    return {"loss_c": float(loss_c), "loss_g": float(loss_g),
            "wasserstein": float(c_real.mean() - c_fake.mean()), "gp": float(gp)}
'''),
    ],
    (DAY5, 1): [
        ("décodeur écrit couche de sortie d'abord", '''
class AutoEncoder(nn.Module):
    def __init__(self, z_dim=2):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                                     nn.ReLU(), nn.Linear(128, z_dim))
        self.to_pixels = nn.Linear(256, 784)
        self.hidden = nn.Sequential(nn.Linear(z_dim, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU())
        self.decoder = nn.Sequential(self.hidden, self.to_pixels, nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))

    def forward(self, x):
        return self.decoder(self.encoder(x))


autoencoder = AutoEncoder(CONFIG["z_dim"]).to(DEVICE)
'''),
        ("ReLU en place, Flatten(1), view dans forward", '''
class AutoEncoder(nn.Module):
    def __init__(self, z_dim=2):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Flatten(start_dim=1),
            nn.Linear(28 * 28, 256), nn.ReLU(inplace=True),
            nn.Linear(256, 128), nn.ReLU(inplace=True),
            nn.Linear(128, z_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(z_dim, 128), nn.ReLU(inplace=True),
            nn.Linear(128, 256), nn.ReLU(inplace=True),
            nn.Linear(256, 28 * 28), nn.Sigmoid(),
            nn.Unflatten(1, (1, 28, 28)),
        )

    def forward(self, x):
        code = self.encoder(x)
        return self.decoder(code)


autoencoder = AutoEncoder(CONFIG["z_dim"]).to(DEVICE)
'''),
    ],
    (DAY5, 2): [
        ("randn_like(mu), exp(logvar / 2)", '''
def reparameterize(mu, logvar):
    return mu + torch.randn_like(mu) * torch.exp(logvar / 2)
'''),
        ("sqrt(exp(logvar))", '''
def reparameterize(mu, logvar):
    std = logvar.exp().sqrt()
    return mu + std * torch.randn_like(std)
'''),
    ],
    (DAY5, 3): [
        ("KL réarrangée, moyenne des sommes par image", '''
def vae_loss(recon, x, mu, logvar):
    reconstruction = F.binary_cross_entropy(recon, x, reduction="none").flatten(1).sum(dim=1).mean()
    kl = (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).sum(dim=1).mean()
    return reconstruction + kl, reconstruction, kl
'''),
    ],
    (CGAN, 1): [
        ("tête créée d'abord, one-hot par torch.eye", '''
class ConditionalGenerator(nn.Module):
    def __init__(self, z_dim=Z_DIM, n_classes=N_CLASSES, hidden=(256, 512, 1024)):
        super().__init__()
        self.n_classes = n_classes
        self.head = nn.Sequential(nn.Linear(hidden[-1], 784), nn.Tanh())
        layers, width = [], z_dim + n_classes
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.LeakyReLU(0.2)]
            width = h
        self.body = nn.Sequential(*layers)

    def forward(self, z, labels):
        code = torch.eye(self.n_classes, device=z.device)[labels]
        return self.head(self.body(torch.cat([z, code], dim=1))).view(-1, 1, 28, 28)


generator = ConditionalGenerator().to(DEVICE)
'''),
        ("Linear sans biais avant BatchNorm1d", '''
class ConditionalGenerator(nn.Module):
    def __init__(self, z_dim=Z_DIM, n_classes=N_CLASSES, hidden=(256, 512, 1024)):
        super().__init__()
        self.n_classes = n_classes
        layers, width = [], z_dim + n_classes
        for h in hidden:
            layers += [nn.Linear(width, h, bias=False), nn.BatchNorm1d(h), nn.LeakyReLU(0.2)]
            width = h
        layers += [nn.Linear(width, 784), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z, labels):
        x = torch.cat([z, F.one_hot(labels, self.n_classes).float()], 1)
        return self.net(x).view(-1, 1, 28, 28)


generator = ConditionalGenerator().to(DEVICE)
'''),
        ("scatter, étiquette avant le bruit, tanh dans forward", '''
class ConditionalGenerator(nn.Module):
    def __init__(self, z_dim=Z_DIM, n_classes=N_CLASSES, hidden=(256, 512, 1024)):
        super().__init__()
        self.n_classes = n_classes
        layers, width = [], z_dim + n_classes
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.LeakyReLU(0.2)]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 784)

    def forward(self, z, labels):
        one_hot = torch.zeros(labels.shape[0], self.n_classes, device=z.device)
        one_hot.scatter_(1, labels[:, None], 1.0)
        return torch.tanh(self.head(self.body(torch.cat([one_hot, z], dim=1)))).reshape(-1, 1, 28, 28)


generator = ConditionalGenerator().to(DEVICE)
'''),
        ("nn.Embedding", '''
class ConditionalGenerator(nn.Module):
    def __init__(self, z_dim=Z_DIM, n_classes=N_CLASSES, hidden=(256, 512, 1024)):
        super().__init__()
        self.n_classes = n_classes
        self.embed = nn.Embedding(n_classes, 16)
        layers, width = [], z_dim + 16
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.LeakyReLU(0.2)]
            width = h
        layers += [nn.Linear(width, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28))]
        self.net = nn.Sequential(*layers)

    def forward(self, z, labels):
        return self.net(torch.cat([z, self.embed(labels)], dim=1))


generator = ConditionalGenerator().to(DEVICE)
'''),
    ],
    (CGAN, 2): [
        ("tête créée d'abord", '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, n_classes=N_CLASSES, hidden=(512, 256, 128), dropout=0.1):
        super().__init__()
        self.n_classes = n_classes
        self.head = nn.Sequential(nn.Linear(hidden[-1], 1), nn.Sigmoid())
        layers, width = [], 784 + n_classes
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)

    def forward(self, images, labels):
        x = torch.cat([images.flatten(1), F.one_hot(labels, self.n_classes).float()], dim=1)
        return self.head(self.body(x))


discriminator = ConditionalDiscriminator().to(DEVICE)
'''),
        ("nn.Embedding, view", '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, n_classes=N_CLASSES, hidden=(512, 256, 128), dropout=0.1):
        super().__init__()
        self.n_classes = n_classes
        self.embed = nn.Embedding(n_classes, 16)
        layers, width = [], 784 + 16
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = h
        layers += [nn.Linear(width, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, images, labels):
        return self.net(torch.cat([images.view(images.size(0), -1), self.embed(labels)], dim=1))


discriminator = ConditionalDiscriminator().to(DEVICE)
'''),
        ("one-hot par torch.eye, F.dropout", '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, n_classes=N_CLASSES, hidden=(512, 256, 128), dropout=0.1):
        super().__init__()
        self.n_classes, self.dropout = n_classes, dropout
        sizes = [784 + n_classes, *hidden]
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.out = nn.Linear(sizes[-1], 1)

    def forward(self, images, labels):
        x = torch.cat([images.flatten(1), torch.eye(self.n_classes, device=images.device)[labels]], dim=1)
        for layer in self.hidden_layers:
            x = F.dropout(F.leaky_relu(layer(x), 0.2), self.dropout, self.training)
        return torch.sigmoid(self.out(x))


discriminator = ConditionalDiscriminator().to(DEVICE)
'''),
    ],
    (CGAN, 3): [
        ("un seul appel de D sur les trois lots concaténés", '''
def cgan_step(real, labels, generator, discriminator, opt_g, opt_d, z_dim=Z_DIM):
    n = real.shape[0]
    fake = generator(torch.randn(n, z_dim, device=real.device), labels)
    wrong = (labels + torch.randint(1, 10, labels.shape, device=labels.device)) % 10
    opt_d.zero_grad()
    out = discriminator(torch.cat([real, fake.detach(), real]), torch.cat([labels, labels, wrong]))
    d_real, d_fake, d_wrong = out.split(n)
    loss_d = (F.binary_cross_entropy(d_real, torch.ones_like(d_real))
              + F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake))
              + F.binary_cross_entropy(d_wrong, torch.zeros_like(d_wrong)))
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    d_judged = discriminator(fake, labels)
    loss_g = F.binary_cross_entropy(d_judged, torch.ones_like(d_judged))
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
            "d_real": d_real.mean().item(), "d_fake": d_fake.mean().item()}
'''),
        ("entropies croisées écrites avec des log", '''
def cgan_step(real, labels, generator, discriminator, opt_g, opt_d, z_dim=Z_DIM):
    z = torch.randn(real.shape[0], z_dim, device=real.device)
    fake = generator(z, labels)
    wrong = (labels + torch.randint(1, 10, labels.shape, device=labels.device)) % 10
    opt_d.zero_grad()
    d_real = discriminator(real, labels)
    d_fake = discriminator(fake.detach(), labels)
    d_wrong = discriminator(real, wrong)
    loss_d = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean() + torch.log(1 - d_wrong).mean())
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = -torch.log(discriminator(fake, labels)).mean()
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
            "d_real": d_real.mean().item(), "d_fake": d_fake.mean().item()}
'''),
        ("nn.BCELoss, randint_like", '''
def cgan_step(real, labels, generator, discriminator, opt_g, opt_d, z_dim=Z_DIM):
    bce = nn.BCELoss()
    fake = generator(torch.randn(real.size(0), z_dim, device=real.device), labels)
    wrong = (labels + torch.randint_like(labels, 1, 10)) % 10
    d_real = discriminator(real, labels)
    d_fake = discriminator(fake.detach(), labels)
    d_wrong = discriminator(real, wrong)
    loss_d = (bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
              + bce(d_wrong, torch.zeros_like(d_wrong)))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    judged = discriminator(fake, labels)
    loss_g = bce(judged, torch.ones_like(judged))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return {"loss_d": float(loss_d), "loss_g": float(loss_g), "d_real": float(d_real.mean()),
            "d_fake": float(d_fake.mean())}
'''),
    ],
    (EVAL, 1): [
        ("racine symétrique par eigh", '''
def frechet_distance(mu1, sigma1, mu2, sigma2):
    values, vectors = torch.linalg.eigh(sigma1)
    root = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    cross = torch.linalg.eigvalsh(root @ sigma2 @ root).clamp(min=0).sqrt().sum()
    return ((mu1 - mu2) ** 2).sum().item() + (sigma1.trace() + sigma2.trace() - 2 * cross).item()
'''),
    ],
    (EVAL, 2): [
        ("topk avec le point lui-même", '''
def knn_radii(points, k):
    return torch.cdist(points, points).topk(k + 1, dim=1, largest=False).values[:, k]
'''),
        ("diagonale infinie ajoutée, sort", '''
def knn_radii(points, k):
    distances = torch.cdist(points, points) + torch.diag(torch.full((len(points),), float("inf")))
    return distances.sort(dim=1).values[:, k - 1]
'''),
    ],
    (EVAL, 3): [
        ("distances faux × réels", '''
def precision_recall(real, fake, k=3):
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    d = torch.cdist(fake, real)
    precision = (d < real_radii[None, :]).any(dim=1).float().mean().item()
    recall = (d.T < fake_radii[None, :]).any(dim=1).float().mean().item()
    return precision, recall
'''),
    ],
    (EVAL, 4): [
        ("plus proche faux pour la couverture", '''
def density_coverage(real, fake, k=5):
    radii = knn_radii(real, k)
    density = (torch.cdist(fake, real) < radii[None, :]).float().sum(dim=1).mean().item() / k
    coverage = (torch.cdist(real, fake).min(dim=1).values < radii).float().mean().item()
    return density, coverage
'''),
    ],
    (EVAL, 5): [
        ("sans blocs", '''
def memorisation_ratio(samples, train, n_reference=None):
    reference = train if n_reference is None else train[:n_reference]
    to_train = torch.cdist(samples, train).min(dim=1).values
    within = torch.cdist(reference, train)
    index = torch.arange(len(reference))
    within[index, index] = float("inf")
    return (to_train.median() / within.min(dim=1).values.median()).item()
'''),
    ],
}
