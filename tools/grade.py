"""Noter les labs d'une classe en une commande.

    python tools/grade.py COPIES/ [--sortie NOTES/] [--complet] [--limite 600]

``COPIES/`` : un dossier de notebooks rendus, sous n'importe quels noms (les
sous-dossiers sont parcourus : un dossier par étudiant convient). Pour chaque
notebook, le correcteur :

1. le lit (un fichier qui n'est pas un notebook valide reçoit le statut
   « illisible ») et reconnaît de quel lab il s'agit, en comparant ses cellules
   à celles des labs du programme (``utils/course.py``) ;
2. rétablit les cellules de vérification telles que le lab les donne (une
   cellule de vérification modifiée ou effacée ne change pas la note) ;
3. l'exécute dans sa propre copie temporaire du cours (``utils``, ``data``, et
   les échantillons déjà enregistrés dans ``outputs/``), dans un processus à
   part, en mode rapide (``--complet`` : mode complet), avec une limite de temps
   pour tout le notebook ; sous Linux, le noyau dans un bac à sable bubblewrap
   (il ne voit que sa copie, en écriture, et Python, en lecture seule ; ni
   réseau, ni socket, ni autres processus ; 8 Go de mémoire) ;
4. donne à chaque exercice un verdict : **réussi** ; **échoué**, avec le
   message de la vérification ; **non tenté** (le bloc « À VOUS DE JOUER » lève
   encore NotImplementedError) ; **planté**, avec la dernière ligne de l'erreur
   (ou la raison : temps dépassé, noyau arrêté).

Il écrit dans ``--sortie`` (par défaut ``notes/`` à côté du dossier des
copies) ``notes.csv`` (une ligne par copie, une colonne par exercice) et
``rapport.md`` (tableau et détail de chaque copie), mis à jour après chaque
copie. Ce qu'il ne protège pas : voir la section « Noter une classe » du README.

Le même script sert de processus d'exécution (``--executer``, usage interne) :
le correcteur le lance hors du bac à sable pour chaque copie ; lui seul parle au
noyau enfermé, et renvoie les verdicts par un tube que le noyau n'atteint pas.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils import course  # noqa: E402

# --- verdicts ------------------------------------------------------------------------------

PASSED, FAILED, NOT_ATTEMPTED, CRASHED = "réussi", "échoué", "non tenté", "planté"
SYMBOLS = {PASSED: "✅", FAILED: "❌", NOT_ATTEMPTED: "⬜", CRASHED: "💥"}

#: Statuts d'une copie (colonne « statut » du CSV).
GRADED, UNREADABLE, UNKNOWN_LAB = "noté", "illisible", "lab inconnu"
TIMED_OUT, KERNEL_DIED, GRADER_ERROR = "temps dépassé", "noyau arrêté", "erreur d'exécution"

#: Au-delà, les sorties d'une cellule sont tronquées (le notebook continue).
MAX_OUTPUT_BYTES = 1_000_000
#: Longueur gardée d'un message dans le rapport.
MAX_MESSAGE = 1_500
#: Taille maximale d'un fichier écrit par une copie (limite du système, RLIMIT_FSIZE).
MAX_FILE_BYTES = 1 << 30
#: Taille maximale d'un notebook rendu.
MAX_NOTEBOOK_BYTES = 100 << 20

EXERCISE_RE = re.compile(r"^\s*#\s*Exercice\s+(\d+)\s*:\s*(.*)$")
CHECK_CALL_RE = re.compile(r"\b(check_\w+)\s*\(")


# --- les labs du programme -----------------------------------------------------------------

@dataclass
class Exercise:
    number: int
    title: str
    check_source: str
    check_name: str


@dataclass
class LabSpec:
    """Un lab du programme, tel que le correcteur le lit dans ``02_labs/``."""

    path: str            # chemin sous 02_labs/
    day: int
    title: str
    cells: list          # sources de toutes les cellules, pour reconnaître une copie
    exercises: list[Exercise]


def _first_line(source: str) -> str:
    return next((line for line in source.splitlines() if line.strip()), "")


def _lab_title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            line = _first_line(cell.source)
            return line.lstrip("#").strip()
    return ""


def load_lab(path: Path, day: int, title: str = ""):
    """Lit un lab de ``02_labs/`` : ses exercices et leur cellule de vérification."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    exercises = []
    for index, cell in enumerate(nb.cells):
        match = EXERCISE_RE.match(_first_line(cell.source)) if cell.cell_type == "code" else None
        if not match:
            continue
        check = next(c for c in nb.cells[index + 1:]
                     if c.cell_type == "code" and CHECK_CALL_RE.search(c.source))
        exercises.append(Exercise(int(match.group(1)), match.group(2).strip(), check.source,
                                  CHECK_CALL_RE.search(check.source).group(1)))
    return LabSpec(str(path.relative_to(course.LABS_DIR)), day, title or _lab_title(nb),
                   [c.source.strip() for c in nb.cells if c.source.strip()], exercises)


def course_labs() -> list[LabSpec]:
    """Tous les labs du programme, dans l'ordre du cours."""
    return [load_lab(course.LABS_DIR / lab.path, day.number, lab.title)
            for day in course.written_days() for lab in day.labs]


# --- lire et reconnaître une copie ---------------------------------------------------------

class Unreadable(Exception):
    """La copie n'est pas un notebook qu'on peut exécuter ; le message dit pourquoi."""


#: Profondeur d'imbrication JSON au-delà de laquelle une copie est refusée sans être décodée
#: (un notebook en a moins de 10 ; 100 000 niveaux feraient échouer le décodeur).
MAX_JSON_DEPTH = 64


