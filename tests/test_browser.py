"""Le cours ouvert comme un étudiant l'ouvre : JupyterLab dans un vrai navigateur.

Un serveur JupyterLab, lancé depuis l'environnement du projet sur un port libre, sert une
copie temporaire de ``02_labs/`` et de ``solutions/`` (la sauvegarde automatique ne peut pas
toucher aux notebooks du dépôt) ; Chromium, sans écran et piloté par Playwright, ouvre
chaque notebook et exécute toutes ses cellules (menu « Run › Run All Cells »), en mode rapide.
On vérifie :

* chaque lab s'arrête à son premier exercice, sur ``NotImplementedError``, et nulle part ailleurs ;
* chaque corrigé qui contient un terrain de jeu (jours 2, 5 et 6) va jusqu'au bout sans sortie
  d'erreur, ses widgets (terrain de jeu et barres de progression) s'affichent en widgets (ni le
  texte de leur modèle, ni « Error displaying widget »), et bouger un curseur ou cliquer un
  bouton change la figure.

Les autres corrigés ne sont pas réexécutés ici : nbval les exécute déjà (chaque notebook est
exécuté une fois par lancement de pytest), et ils n'ont pas de terrain de jeu. Les labs ne
sont exécutés qu'ici quand ce module tourne : ``tests/test_labs.py`` saute alors sa propre
exécution des labs (voir ``tests/conftest.py``).

Les erreurs sont lues dans le notebook enregistré par JupyterLab (Ctrl+S) après l'exécution,
le rendu dans la page. Une capture de chaque notebook va dans ``outputs/captures_navigateur/``.

Sans Chromium ou sans Playwright, le module est sauté avec un message qui dit comment les
installer ; avec ``GANS_CI=1`` (la CI), il échoue. ``pytest -m "not navigateur"`` le laisse
de côté.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from helpers import PLAYGROUND_ACTIONS

from utils import course

ROOT = course.ROOT
CAPTURES = ROOT / "outputs" / "captures_navigateur"
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p and Path(p).exists()), None)
#: Drapeaux de Chromium sur une machine sans réseau : sans les trois « disable-* » du réseau,
#: il tente sans cesse de joindre ses serveurs.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Temps maximal d'un notebook, de son ouverture à la fin de son exécution.
NOTEBOOK_TIMEOUT = 300
#: Les terrains de jeu : le notebook, et ce qu'on y actionne (« curseur », « bouton »). Ce sont
#: les seuls corrigés exécutés ici : nbval exécute déjà tous les corrigés, et seul un navigateur
#: montre qu'un widget s'affiche et répond. ``tests/test_structure.py`` vérifie que la liste
#: nomme chaque corrigé qui construit un terrain de jeu (appel à ``.widget()``).
PLAYGROUNDS = PLAYGROUND_ACTIONS

pytestmark = [pytest.mark.navigateur, pytest.mark.lent]


def _missing_tools() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "le paquet Python playwright manque : pip install -r requirements-dev.txt"
    if CHROMIUM is None:
        return ("Chromium manque : sudo apt-get install chromium (Debian, Ubuntu), ou le "
                "gestionnaire de paquets de votre système ; ne lancez pas « playwright install », "
                "qui télécharge son propre navigateur")
    return None


_MISSING = _missing_tools()
if _MISSING:
    if os.environ.get("GANS_CI") == "1":
        raise RuntimeError(f"Test dans le navigateur impossible en CI : {_MISSING}.")
    pytest.skip(f"Test dans le navigateur sauté : {_MISSING}.", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

# --- le serveur et le navigateur -----------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """Un serveur JupyterLab sur une copie des notebooks, et son API REST."""

    def __init__(self, root: Path):
        self.root, self.port, self.token = root, _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel_state(self, path: str) -> str | None:
        """L'état du noyau du notebook (« idle », « busy »...), ou None s'il n'a pas démarré."""
        for session in self.api("sessions"):
            if session["path"] == path and session.get("kernel"):
                return self.api(f"kernels/{session['kernel']['id']}")["execution_state"]
        return None

    def stop_kernels(self) -> None:
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyterlab")
    # Une copie du cours : les notebooks, et le paquet utils (placé en tête de PYTHONPATH), pour
    # que les artefacts des notebooks (outputs/, runs/) s'écrivent dans la copie et jamais en même
    # temps que ceux de nbval, qui exécute les mêmes corrigés dans un autre processus (xdist).
    for folder in ("02_labs", "solutions", "utils"):
        shutil.copytree(ROOT / folder, root / folder,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "data").symlink_to(ROOT / "data", target_is_directory=True)
    # Réglages de l'étudiant neuf, sauf deux : pas de sauvegarde automatique (on enregistre
    # quand on veut lire les sorties), et toutes les cellules dans la page (pas de fenêtrage).
    settings = root / ".reglages"
    for name, value in (("docmanager-extension/plugin", {"autosave": False}),
                        ("notebook-extension/tracker", {"windowingMode": "none"}),
                        ("apputils-extension/notification", {"fetchNews": "false",
                                                             "checkForUpdates": False})):
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")
    server = LabServer(root)
    env = {**os.environ, "GANS_QUICK": "1", "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".espaces"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
    log = open(root / ".jupyterlab.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={server.port}",
         "--allow-root", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={server.token}",
         f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", "--ServerApp.disable_check_xsrf=True"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            server.api("status")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail("JupyterLab n'a pas démarré :\n"
                            + (root / ".jupyterlab.log").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
    yield server
    try:
        server.stop_kernels()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, lab_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    yield page
    context.close()
    lab_server.stop_kernels()


# --- ouvrir, exécuter, enregistrer ---------------------------------------------------------

def _wait(condition, timeout: float, message: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(message)


def run_notebook(page, server: LabServer, path: str):
    """Ouvre le notebook, exécute toutes ses cellules, l'enregistre ; renvoie le notebook enregistré."""
    page.goto(f"{server.url}/lab/tree/{path}?reset&token={server.token}")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    expect(notebook).to_be_visible(timeout=60_000)
    _wait(lambda: server.kernel_state(path) == "idle", 90, f"{path} : le noyau n'a pas démarré")
    saved = server.root / path
    before = saved.stat().st_mtime_ns
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    prompts = notebook.locator(".jp-InputPrompt")

    def queued() -> bool:
        return any("*" in t for t in prompts.all_inner_texts())

    def finished() -> bool:
        return server.kernel_state(path) == "idle" and not queued()

    start = time.monotonic()
    # D'abord voir l'exécution commencer (noyau occupé ou cellule en attente « [*] »), pour ne
    # pas prendre l'instant d'avant pour la fin ; la cellule de démarrage dure plus d'une seconde.
    while time.monotonic() - start < 15 and server.kernel_state(path) != "busy" and not queued():
        time.sleep(0.1)
    _wait(lambda: finished() and (time.sleep(0.3) or finished()), NOTEBOOK_TIMEOUT,
          f"{path} : l'exécution n'est pas finie après {NOTEBOOK_TIMEOUT} s", interval=0.25)
    seconds = time.monotonic() - start
    notebook.click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    _wait(lambda: saved.stat().st_mtime_ns != before, 30, f"{path} : JupyterLab n'a pas enregistré",
          interval=0.1)
    return _read_saved(saved), seconds


def _read_saved(path: Path):
    """Le notebook enregistré (relu tant que l'écriture n'est pas finie, 10 s au plus)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - fichier en cours d'écriture
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _errors(nb):
    """(indice de cellule, nom, message) de chaque sortie d'erreur du notebook enregistré."""
    return [(i, out.ename, out.evalue) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.output_type == "error"]


def _capture(page, name: str, locator=None) -> Path:
    CAPTURES.mkdir(parents=True, exist_ok=True)
    path = CAPTURES / f"{name}.png"
    (locator or page).screenshot(path=str(path))
    return path


def _rendering_problems(page) -> list[str]:
    """Ce qui trahit un widget mal affiché : le message d'erreur de JupyterLab, ou le texte du
    modèle (« VBox(children=... ») à la place du widget."""
    problems = []
    outputs = page.locator(".jp-OutputArea-output")
    for text in outputs.all_inner_texts():
        if "Error displaying widget" in text:
            problems.append("« Error displaying widget »")
        for model in ("VBox(children=", "HBox(children=", "interactive(children=", "Output(layout="):
            if text.lstrip().startswith(model):
                problems.append(f"texte du modèle au lieu du widget : {text[:80]!r}")
    return problems


# --- les tests -----------------------------------------------------------------------------

LABS = [str(p.relative_to(course.LABS_DIR)) for p in course.lab_paths()]


@pytest.mark.parametrize("lab", LABS)
def test_lab_stops_at_its_first_exercise_in_the_browser(page, lab_server, lab):
    path = f"02_labs/{lab}"
    nb, _ = run_notebook(page, lab_server, path)
    first_stub = next(i for i, c in enumerate(nb.cells)
                      if c.cell_type == "code" and "raise NotImplementedError" in c.source)
    errors = _errors(nb)
    assert [(i, name) for i, name, _ in errors] == [(first_stub, "NotImplementedError")], (
        f"{path} : on attend une seule erreur, NotImplementedError dans la cellule n° {first_stub + 1} ; "
        f"obtenu : {[(i + 1, n, v[:80]) for i, n, v in errors]}")
    assert "Exercice 1" in errors[0][2]
    error = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                         has_text="NotImplementedError").first
    expect(error).to_be_visible()
    error.scroll_into_view_if_needed()
    _capture(page, f"labs_{Path(lab).stem}")


@pytest.mark.parametrize("lab", sorted(PLAYGROUNDS))
def test_solution_runs_to_the_end_in_the_browser(page, lab_server, lab):
    path = f"solutions/{lab}"
    nb, seconds = run_notebook(page, lab_server, path)
    errors = _errors(nb)
    assert not errors, (f"{path} : sorties d'erreur : "
                        + "; ".join(f"cellule n° {i + 1} : {n}: {v[:200]}" for i, n, v in errors))
    unrun = [i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()
             and c.execution_count is None]
    assert not unrun, f"{path} : cellules non exécutées : {unrun}"
    assert not _rendering_problems(page), f"{path} : {_rendering_problems(page)}"
    page.locator(".jp-Cell").last.scroll_into_view_if_needed()
    _capture(page, f"solutions_{Path(lab).stem}")
    check_playground(page, lab, PLAYGROUNDS[lab])
    print(f"{path} : exécuté en {seconds:.0f} s dans le navigateur")


def _figure(widget) -> list[str]:
    """Ce que montre le terrain de jeu : la source de chacune de ses images."""
    return [img.get_attribute("src") or "" for img in widget.locator("img").all()]


def check_playground(page, lab: str, actions: list[str]) -> None:
    """Le terrain de jeu s'affiche en widgets, et chaque action change sa figure."""
    # Le terrain de jeu, pas les barres de progression de tqdm (des widgets eux aussi) : la sortie
    # qui contient un curseur ou un bouton.
    widget = page.locator(".jp-OutputArea-output:has(.widget-slider, button.jupyter-button) "
                          "> .jupyter-widgets").first
    expect(widget, f"{lab} : aucun widget affiché").to_be_visible(timeout=30_000)
    widget.scroll_into_view_if_needed()
    expect(widget.locator("img").first, f"{lab} : le widget n'affiche pas de figure").to_be_visible(
        timeout=30_000)
    stem = Path(lab).stem
    _capture(page, f"widget_{stem}_avant", widget)
    for action in actions:
        before = _figure(widget)
        if action == "curseur":
            handle = widget.locator(".widget-slider .noUi-handle").first
            handle.focus()
            for _ in range(3):
                page.keyboard.press("ArrowRight")
        else:
            # Un bouton qui porte un texte (« 25 pas », « autre style »), pas ceux de lecture.
            button = widget.locator("button.jupyter-button", has_text=re.compile(r"\w")).first
            label = button.inner_text()
            button.click()
            action = f"bouton « {label.strip()} »"
        _wait(lambda: _figure(widget) != before and all(_figure(widget)), 60,
              f"{lab} : la figure ne change pas après l'action ({action})")
        _capture(page, f"widget_{stem}_apres_{'curseur' if 'curseur' in action else 'bouton'}", widget)
