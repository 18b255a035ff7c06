"""Les générateurs DCGAN livrés (utils/pretrained/) et l'outil qui les entraîne.

Le notebook du jour 3 les charge pour montrer où mènent les 20 époques de la recette Keras ;
ces tests vérifient qu'ils se chargent, qu'ils obtiennent les scores écrits dans leur journal,
qu'un fichier abîmé est refusé, et que l'outil reprend un entraînement interrompu à l'identique.
"""

import json
import shutil
from pathlib import Path

import nbformat
import pytest
import torch
from helpers import load_tool
from torch import nn

from utils import gan
from utils.data import load_mnist
from utils.evaluator import evaluate_samples

SHIPPED = gan.pretrained_names()


def test_the_keras_recipe_a_searched_dcgan_and_a_wgan_gp_are_shipped():
    assert "dcgan_keras_20_epoques" in SHIPPED
    assert sum(name.startswith("dcgan_") for name in SHIPPED) >= 2, SHIPPED
    assert any(name.startswith("wgan_gp_") for name in SHIPPED), SHIPPED
    for name in SHIPPED:
        size = (gan.PRETRAINED_DIR / f"{name}.pt").stat().st_size
        assert size < 8_000_000, f"{name}.pt pèse {size} octets : il devrait être en float16"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_generator_loads_and_scores_as_its_log_says(name):
    generator, log = gan.load_pretrained_dcgan(name)
    assert log["epochs_done"] >= 20 and len(log["epochs"]) == log["epochs_done"]
    assert name.endswith(f"_{log['epochs_done']}_epoques")
    assert log["weights_file"] == f"{name}.pt" and log["sample_seed"] == gan.SAMPLE_SEED
    stored = torch.load(gan.PRETRAINED_DIR / f"{name}.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in stored.values() if v.is_floating_point())
    assert not generator.training and next(generator.parameters()).dtype == torch.float32

    report = evaluate_samples(gan.sample_digits(generator, log["settings"]["z_dim"]))
    expected = log["scores"]
    assert report.fid == pytest.approx(expected["fid"], abs=0.05)
    assert report.confident_share == pytest.approx(expected["confident_share"], abs=0.001)
    assert report.class_shares == pytest.approx(expected["class_shares"], abs=0.001)
    assert report.all_digits_between() == expected["all_digits_between_5_15"]
    # Le dernier point du journal est celui de la même copie moyennée, en float32.
    if log["shipped"] == f"ema_{log['settings']['ema_decay']}":
        assert expected["fid"] == pytest.approx(log["epochs"][-1]["fid"], abs=1.0)


def _notebook_generator_class():
    """La classe Generator de l'exercice 2, telle que le corrigé du jour 3 l'écrit."""
    path = Path(__file__).resolve().parent.parent / "solutions" / "dcgan" / "dcgan_mnist.ipynb"
    cell = next(c.source for c in nbformat.read(path, as_version=4).cells
                if c.source.startswith("# Exercice 2 : le générateur"))
    namespace = {"nn": nn, "torch": torch, "CONFIG": {"z_dim": 256, "g_channels": (128, 64)}}
    exec(cell.split("\ngenerator = Generator()")[0], namespace)
    return namespace["Generator"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_generator_loads_into_the_notebook_class(name):
    # Le notebook charge les générateurs livrés dans le Generator que l'étudiant a écrit.
    Generator = _notebook_generator_class()
    settings = gan.load_pretrained_dcgan(name)[1]["settings"]
    if settings.get("g_arch") == "dense":   # le générateur du jour 1 : le notebook du jour 4 l'importe
        assert type(gan.load_pretrained_dcgan(name)[0]) is gan.Generator
        return
    reference, _ = gan.load_pretrained_dcgan(name)
    loaded, _ = gan.load_pretrained_dcgan(name, model=Generator(settings["z_dim"], tuple(settings["g_channels"])))
    assert type(loaded) is Generator
    z = torch.randn(8, settings["z_dim"])
    with torch.no_grad():
        assert torch.equal(loaded(z), reference(z))


def test_a_generator_with_other_channels_is_refused_in_french_and_left_untouched():
    model = gan.DCGANGenerator(256, (64, 32))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match=r"ne rentrent pas dans ce générateur \(il n'a pas été modifié\)"
                                           r".*channels=\(128, 64\).*Différences : .*ici, .* dans les poids livrés"):
        gan.load_pretrained_dcgan("dcgan_keras_20_epoques", model=model)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "des tenseurs ont été écrasés avant l'erreur"


def test_a_generator_with_an_extra_layer_is_refused_before_any_copy():
    settings = gan.load_pretrained_dcgan("dcgan_keras_20_epoques")[1]["settings"]
    model = gan.DCGANGenerator(settings["z_dim"], tuple(settings["g_channels"]))
    model.extra = torch.nn.Linear(2, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="extra.weight n'est pas dans les poids livrés"):
        gan.load_pretrained_dcgan("dcgan_keras_20_epoques", model=model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_modified_shipped_file_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "pretrained"
    shutil.copytree(gan.PRETRAINED_DIR, copy)
    monkeypatch.setattr(gan, "PRETRAINED_DIR", copy)
    weights, journal = copy / "dcgan_keras_20_epoques.pt", copy / "dcgan_keras_20_epoques.json"
    original = weights.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF   # un octet au milieu des poids
    weights.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="dcgan_keras_20_epoques.pt ne correspond pas à sa somme SHA-256"):
        gan.load_pretrained_dcgan("dcgan_keras_20_epoques")
    weights.write_bytes(original)
    gan.load_pretrained_dcgan("dcgan_keras_20_epoques")
    journal.write_text(journal.read_text(encoding="utf-8").replace('"seed": 0', '"seed": 1'), encoding="utf-8")
    with pytest.raises(RuntimeError, match="dcgan_keras_20_epoques.json ne correspond pas"):
        gan.load_pretrained_dcgan("dcgan_keras_20_epoques")
    (copy / "SHA256SUMS").unlink()
    with pytest.raises(FileNotFoundError, match="SHA256SUMS manque.*git checkout"):
        gan.load_pretrained_dcgan("dcgan_keras_20_epoques")


def test_an_unknown_name_lists_the_shipped_generators():
    with pytest.raises(FileNotFoundError, match="Pas de générateur livré nommé 'dcgan_inconnu'.*dcgan_keras_20_epoques"):
        gan.load_pretrained_dcgan("dcgan_inconnu")


def test_sample_digits_is_reproducible_and_leaves_the_global_noise_alone():
    generator = gan.DCGANGenerator(8, (4, 2)).eval()
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    first = gan.sample_digits(generator, 8, n=1500)
    assert torch.equal(torch.rand(2), expected)
    assert first.shape == (1500, 1, 28, 28)
    assert torch.equal(first, gan.sample_digits(generator, 8, n=1500))
    assert not torch.equal(first, gan.sample_digits(generator, 8, n=1500, seed=1))


# --- l'outil d'entraînement ------------------------------------------------------------------


@pytest.fixture
def small_tool(monkeypatch, tmp_path):
    """L'outil, sur 256 images d'entraînement (4 étapes par époque) et 300 chiffres notés."""
    tool = load_tool("train_dcgan_20_epochs")
    images, labels = load_mnist("train")
    monkeypatch.setattr(tool, "load_mnist", lambda split, device=None: (images[:256], labels[:256]))
    monkeypatch.setattr(tool, "sample_digits", lambda g, z_dim, n=300, seed=gan.SAMPLE_SEED:
                        gan.sample_digits(g, z_dim, n=300, seed=seed))
    shipped = tmp_path / "pretrained"
    monkeypatch.setattr(tool, "PRETRAINED_DIR", shipped)
    monkeypatch.setattr(gan, "PRETRAINED_DIR", shipped)
    return tool


def _state(folder):
    return torch.load(folder / "etat.pt", weights_only=False)


def test_the_tool_resumes_exactly_where_it_stopped(small_tool, tmp_path, capsys):
    straight, resumed = tmp_path / "d_une_traite", tmp_path / "repris"
    small_tool.train("keras", 2, 0, torch.device("cpu"), straight)
    small_tool.train("keras", 1, 0, torch.device("cpu"), resumed)
    assert json.loads((resumed / "journal.json").read_text())["epochs_done"] == 1
    small_tool.train("keras", 2, 0, torch.device("cpu"), resumed)
    assert "Reprise après l'époque 1" in capsys.readouterr().out
    a, b = _state(straight), _state(resumed)
    assert a["epoch"] == b["epoch"] == 2
    for key in ("generator", "discriminator"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    fids = [[e["fid"] for e in json.loads((f / "journal.json").read_text())["epochs"]] for f in (straight, resumed)]
    assert fids[0] == fids[1] and len(fids[0]) == 2
    assert torch.equal(torch.load(straight / "generateur_brut.pt")["net.0.weight"],
                       torch.load(resumed / "generateur_brut.pt")["net.0.weight"])


def test_every_configuration_has_a_french_description_and_builds(small_tool):
    assert set(small_tool.DESCRIPTIONS) == set(small_tool.CONFIGS)
    for name in small_tool.CONFIGS:
        config = small_tool.config_for(name)
        generator = gan.generator_from_settings(config)
        judge = small_tool.make_discriminator(config)
        images = generator(torch.randn(3, config["z_dim"]))
        assert images.shape == (3, 1, 28, 28) and judge(images).shape == (3, 1), name
        # Un critique de WGAN-GP ne normalise pas par lot : la note d'une image ne dépend que d'elle.
        if config["loss"] == "wgan_gp":
            assert torch.allclose(judge(images[:1]), judge(images)[:1], atol=1e-5), name
            assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in judge.modules()), name


def test_a_wgan_gp_run_resumes_exactly_ships_and_loads(small_tool, tmp_path, monkeypatch, capsys):
    images, labels = load_mnist("train")   # 10 lots de 64 : 2 pas du générateur par époque
    monkeypatch.setattr(small_tool, "load_mnist", lambda split, device=None: (images[:640], labels[:640]))
    straight, resumed = tmp_path / "d_une_traite", tmp_path / "wgan_gp_conv_demi-graine0"
    small_tool.train("wgan_gp_conv_demi", 2, 0, torch.device("cpu"), straight)
    small_tool.train("wgan_gp_conv_demi", 1, 0, torch.device("cpu"), resumed)
    small_tool.train("wgan_gp_conv_demi", 2, 0, torch.device("cpu"), resumed)
    assert "Reprise après l'époque 1" in capsys.readouterr().out
    a, b = _state(straight), _state(resumed)
    for key in ("generator", "discriminator"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    log = json.loads((resumed / "journal.json").read_text())
    assert log["steps_per_epoch"] == 2 and [e["step"] for e in log["epochs"]] == [2, 4]
    assert {"mean_wasserstein", "mean_gp"} <= log["epochs"][0].keys()
    monkeypatch.setattr(small_tool, "FULL_EPOCHS", 2)
    small_tool.ship("wgan_gp_conv_demi", 0, resumed, "ema_0.999")
    generator, shipped = gan.load_pretrained_dcgan("wgan_gp_conv_demi_2_epoques")
    report = evaluate_samples(gan.sample_digits(generator, 128, n=300))
    assert report.fid == pytest.approx(shipped["scores"]["fid"], abs=1e-3)


def test_a_diverged_run_is_named_and_stops(small_tool, tmp_path, monkeypatch):
    monkeypatch.setattr(small_tool, "train_step", lambda *a, **k: {"loss_d": float("nan"), "loss_g": 1.0})
    run = tmp_path / "run"
    with pytest.raises(SystemExit, match="keras a divergé à l'époque 1 .*Baissez les taux"):
        small_tool.train("keras", 2, 0, torch.device("cpu"), run)
    assert json.loads((run / "journal.json").read_text())["diverged_at_step"] == 1


def test_the_tool_refuses_to_resume_another_run(small_tool, tmp_path, monkeypatch):
    run = tmp_path / "run"
    small_tool.train("keras", 2, 0, torch.device("cpu"), run)
    with pytest.raises(SystemExit, match="appartient à un autre entraînement"):
        small_tool.train("keras_bn_d", 2, 0, torch.device("cpu"), run)
    with pytest.raises(SystemExit, match="a déjà fait 2 époques, plus que --epochs 1"):
        small_tool.train("keras", 1, 0, torch.device("cpu"), run)
    monkeypatch.setitem(small_tool.KERAS, "lr_g", 1e-3)
    with pytest.raises(SystemExit, match="Les réglages de keras ont changé.*lr_g"):
        small_tool.train("keras", 3, 0, torch.device("cpu"), run)


@pytest.mark.parametrize("content", [b"", b"pas un etat", None], ids=["vide", "texte", "tronque"])
def test_a_broken_state_file_stops_the_tool_in_french(small_tool, tmp_path, content):
    run = tmp_path / "run"
    run.mkdir()
    state = run / "etat.pt"
    if content is None:   # un vrai état, coupé en deux (machine arrêtée pendant l'écriture)
        torch.save({"epoch": 1, "poids": torch.zeros(1000)}, state)
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    else:
        state.write_bytes(content)
    before = state.read_bytes()
    with pytest.raises(SystemExit, match=r"etat.pt est illisible \(tronqué ou abîmé.*renommez-le ou effacez-le"):
        small_tool.train("keras", 1, 0, torch.device("cpu"), run)
    assert state.read_bytes() == before


def test_a_foreign_state_file_is_named(small_tool, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"epoch": 3}, run / "etat.pt")
    with pytest.raises(SystemExit, match="n'est pas un état de cet outil .*configuration"):
        small_tool.train("keras", 1, 0, torch.device("cpu"), run)


def test_a_full_disk_is_found_before_the_first_epoch(small_tool, tmp_path, monkeypatch):
    steps = []
    monkeypatch.setattr(small_tool, "train_step", lambda *a, **k: steps.append(1) or {})

    def full_disk(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"debut")   # une écriture commencée, puis le disque est plein
        raise RuntimeError("[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(small_tool.torch, "save", full_disk)
    run = tmp_path / "run"
    with pytest.raises(SystemExit, match=r"Impossible d'écrire .*\.essai_ecriture\.pt \(\d+ Mo libres.*disque est "
                                         r"peut-être plein"):
        small_tool.train("keras", 1, 0, torch.device("cpu"), run)
    assert steps == [], "une époque a été calculée avant de découvrir que rien ne pouvait s'écrire"
    assert not any(run.iterdir()), "un fichier temporaire est resté"


def test_a_shipped_run_loads_and_scores_as_its_log_says(small_tool, tmp_path, monkeypatch):
    out = tmp_path / "keras-graine0"
    with pytest.raises(SystemExit, match="Pas de journal dans"):
        small_tool.ship("keras", 0, out, "ema_0.999")
    small_tool.train("keras", 1, 0, torch.device("cpu"), out)
    with pytest.raises(SystemExit, match="1 époque\\(s\\) sur 20 ; seul un entraînement complet se livre"):
        small_tool.ship("keras", 0, out, "ema_0.999")
    monkeypatch.setattr(small_tool, "FULL_EPOCHS", 1)
    small_tool.ship("keras", 0, out, "ema_0.999")
    generator, log = gan.load_pretrained_dcgan("dcgan_keras_1_epoques")
    assert log["shipped"] == "ema_0.999" and log["epochs_done"] == 1
    report = evaluate_samples(gan.sample_digits(generator, 256, n=300))
    assert report.fid == pytest.approx(log["scores"]["fid"], abs=1e-3)
    listed = (gan.PRETRAINED_DIR / "SHA256SUMS").read_text().split()
    assert "dcgan_keras_1_epoques.pt" in listed and "dcgan_keras_1_epoques.json" in listed
    with pytest.raises(SystemExit, match="--generateur 'ema_0.5' inconnu"):
        small_tool.ship("keras", 0, out, "ema_0.5")


def test_the_table_lists_each_run_of_a_folder(small_tool, tmp_path):
    with pytest.raises(SystemExit, match="Aucun journal.json"):
        small_tool.table(tmp_path)
    small_tool.train("keras", 1, 0, torch.device("cpu"), tmp_path / "keras-graine0")
    fid = json.loads((tmp_path / "keras-graine0" / "journal.json").read_text())["epochs"][0]["fid"]
    rows = small_tool.table(tmp_path).splitlines()
    assert len(rows) == 3 and rows[2].startswith("| keras | 0 | 1 | ")
    assert f"{fid:.1f}".replace(".", ",") in rows[2]