def _json_depth(text: str) -> int:
    """Profondeur maximale d'imbrication des [] et {} de ``text`` (hors chaînes), sans décoder."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _check_cells(cells) -> None:
    """Lève :class:`Unreadable` si la liste de cellules n'a pas la forme d'un notebook."""
    if not isinstance(cells, list):
        raise Unreadable(f"notebook mal formé : « cells » est de type {type(cells).__name__}, "
                         "une liste était attendue")
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise Unreadable(f"notebook mal formé : la cellule n° {number} est de type "
                             f"{type(cell).__name__}, un objet était attendu")
        kind, source = cell.get("cell_type"), cell.get("source", "")
        if kind not in ("code", "markdown", "raw"):
            raise Unreadable(f"notebook mal formé : la cellule n° {number} est de type {kind!r} "
                             "(code, markdown ou raw attendus)")
        if not (isinstance(source, str) or (isinstance(source, list)
                                            and all(isinstance(line, str) for line in source))):
            raise Unreadable(f"notebook mal formé : le texte de la cellule n° {number} est de type "
                             f"{type(source).__name__}")


def read_submission(path: Path):
    """Lit une copie ; lève :class:`Unreadable` avec la raison en français.

    Un notebook au format 4 ou 3 (ancien Jupyter, converti) est accepté ; sinon la raison dit
    ce qui ne va pas : taille, encodage, JSON invalide ou trop imbriqué, version, types.
    """
    import nbformat

    if not path.is_file():
        raise Unreadable("ce n'est pas un fichier ordinaire")
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise Unreadable(f"fichier de {size / 2**20:.0f} Mo, au-delà de la limite de "
                         f"{MAX_NOTEBOOK_BYTES >> 20} Mo")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Unreadable("le fichier n'est pas du texte UTF-8 (est-ce bien un .ipynb ?)") from None
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise Unreadable(f"JSON imbriqué sur plus de {MAX_JSON_DEPTH} niveaux : ce n'est pas un "
                         "notebook (un notebook en a moins de 10)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise Unreadable(f"JSON invalide ({error.msg}, ligne {error.lineno}, colonne {error.colno}) : "
                         "fichier tronqué ou abîmé") from None
    except RecursionError:
        raise Unreadable("JSON trop imbriqué pour être lu : ce n'est pas un notebook") from None
    if not isinstance(data, dict):
        raise Unreadable(f"le JSON ne décrit pas un notebook (un objet était attendu, reçu : "
                         f"{type(data).__name__})")
    version = data.get("nbformat")
    if version == 3 or (version is None and "worksheets" in data):
        worksheets = data.get("worksheets")
        if not isinstance(worksheets, list) or not all(isinstance(w, dict) for w in worksheets):
            raise Unreadable("notebook au format 3 mal formé (« worksheets » n'est pas une liste)")
        for sheet in worksheets:
            _check_cells(sheet.get("cells", []))
    elif version in (4, None):
        if "cells" not in data:
            raise Unreadable("le JSON ne décrit pas un notebook (pas de liste de cellules)")
        _check_cells(data["cells"])
    else:
        raise Unreadable(f"format de notebook {version!r} inconnu (formats 3 et 4 acceptés)")
    try:
        nb = nbformat.reads(text, as_version=4)
        _check_cells([dict(cell) for cell in nb.cells])
    except Unreadable:
        raise
    except Exception as error:  # noqa: BLE001 - tout défaut de format donne le même verdict
        raise Unreadable(f"notebook mal formé ({type(error).__name__} : "
                         f"{str(error).splitlines()[0] if str(error) else ''})") from None
    for cell in nb.cells:   # les sources en liste de lignes (format 3) deviennent des textes
        if isinstance(cell.source, list):
            cell.source = "".join(cell.source)
    return nb


def identify(nb, labs: list[LabSpec]) -> tuple[LabSpec | None, float]:
    """Le lab dont la copie reprend le plus de cellules, et la part de ses cellules retrouvées.

    Les cellules d'énoncé, de démarrage et de vérification ne changent pas d'une copie à
    l'autre : une copie reprend presque toutes celles de son lab, et peu des autres.
    """
    present = {c.source.strip() for c in nb.cells}
    scored = [(sum(s in present for s in lab.cells) / len(lab.cells), lab) for lab in labs]
    score, lab = max(scored, key=lambda pair: pair[0])
    return (lab, score) if score >= 0.4 else (None, score)


#: Ce qu'une copie honnête n'a aucune raison d'écrire : redéfinir une vérification ou les
#: gestionnaires d'erreurs du noyau, toucher aux modules chargés ou aux fichiers du cours. Le
#: correcteur ne peut pas l'empêcher (le code de l'étudiant tourne dans le même noyau que les
#: vérifications) : il le signale dans le rapport, pour qu'on relise la copie.
SUSPICIOUS = {
    "une vérification (check_…) redéfinie": re.compile(r"\bdef\s+check_\w+|\bcheck_\w+\s*=[^=]"
                                                       r"|\butils\.checks\.\w+\s*=[^=]"),
    "le module des vérifications": re.compile(r"\butils\.checks\b(?!\s+import)|import\s+utils\.checks"),
    "set_custom_exc": re.compile(r"set_custom_exc"),
    "sys.modules": re.compile(r"\bsys\.modules\b"),
    "builtins": re.compile(r"\b__builtins__\b|\bimport\s+builtins\b"),
    "sys.excepthook ou settrace": re.compile(r"\bsys\.(excepthook|settrace|setprofile)\b"),
    "os._exit ou un signal": re.compile(r"\bos\._exit\b|\bos\.kill\b|\bsignal\."),
    "ctypes": re.compile(r"\bctypes\b"),
    "les fichiers du cours": re.compile(r"\bsolutions/|02_labs|\.\./|\butils/|GANS_GRADING_ROOT"),
}


def suspicious_cells(nb, lab: LabSpec) -> list[str]:
    """Les cellules de la copie (modifiées ou ajoutées par l'étudiant) qui touchent à ce que
    :data:`SUSPICIOUS` énumère : une remarque par cellule, « cellule n° k : … »."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.source.strip() in lab.cells:
            continue
        hits = [what for what, pattern in SUSPICIOUS.items() if pattern.search(cell.source)]
        if hits:
            found.append(f"à relire, cellule n° {index + 1} : touche à {', '.join(hits)}")
    return found


@dataclass
class Plan:
    """Ce qui sera exécuté : le notebook préparé et, pour chaque exercice, ses deux cellules."""

    nb: object
    cells: dict[int, tuple[int | None, int | None]]   # numéro -> (cellule exercice, vérification)
    notes: list[str] = field(default_factory=list)


def prepare(nb, lab: LabSpec, checks_only: bool = False) -> Plan:
    """Rétablit les cellules de vérification du lab et efface les sorties de la copie.

    Une vérification modifiée retrouve le texte du lab ; une vérification effacée est remise
    juste après la cellule de l'exercice. Une cellule d'exercice introuvable (première ligne
    « # Exercice N : ... » effacée) laisse l'exercice « non tenté ». ``checks_only`` : le
    notebook s'arrête à la dernière vérification (les cellules suivantes sont retirées).
    """
    import nbformat

    nb = nbformat.from_dict(json.loads(json.dumps(nb)))   # copie profonde
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    notes = []
    for exercise in lab.exercises:
        index = _exercise_cell(nb, exercise.number)
        if index is None:
            continue
        end = _exercise_cell(nb, exercise.number + 1, start=index + 1) or len(nb.cells)
        check = next((i for i in range(index + 1, end) if nb.cells[i].cell_type == "code"
                      and re.search(rf"\b{exercise.check_name}\s*\(", nb.cells[i].source)), None)
        if check is None:
            nb.cells.insert(index + 1, nbformat.v4.new_code_cell(exercise.check_source))
            notes.append(f"exercice {exercise.number} : cellule de vérification absente, rétablie")
        elif nb.cells[check].source.strip() != exercise.check_source.strip():
            nb.cells[check].source = exercise.check_source
            notes.append(f"exercice {exercise.number} : cellule de vérification modifiée, rétablie")
    cells = {}
    for exercise in lab.exercises:
        index = _exercise_cell(nb, exercise.number)
        if index is None:
            cells[exercise.number] = (None, None)
            continue
        check = next(i for i in range(index + 1, len(nb.cells)) if nb.cells[i].cell_type == "code"
                     and nb.cells[i].source.strip() == exercise.check_source.strip())
        cells[exercise.number] = (index, check)
    if checks_only:
        last = max((c for _, c in cells.values() if c is not None), default=-1)
        del nb.cells[last + 1:]
    return Plan(nb, cells, notes)


def _exercise_cell(nb, number: int, start: int = 0) -> int | None:
    for index in range(start, len(nb.cells)):
        cell = nb.cells[index]
        match = EXERCISE_RE.match(_first_line(cell.source)) if cell.cell_type == "code" else None
        if match and int(match.group(1)) == number:
            return index
    return None


# --- la copie du cours et le bac à sable ---------------------------------------------------

#: Ce que la copie temporaire du cours reprend (``02_labs/`` ne contient que la copie notée).
COPIED = ("utils", "data", "pyproject.toml")

#: Garde chargée au démarrage du noyau : refuse, au niveau de Python, d'écrire, d'effacer ou de
#: lancer un programme hors de la copie. Elle ne voit pas le code natif : le vrai rempart,
#: sous Linux, est bubblewrap ; sans lui, c'est la seule protection.
GUARD = r'''
def _gans_guard():
    import os
    import sys

    root = os.path.realpath(os.environ["GANS_GRADING_ROOT"])
    allowed = (root, "/dev/null")
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    paths_events = {"os.remove": 1, "os.rmdir": 1, "shutil.rmtree": 1, "os.mkdir": 1,
                    "os.chmod": 1, "os.chown": 1, "os.utime": 1, "os.truncate": 1,
                    "os.rename": 2, "os.link": 2, "os.symlink": 2}
    banned = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
              "os.fork", "os.forkpty", "pty.spawn"}

    def inside(path):
        if isinstance(path, int):
            return True
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return any(real == a or real.startswith(a + os.sep) for a in allowed)

    def refuse(what, path=""):
        raise PermissionError(f"Correcteur : {what} interdit pendant la correction"
                              + (f" hors de la copie ({path})" if path else ""))

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(mode, str) and any(m in mode for m in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & write_flags)
            if writes and not inside(path):
                refuse("écrire", path)
        elif event in paths_events:
            for path in args[:paths_events[event]]:
                if not inside(path):
                    refuse(event, path)
        elif event in banned:
            refuse(f"lancer un programme ({event})")
        elif event in ("socket.connect", "socket.sendto"):
            address = args[1]
            host = address[0] if isinstance(address, tuple) else ""
            if not str(host).startswith("127.") and host not in ("localhost", "::1"):
                refuse("le réseau")

    sys.addaudithook(hook)


_gans_guard()
del _gans_guard
'''


#: Fichiers de /etc dont un noyau Python a besoin (bibliothèques, fuseau, polices, utilisateurs) ;
#: le reste de /etc n'est pas visible dans le bac à sable.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group",
             "nsswitch.conf", "fonts", "alternatives", "ssl/certs")

#: Mémoire (espace d'adressage) d'une copie, noyau compris : au-delà, une allocation échoue
#: (« mémoire dépassée ») au lieu de faire ramer la machine. PyTorch importé en prend ~3,5 Go.
MAX_MEMORY_BYTES = 8 << 30


def sandbox_binds(dest: Path) -> list[str]:
    """Les arguments de bubblewrap : ce que voit le noyau d'une copie, et rien d'autre.

    En lecture seule : ``/usr`` (et les liens ``/bin``, ``/lib``...), quelques fichiers de
    ``/etc``, l'installation de Python et l'environnement virtuel. En écriture : ``dest``, la
    copie temporaire. Pas le cours d'origine, pas le dossier des copies, pas le dossier
    personnel, pas de réseau, pas de socket hors de la copie, pas les autres processus.
    """
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--dev", "/dev",
            "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    prefixes.add(Path(sys.executable).resolve().parent.parent)
    for prefix in sorted(prefixes):
        if not str(prefix).startswith("/usr"):
            args += ["--ro-bind", str(prefix), str(prefix)]
            if str(prefix) != os.path.realpath(prefix):
                args += ["--ro-bind", os.path.realpath(prefix), os.path.realpath(prefix)]
    args += ["--bind", str(dest), str(dest)]
    return args


def sandbox_available() -> bool:
    """``True`` si bubblewrap est là et marche sur cette machine (Linux), avec les montages du
    correcteur (un Python y démarre)."""
    if not shutil.which("bwrap"):
        return False
    with tempfile.TemporaryDirectory(prefix="gans-sonde-") as probe_dir:
        try:
            probe = subprocess.run(["bwrap", *sandbox_binds(Path(probe_dir)), "--",
                                    sys.executable, "-c", "print('ok')"],
                                   capture_output=True, timeout=60, text=True)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return probe.returncode == 0 and probe.stdout.strip() == "ok"


def make_course_copy(dest: Path, lab: LabSpec, nb, quick: bool) -> Path:
    """Prépare dans ``dest`` une copie du cours où la copie notée prend la place de son lab.

    Renvoie le chemin du notebook à exécuter. ``outputs/`` ne reprend que les derniers
    échantillons et générateurs enregistrés (ceux du mode demandé), que d'autres jours relisent.
    """
    import nbformat

    course_dir = dest / "cours"
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, course_dir / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            shutil.copy2(source, course_dir / name)
    outputs = ROOT / "outputs" / ("rapide" if quick else "")
    if outputs.is_dir():
        for folder in outputs.iterdir():
            if folder.is_dir() and folder.name not in ("rapide", "precedent") and not folder.is_symlink():
                for item in folder.iterdir():
                    if item.is_file() and not item.is_symlink():
                        target = course_dir / "outputs" / ("rapide" if quick else "") / folder.name
                        target.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(item, target / item.name)
    notebook = course_dir / "02_labs" / lab.path
    notebook.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, notebook)
    home = dest / "maison"
    startup = home / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-garde-correcteur.py").write_text(GUARD, encoding="utf-8")
    for sub in ("tmp", "mpl", "runtime", "cache", "torch"):
        (home / sub).mkdir()
    try:   # le cache de polices de matplotlib, pour ne pas le reconstruire à chaque copie
        import matplotlib

        for cached in Path(matplotlib.get_cachedir()).glob("fontlist*.json"):
            shutil.copy2(cached, home / "mpl" / cached.name)
    except Exception:  # noqa: BLE001 - sans cache, matplotlib le reconstruit
        pass
    return notebook


def sandbox_env(dest: Path, quick: bool, threads: int | None) -> dict:
    """L'environnement du processus d'exécution : tout ce qui s'écrit reste dans ``dest``."""
    home = dest / "maison"
    env = {key: value for key, value in os.environ.items()
           if key in ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "VIRTUAL_ENV", "GANS_DEVICE",
                      "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env.update({
        "HOME": str(home), "TMPDIR": str(home / "tmp"), "MPLCONFIGDIR": str(home / "mpl"),
        "IPYTHONDIR": str(home / "ipython"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "XDG_CACHE_HOME": str(home / "cache"), "TORCH_HOME": str(home / "torch"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter"), "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
        "PYTHONPATH": str(dest / "cours"), "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "GANS_QUICK": "1" if quick else "0", "GANS_GRADING_ROOT": str(dest),
    })
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    # Sur une machine à beaucoup de cœurs, un fil de calcul et une réserve malloc par cœur
    # prendraient des Go d'espace d'adressage sous la limite de mémoire : quatre fils au plus
    # (les réseaux du mode rapide n'en tirent pas davantage), deux réserves malloc.
    env.setdefault("OMP_NUM_THREADS", str(min(os.cpu_count() or 1, 4)))
    env.setdefault("MKL_NUM_THREADS", env["OMP_NUM_THREADS"])
    env["MALLOC_ARENA_MAX"] = "2"
    return env


def _limit_resources(memory: bool = True):
    """Dans le processus d'exécution, hérité par le noyau : taille d'un fichier écrit et, dans le
    bac à sable (où aucun GPU n'est visible), mémoire. Hors du bac à sable, la mémoire n'est pas
    limitée : l'espace d'adressage que réserve CUDA dépasserait n'importe quelle limite utile."""
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (MAX_MEMORY_BYTES, MAX_MEMORY_BYTES))


def _kill_tree(process: subprocess.Popen) -> None:
    """Arrête le processus d'exécution et tout ce qu'il a lancé (le noyau a sa propre session)."""
    try:
        import psutil

        parent = psutil.Process(process.pid)
        family = parent.children(recursive=True) + [parent]
        for proc in family:
            try:
                proc.kill()
            except psutil.Error:
                pass
    except Exception:  # noqa: BLE001 - psutil absent ou processus déjà fini
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
    process.wait()


#: Au-delà, les événements d'une copie ne sont plus lus (le processus d'exécution les résume :
#: quelques centaines d'octets par cellule).
MAX_EVENTS_BYTES = 4 << 20


def run_in_sandbox(notebook: Path, dest: Path, limit: float, quick: bool, sandbox: bool,
                   threads: int | None = None, log_dir: Path | None = None) -> tuple[list[dict], str, str]:
    """Exécute le notebook préparé ; renvoie les événements des cellules, le statut et le journal.

    Le processus d'exécution (ce script, ``--executer``) tourne hors du bac à sable : il lance
    le noyau, lui seul enfermé (bubblewrap), et envoie ses événements par un tube que le noyau
    ne peut pas atteindre (descripteur non hérité, autre espace de processus). Rien n'est relu
    de la copie, où le noyau peut écrire. Le statut vaut ``GRADED`` quand l'exécution est allée
    à son terme, ``TIMED_OUT``, ``KERNEL_DIED`` ou ``GRADER_ERROR`` sinon.
    """
    import threading

    log_path = (log_dir or dest.parent) / f"{dest.name}-journal.txt"
    read_end, write_end = os.pipe()
    command = [sys.executable, str(Path(__file__).resolve()), "--executer", str(notebook),
               str(write_end), str(dest), "1" if sandbox else "0"]
    chunks: list[bytes] = []

    def collect():
        size = 0
        with os.fdopen(read_end, "rb") as stream:
            for chunk in iter(lambda: stream.read(65536), b""):
                if size < MAX_EVENTS_BYTES:
                    chunks.append(chunk)
                size += len(chunk)

    reader = threading.Thread(target=collect, daemon=True)
    status = GRADED
    with open(log_path, "wb") as log:
        try:
            process = subprocess.Popen(command, cwd=dest, env=sandbox_env(dest, quick, threads),
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True,
                                       preexec_fn=functools.partial(_limit_resources, sandbox),
                                       pass_fds=(write_end,))
        finally:
            os.close(write_end)
        reader.start()
        try:
            code = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_tree(process)
            status = TIMED_OUT
        else:
            _kill_tree(process)   # un noyau orphelin éventuel
            if code != 0:
                status = GRADER_ERROR
    reader.join(timeout=30)
    events = []
    for line in b"".join(chunks).decode("utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            break   # dernière ligne coupée par l'arrêt
        if isinstance(event, dict):
            events.append(event)
    if any(e.get("event") == "dead" for e in events):
        status = KERNEL_DIED
    elif status == GRADER_ERROR and events and events[-1].get("event") == "end":
        status = GRADED
    with open(log_path, "rb") as log:
        log.seek(max(0, log_path.stat().st_size - 4000))
        tail = log.read().decode("utf-8", errors="replace")
    with contextlib.suppress(OSError):
        log_path.unlink()
    return events, status, tail


# --- le processus d'exécution (hors du bac à sable ; seul le noyau y est) -------------------

def _kernel_manager(dest: Path, sandbox: bool, cwd: Path):
    """Le gestionnaire du noyau d'une copie : sous bubblewrap, le noyau ne communique que par des
    sockets Unix (transport « ipc ») placées dans la copie, seule visible pour lui."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    launch = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if sandbox:
        # Dans son espace de processus, le parent du noyau est bubblewrap (pid 1) : sans
        # parent_handle=1, ipykernel croirait son parent mort et s'arrêterait. --die-with-parent
        # arrête le noyau si le processus d'exécution meurt.
        launch = ["bwrap", *sandbox_binds(dest), "--chdir", str(cwd), "--", *launch,
                  "--IPKernelApp.parent_handle=1"]

    class Specs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(argv=launch, display_name="Python 3 (correction)", language="python")

    options = {"kernel_name": "python3", "kernel_spec_manager": Specs()}
    if sandbox:
        ipc = dest / "maison" / "ipc"
        ipc.mkdir(parents=True, exist_ok=True)
        options.update(transport="ipc", ip=str(ipc / "k"),
                       connection_file=str(dest / "maison" / "runtime" / "noyau.json"))
    return AsyncKernelManager(**options)


def execute(notebook: Path, events_fd: int, dest: Path, sandbox: bool) -> int:
    """Exécute le notebook cellule par cellule et écrit un événement par cellule (JSON Lines)
    dans le descripteur ``events_fd``, hérité du correcteur et fermé pour le noyau.

    Une erreur dans une cellule n'arrête pas l'exécution : les exercices suivants sont notés
    quand même. Les sorties d'une cellule sont résumées (erreur, lignes ✅ et ❌) puis oubliées,
    et plafonnées pendant l'exécution : une copie qui imprime des mégaoctets ne remplit ni la
    mémoire ni le disque.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    os.set_inheritable(events_fd, False)

    class CappedClient(NotebookClient):
        async def _check_raise_for_error(self, cell, cell_index, exec_reply):
            # La réponse du noyau dit si la cellule a levé une erreur, même quand un gestionnaire
            # (get_ipython().set_custom_exc) en a caché la sortie et imprimé un faux ✅.
            content = (exec_reply or {}).get("content", {})
            if content.get("status") == "error":
                self._replies[cell_index] = {"ename": str(content.get("ename", "Erreur")),
                                             "evalue": _clip(content.get("evalue", ""))}
            return await super()._check_raise_for_error(cell, cell_index, exec_reply)

        def output(self, outs, msg, display_id, cell_index):
            self._sizes[cell_index] = self._sizes.get(cell_index, 0) + len(json.dumps(msg["content"]))
            if self._sizes[cell_index] > MAX_OUTPUT_BYTES and msg["msg_type"] != "error":
                self._capped.add(cell_index)
                return None
            return super().output(outs, msg, display_id, cell_index)

    nb = nbformat.read(notebook, as_version=4)
    client = CappedClient(nb, km=_kernel_manager(dest, sandbox, notebook.parent),
                          timeout=None, allow_errors=True,
                          resources={"metadata": {"path": str(notebook.parent)}})
    client._sizes, client._capped, client._replies = {}, set(), {}
    with os.fdopen(events_fd, "w", encoding="utf-8") as events:
        def emit(**event):
            events.write(json.dumps(event, ensure_ascii=False) + "\n")
            events.flush()

        # Le noyau n'hérite ni du tube des événements ni du journal : sorties vers /dev/null.
        with client.setup_kernel(stdout=subprocess.DEVNULL, stderr=None if os.environ.get("GANS_DEBUG") else subprocess.DEVNULL):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                emit(event="start", cell=index)
                try:
                    client.execute_cell(cell, index)
                except DeadKernelError:
                    emit(event="dead", cell=index)
                    return 0
                summary = summarize_outputs(cell.outputs)
                if summary["error"] is None and index in client._replies:
                    summary["error"] = client._replies[index]
                    summary["verdicts"] = []   # un ✅ imprimé par un gestionnaire ne compte pas
                emit(event="done", cell=index, capped=index in client._capped, **summary)
                cell.outputs = []
        emit(event="end")
    return 0


def summarize_outputs(outputs) -> dict:
    """Ce que le correcteur garde d'une cellule : l'erreur, et les lignes de verdict."""
    error, verdict_lines = None, []
    for out in outputs:
        if out.output_type == "error":
            error = {"ename": out.ename, "evalue": _clip(out.evalue)}
        elif out.output_type == "stream":
            verdict_lines += [line for line in out.text.splitlines() if line.startswith(("✅", "❌"))]
        elif out.output_type in ("display_data", "execute_result"):
            text = out.get("data", {}).get("text/plain", "")
            verdict_lines += [line for line in str(text).splitlines() if line.startswith(("✅", "❌"))]
    return {"error": error, "verdicts": [_clip(line, 300) for line in verdict_lines[:20]]}


def _clip(text: str, size: int = MAX_MESSAGE) -> str:
    text = str(text)
    return text if len(text) <= size else text[:size] + " […]"


# --- les verdicts --------------------------------------------------------------------------

@dataclass
class Result:
    """La note d'une copie."""

    file: str
    lab: LabSpec | None = None
    status: str = GRADED
    reason: str = ""
    seconds: float = 0.0
    verdicts: dict[int, tuple[str, str]] = field(default_factory=dict)   # numéro -> (verdict, message)
    other_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(v == PASSED for v, _ in self.verdicts.values())


#: Ce qui, dans une erreur, dit que la copie a dépassé sa mémoire (MAX_MEMORY_BYTES).
MEMORY_ERRORS = re.compile(r"MemoryError|can't allocate memory|Cannot allocate memory|bad_alloc")


def _error_line(error: dict) -> str:
    """La dernière ligne d'une erreur, comme Python l'affiche : « Type: message » ; précédée de
    « mémoire dépassée » quand la copie a voulu plus que sa limite."""
    lines = [line for line in str(error["evalue"]).splitlines() if line.strip()]
    line = f"{error['ename']}: {lines[-1] if lines else ''}".strip()
    if MEMORY_ERRORS.search(line):
        return f"mémoire dépassée (limite de {MAX_MEMORY_BYTES >> 30} Go par copie) : {line}"
    return line


def _is_stub(error: dict | None) -> bool:
    if not error:
        return False
    return (error["ename"] == "NotImplementedError"
            or (error["ename"] == "CheckError" and "lève encore NotImplementedError" in error["evalue"]))


def judge(plan: Plan, lab: LabSpec, events: list[dict], status: str, limit: float) -> Result:
    """Donne son verdict à chaque exercice d'après les événements des cellules."""
    result = Result(file="", lab=lab, status=status, notes=list(plan.notes))
    done = {e["cell"]: e for e in events if e.get("event") == "done"}
    started = {e["cell"] for e in events if e.get("event") == "start"}
    stopped_at = next((c for c in sorted(started) if c not in done), None)
    why = {TIMED_OUT: f"temps limite de {limit:.0f} s dépassé",
           KERNEL_DIED: "le noyau s'est arrêté (mémoire épuisée, code natif planté ou sortie "
                        "forcée du processus)",
           GRADER_ERROR: "l'exécution s'est interrompue"}.get(status, "l'exécution s'est interrompue")

    def unfinished(cell: int) -> str | None:
        if cell in done:
            return None
        if cell == stopped_at:
            return f"{why} pendant cette cellule"
        return f"non exécutée : {why} avant"

    for exercise in lab.exercises:
        ex_cell, check_cell = plan.cells[exercise.number]
        if ex_cell is None:
            result.verdicts[exercise.number] = (
                NOT_ATTEMPTED, f"cellule « # Exercice {exercise.number} : … » introuvable dans la copie")
            continue
        problem = unfinished(ex_cell)
        if problem:
            result.verdicts[exercise.number] = (CRASHED, f"cellule de l'exercice {problem}")
            continue
        error = done[ex_cell]["error"]
        if _is_stub(error):
            result.verdicts[exercise.number] = (NOT_ATTEMPTED, "")
            continue
        if error:
            result.verdicts[exercise.number] = (CRASHED, _error_line(error))
            continue
        problem = unfinished(check_cell)
        if problem:
            result.verdicts[exercise.number] = (CRASHED, f"vérification {problem}")
            continue
        error = done[check_cell]["error"]
        if _is_stub(error):
            result.verdicts[exercise.number] = (NOT_ATTEMPTED, "")
        elif error and error["ename"] == "CheckError":
            result.verdicts[exercise.number] = (FAILED, str(error["evalue"]).removeprefix("❌ ").strip())
        elif error:
            result.verdicts[exercise.number] = (CRASHED, _error_line(error))
        elif any(line.startswith("✅") for line in done[check_cell]["verdicts"]):
            result.verdicts[exercise.number] = (PASSED, "")
        else:
            result.verdicts[exercise.number] = (
                FAILED, "la vérification s'est terminée sans afficher son verdict ✅")
    graded = {c for pair in plan.cells.values() for c in pair if c is not None}
    for cell, event in sorted(done.items()):
        if cell not in graded and event["error"]:
            result.other_errors.append(f"cellule n° {cell + 1} : {_error_line(event['error'])}")
        if event.get("capped"):
            result.notes.append(f"cellule n° {cell + 1} : sorties tronquées au-delà de "
                                f"{MAX_OUTPUT_BYTES // 1000} ko")
    if status != GRADED:
        result.reason = why if stopped_at is None else f"{why} (cellule n° {stopped_at + 1})"
    return result


def grade_one(path: Path, labs: list[LabSpec], limit: float, quick: bool, sandbox: bool,
              workdir: Path, threads: int | None = None, checks_only: bool = False) -> Result:
    """Note une copie de bout en bout ; ne lève pas d'exception pour une copie défectueuse."""
    start = time.monotonic()
    try:
        nb = read_submission(path)
    except (Unreadable, OSError) as error:
        return Result(file=str(path), status=UNREADABLE, reason=str(error),
                      seconds=time.monotonic() - start)
    lab, score = identify(nb, labs)
    if lab is None:
        return Result(file=str(path), status=UNKNOWN_LAB,
                      reason=f"ne ressemble à aucun lab du cours ({score:.0%} des cellules du plus "
                             "proche retrouvées)", seconds=time.monotonic() - start)
    plan = prepare(nb, lab, checks_only)
    plan.notes += suspicious_cells(nb, lab)
    dest = Path(tempfile.mkdtemp(prefix="copie-", dir=workdir))
    try:
        notebook = make_course_copy(dest, lab, plan.nb, quick)
        events, status, log_tail = run_in_sandbox(notebook, dest, limit, quick, sandbox, threads)
        result = judge(plan, lab, events, status, limit)
        if status == GRADER_ERROR and not events:
            last = [line for line in log_tail.splitlines() if line.strip()]
            result.reason = "le notebook n'a pas pu être lancé : " + (last[-1] if last else "?")
    finally:
        _remove(dest)
    result.file, result.seconds = str(path), time.monotonic() - start
    return result


def _unlock(base: str, target: str) -> None:
    """Rend les droits au dossier de ``target`` et à ``target``, s'ils sont de vrais dossiers ou
    fichiers sous ``base`` : jamais à la cible d'un lien, jamais hors de la copie."""
    for item in (os.path.dirname(target), target):
        if os.path.islink(item) or not (os.path.realpath(item) + os.sep).startswith(base):
            continue
        with contextlib.suppress(OSError):
            os.chmod(item, 0o700)


def _remove(path: Path) -> None:
    """Efface une copie temporaire, même si le notebook a retiré des droits sur ses dossiers.

    Ne suit jamais un lien : ``rmtree`` efface le lien lui-même, et les droits ne sont rendus
    qu'à de vrais dossiers et fichiers de la copie (:func:`_unlock`).
    """
    base = os.path.realpath(path) + os.sep

    def retry(function, target, _):
        _unlock(base, target)
        with contextlib.suppress(OSError):
            function(target)
    shutil.rmtree(path, onerror=retry)


# --- le CSV et le rapport ------------------------------------------------------------------

def write_csv(results: list[Result], path: Path) -> None:
    """Une ligne par copie, une colonne par exercice (verdicts), séparateur virgule, UTF-8."""
    width = max((len(r.lab.exercises) for r in results if r.lab), default=0)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["copie", "jour", "lab", "statut", "réussis", "exercices", "durée (s)",
                         *[f"exercice {n}" for n in range(1, width + 1)], "remarque"])
        for r in results:
            verdicts = [r.verdicts[n][0] if n in r.verdicts else "" for n in range(1, width + 1)]
            writer.writerow([r.file, r.lab.day if r.lab else "", r.lab.path if r.lab else "", r.status,
                             r.passed if r.lab else "", len(r.lab.exercises) if r.lab else "",
                             f"{r.seconds:.1f}", *verdicts, r.reason])


def _md(text: str) -> str:
    """Un texte du correcteur sur une ligne Markdown : sans retour à la ligne, ni balise HTML, ni
    mise en forme Markdown involontaire."""
    text = str(text).replace("\r", " ").replace("\n", " ").strip()
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#!~])", r"\\\1", text)


def _code(text: str, table: bool = False) -> str:
    """Ce qui vient d'une copie (nom de fichier, message, erreur), montré comme du code : ni HTML
    ni Markdown n'y sont interprétés, quelle que soit la suite de caractères."""
    text = str(text).replace("\r", " ").replace("\n", " ").strip()
    if table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if not text or text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def count_line(results: list[Result], others: int = 0, pending: int = 0) -> str:
    """Le décompte de la classe, le même dans le terminal et dans le rapport."""
    graded = sum(1 for r in results if r.lab)
    line = (f"{len(results)} copie(s) lue(s) : {graded} notée(s), {len(results) - graded} "
            "illisible(s) ou d'un lab inconnu")
    if pending:
        line += f", {pending} à venir"
    if others:
        line += f" ; {others} autre(s) fichier(s) ignoré(s) (ignores.txt)"
    return line


def write_report(results: list[Result], path: Path, info: dict, pending: int = 0) -> None:
    """Le rapport lisible : réglages, tableau de la classe, puis le détail de chaque copie."""
    lines = ["# Correction des labs", "",
             f"- Copies : {_code(info['folder'])} ; "
             + count_line(results, info.get("others", 0), pending),
             f"- Mode : {'complet' if not info['quick'] else 'rapide'} ; limite de temps par copie : "
             f"{info['limit']:.0f} s ; isolation : {info['isolation']}"
             + (" ; notebooks arrêtés après la dernière vérification" if info.get("checks_only") else ""),
             f"- Date : {info['date']}", "",
             "Légende : ✅ réussi · ❌ échoué · ⬜ non tenté · 💥 planté", ""]
    by_lab: dict[str, list[Result]] = {}
    for r in results:
        by_lab.setdefault(r.lab.path if r.lab else "", []).append(r)
    for lab_path, group in by_lab.items():
        if not lab_path:
            continue
        lab = group[0].lab
        lines += [f"## Jour {lab.day} : {lab.title} (`{lab.path}`)", ""]
        header = ["copie", *[f"ex. {e.number}" for e in lab.exercises], "réussis", "statut", "durée"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in group:
            cells = [SYMBOLS[r.verdicts[e.number][0]] for e in lab.exercises]
            lines.append(f"| {_code(r.file, table=True)} | " + " | ".join(cells)
                         + f" | {r.passed}/{len(lab.exercises)} | {r.status} | {r.seconds:.0f} s |")
        lines.append("")
        lines += ["Réussites par exercice : " + " ; ".join(
            f"{e.number}. {e.title} : {sum(r.verdicts[e.number][0] == PASSED for r in group)}/{len(group)}"
            for e in lab.exercises), ""]
    unread = by_lab.get("", [])
    if unread:
        lines += ["## Copies non notées", ""]
        lines += [f"- {_code(r.file)} : **{r.status}**, {_md(r.reason)}" for r in unread]
        lines.append("")
    lines += ["## Détail des copies", ""]
    for r in results:
        if not r.lab:
            continue
        lines += [f"### {_code(r.file)}", "",
                  f"Jour {r.lab.day}, `{r.lab.path}` : {r.passed}/{len(r.lab.exercises)} réussis, "
                  f"statut **{r.status}**" + (f" ({_md(r.reason)})" if r.reason else "")
                  + f", {r.seconds:.0f} s.", ""]
        for exercise in r.lab.exercises:
            verdict, message = r.verdicts[exercise.number]
            lines.append(f"- {SYMBOLS[verdict]} Exercice {exercise.number} ({exercise.title}) : "
                         f"**{verdict}**" + (f" — {_code(message)}" if message else ""))
        for error in r.other_errors[:3]:
            lines.append(f"- Autre erreur, {_code(error)}")
        if len(r.other_errors) > 3:
            lines.append(f"- … et {len(r.other_errors) - 3} autres cellules en erreur (souvent la "
                         "suite d'un exercice non fait)")
        for note in r.notes:
            lines.append(f"- Remarque : {_md(note)}")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- la commande ---------------------------------------------------------------------------

class GradingError(Exception):
    """Une erreur d'usage du correcteur (dossier absent, sortie déjà remplie...)."""


def find_submissions(folder: Path) -> tuple[list[Path], list[Path]]:
    """Les notebooks du dossier (sous-dossiers compris, hors points de sauvegarde de Jupyter)
    et les autres fichiers, ignorés."""
    notebooks, others = [], []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") for p in parts) or not path.is_file() or path.is_symlink():
            continue
        (notebooks if path.suffix.lower() == ".ipynb" else others).append(path)
    return notebooks, others


def grade_folder(folder: Path, output: Path, *, quick: bool = True, limit: float = 600,
                 overwrite: bool = False, sandbox: bool | None = None, threads: int | None = None,
                 checks_only: bool = False, progress: bool = True) -> list[Result]:
    """Note toutes les copies de ``folder`` et écrit ``notes.csv`` et ``rapport.md`` dans ``output``."""
    folder, output = folder.resolve(), output.resolve()
    if not folder.is_dir():
        raise GradingError(f"Le dossier des copies {folder} n'existe pas.")
    if output == folder or folder in output.parents:
        raise GradingError("Choisissez pour --sortie un dossier hors du dossier des copies.")
    protected = [ROOT / name for name in (*COPIED, "solutions", "02_labs", "01_cours", "tools", "tests")]
    if output == ROOT or output in ROOT.parents or any(
            output == p or p in output.parents for p in protected):
        raise GradingError(f"--sortie {output} désigne un dossier du cours : choisissez un dossier à part.")
    existing = [p for p in (output / "notes.csv", output / "rapport.md") if p.exists()]
    if existing and not overwrite:
        raise GradingError(f"{output} contient déjà des notes ({', '.join(p.name for p in existing)}) : "
                           "choisissez un autre dossier avec --sortie, ou ajoutez --ecraser pour "
                           "les remplacer.")
    notebooks, others = find_submissions(folder)
    if not notebooks:
        raise GradingError(f"Aucun notebook (.ipynb) dans {folder}.")
    if sandbox is None:
        sandbox = sandbox_available()
    labs = course_labs()
    output.mkdir(parents=True, exist_ok=True)
    info = {"folder": str(folder), "quick": quick, "limit": limit, "checks_only": checks_only,
            "others": len(others),
            "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
            "isolation": ("bubblewrap (le noyau ne voit que sa copie et Python, sans réseau ni socket, "
                          f"{MAX_MEMORY_BYTES >> 30} Go de mémoire) et garde Python")
                         if sandbox else "garde Python seulement (bubblewrap absent)"}
    if others:
        (output / "ignores.txt").write_text(
            "Fichiers du dossier des copies qui ne sont pas des notebooks, ignorés :\n"
            + "".join(f"{p}\n" for p in others), encoding="utf-8")
    from tqdm.auto import tqdm

    results = []
    with tempfile.TemporaryDirectory(prefix="gans-correction-") as workdir:
        bar = tqdm(notebooks, desc="Correction", unit="copie", disable=not progress,
                   file=sys.stderr)
        for path in bar:
            bar.set_postfix_str(path.name[:30])
            result = grade_one(path, labs, limit, quick, sandbox, Path(workdir), threads, checks_only)
            result.file = str(path.relative_to(folder))
            results.append(result)
            write_csv(results, output / "notes.csv")
            write_report(results, output / "rapport.md", info, pending=len(notebooks) - len(results))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Note un dossier de labs rendus : chaque copie est exécutée à part, dans une "
                    "copie du cours, et chaque exercice reçoit un verdict (réussi, échoué, non "
                    "tenté, planté). Écrit notes.csv et rapport.md.")
    parser.add_argument("copies", type=Path, nargs="?", help="dossier des notebooks rendus")
    parser.add_argument("--sortie", type=Path,
                        help="dossier des résultats (par défaut : <copies>_notes à côté des copies)")
    parser.add_argument("--complet", action="store_true",
                        help="mode complet (vrais entraînements : plusieurs minutes par copie sur CPU)")
    parser.add_argument("--limite", type=float, default=None,
                        help="limite de temps par copie, en secondes (défaut : 300 en mode rapide, "
                             "1800 en mode complet)")
    parser.add_argument("--verifications-seulement", action="store_true",
                        help="arrête chaque notebook après sa dernière vérification (plus rapide ; "
                             "les cellules suivantes, entraînement final compris, ne sont pas lancées)")
    parser.add_argument("--ecraser", action="store_true",
                        help="remplace les notes déjà présentes dans le dossier de sortie")
    parser.add_argument("--sans-bac-a-sable", action="store_true",
                        help="n'utilise pas bubblewrap même s'il est là (déconseillé)")
    parser.add_argument("--executer", nargs=4, metavar=("NOTEBOOK", "DESCRIPTEUR", "COPIE", "BAC"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.executer:
        notebook, fd, dest, sandbox = args.executer
        return execute(Path(notebook), int(fd), Path(dest), sandbox == "1")
    if args.copies is None:
        parser.error("indiquez le dossier des copies (python tools/grade.py COPIES/)")
    output = args.sortie or args.copies.resolve().parent / f"{args.copies.resolve().name}_notes"
    limit = args.limite or (1800.0 if args.complet else 300.0)
    sandbox = False if args.sans_bac_a_sable else None
    if sandbox is None and not sandbox_available():
        print("⚠️  bubblewrap (bwrap) est absent ou ne fonctionne pas ici : les copies ne sont "
              "protégées que par la garde Python (voir le README). Sous Debian ou Ubuntu : "
              "sudo apt-get install bubblewrap.", file=sys.stderr)
    try:
        results = grade_folder(args.copies, output, quick=not args.complet, limit=limit,
                               overwrite=args.ecraser, sandbox=sandbox,
                               checks_only=args.verifications_seulement)
    except GradingError as error:
        print(f"❌ {error}", file=sys.stderr)
        return 2
    others = len(find_submissions(args.copies.resolve())[1])
    print(f"{count_line(results, others)} ; résultats dans {output}/notes.csv et {output}/rapport.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
