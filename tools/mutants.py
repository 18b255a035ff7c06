"""Éprouve les auto-vérifications du cours avec des réponses fausses générées (mutants).

Pour chaque exercice de chaque lab (``utils/course.py``), l'outil prend la réponse du corrigé
(le code entre ``### BEGIN SOLUTION`` et ``### END SOLUTION``), la modifie de mille petites façons
avec ``ast`` (une constante, une activation, une instruction retirée, un signe, ``mean`` ↔ ``sum``,
des arguments intervertis, une couche ajoutée ou ôtée, une entrée remplacée par du bruit, un
argument modifié sur place...) et passe chaque réponse ainsi faussée à la vérification de
l'exercice, appelée comme le notebook l'appelle, dans l'état du notebook à ce moment-là (les
cellules de code qui précèdent l'exercice, exécutées en mode rapide).

Chaque mutant finit :

* **tué** : la vérification le refuse (❌, ``CheckError``) ; son message est noté ;
* **planté** : une erreur à la cellule de l'exercice ou de sa vérification, que l'étudiant voit
  là où est sa faute ; compté comme tué, listé à part ;
* **survivant** : la vérification l'accepte (✅) ;
* **bloqué** : pas de verdict dans le temps imparti (compté avec les survivants) ;
* **équivalent** : il se comporte comme le corrigé ; chacun est listé, avec sa raison, dans
  ``tools/mutation/equivalents.tsv`` (fichier relu à la main) et n'est pas exécuté ;
* **non déclenché** : un mutant « entrée ignorée » ou « argument modifié sur place » dont
  l'argument n'est pas un tenseur (un réseau, un optimiseur, un entier) : il ne change rien.

Le score d'un exercice est la part des mutants tués (plantés compris) parmi les tués, les
survivants et les bloqués.

Les réponses justes écrites autrement (``tools/mutation/justes_autrement.py``) passent par le même
chemin : chacune doit recevoir ✅.

Chaque mutant tourne dans un processus fils (``fork``) : il ne peut ni abîmer l'état des suivants
ni bloquer l'outil. Un rapport Markdown par jour, ``tools/mutation/rapport_jour_NN.md``, donne les
comptes par exercice, chaque survivant, et le message reçu par chaque mutant tué ; son empreinte
(corrigés, vérifications, outil, équivalents, réponses justes) permet à un test de dire qu'il est
périmé.

Usage, depuis la racine du dépôt :

    python tools/mutants.py --day 2                 # un jour, son rapport réécrit
    python tools/mutants.py                         # tous les jours
    python tools/mutants.py --day 4 --exercise 2    # un exercice (rapport non écrit)
    python tools/mutants.py --day 2 --lister        # les mutants, sans les exécuter
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import io
import os
import pickle
import re
import select
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTATION_DIR = ROOT / "tools" / "mutation"
EQUIVALENTS = MUTATION_DIR / "equivalents.tsv"
RIGHT_ANSWERS = MUTATION_DIR / "justes_autrement.py"
EXERCISE_RE = re.compile(r"^# Exercice (\d+) :")
CHECK_CALL_RE = re.compile(r"\bcheck_\w+\s*\(")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

#: Ce que chaque mutant a le droit de prendre (en secondes), au-delà de ce que prend le corrigé.
TIMEOUT_FLOOR = 20.0
TIMEOUT_FACTOR = 6.0
#: Longueur maximale d'un message dans le rapport.
MESSAGE_CHARS = 260

ACTIVATIONS = {
    "ReLU": ["Sigmoid()", "LeakyReLU(0.2)", "Tanh()", "Identity()"],
    "LeakyReLU": ["ReLU()", "Sigmoid()", "LeakyReLU()", "Identity()"],
    "Tanh": ["Sigmoid()", "ReLU()", "Identity()"],
    "Sigmoid": ["Tanh()", "ReLU()", "Identity()"],
}
FUNCTIONAL_ACTIVATIONS = {"relu", "leaky_relu", "sigmoid", "tanh", "softplus", "elu", "gelu", "silu"}
REMOVABLE_METHODS = {"detach", "mean", "sum", "clone", "flatten", "squeeze", "float", "item",
                     "view", "reshape", "real", "abs", "sqrt", "exp", "log"}
SWAPPED_NAMES = {"randn_like": "rand_like", "rand_like": "randn_like", "randn": "rand", "rand": "randn",
                 "ones_like": "zeros_like", "zeros_like": "ones_like", "ones": "zeros", "zeros": "ones",
                 "mean": "sum", "sum": "mean", "min": "max", "max": "min", "amin": "amax",
                 "amax": "amin", "median": "mean", "any": "all", "all": "any"}
LAYER_OUT = {"Linear": ("BatchNorm1d", 1), "Conv2d": ("BatchNorm2d", 1),
             "ConvTranspose2d": ("BatchNorm2d", 1)}


# ---------------------------------------------------------------------------------------------
# Les exercices, lus dans les corrigés


@dataclass
class Exercise:
    lab: str                 # chemin sous solutions/, ex. « dynamique/gan_2d_playground.ipynb »
    number: int
    title: str
    cell_index: int          # indice parmi les cellules de code
    source: str              # la cellule du corrigé, marqueurs compris
    check_index: int         # la cellule qui appelle la vérification
    between: list[str]       # les cellules de code de l'exercice à sa vérification (celle-ci comprise)

    @property
    def key(self) -> str:
        return f"{Path(self.lab).stem}#{self.number}"

    def block_lines(self) -> set[int]:
        """Les numéros de ligne (à partir de 1) du code entre les marqueurs."""
        lines, inside = set(), False
        for number, line in enumerate(self.source.splitlines(), start=1):
            if line.strip() == BEGIN:
                inside = True
            elif line.strip() == END:
                inside = False
            elif inside:
                lines.add(number)
        return lines


def code_cells(lab: str) -> list[str]:
    import nbformat
    nb = nbformat.read(ROOT / "solutions" / lab, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def exercises(lab: str) -> list[Exercise]:
    cells = code_cells(lab)
    found = []
    for index, source in enumerate(cells):
        match = EXERCISE_RE.match(source)
        if not match or BEGIN not in source:
            continue
        check = next(j for j in range(index + 1, len(cells)) if CHECK_CALL_RE.search(cells[j]))
        found.append(Exercise(lab, int(match.group(1)), source.splitlines()[0].split(":", 1)[1].strip(),
                              index, source, check, cells[index + 1:check + 1]))
    return found


def day_labs(number: int) -> list[str]:
    from utils import course
    day = course.get_day(number)
    return [str(path.relative_to(course.SOLUTIONS_DIR)) for path in day.all_solution_paths]


def written_days() -> list[int]:
    from utils import course
    return [day.number for day in course.DAYS if not day.planned]


# ---------------------------------------------------------------------------------------------
# Les mutants


@dataclass
class Mutant:
    exercise: str            # clé de l'exercice
    operator: str
    line: int
    before: str
    after: str
    source: str              # la cellule entière, mutée
    occurrence: int = 0

    @property
    def key(self) -> str:
        suffix = f" [{self.occurrence + 1}]" if self.occurrence else ""
        return f"{self.exercise} | {self.operator} | {self.before} → {self.after}{suffix}"


def _segment(source: str, node: ast.AST) -> str:
    text = ast.get_source_segment(source, node) or ast.unparse(node)
    return " ".join(text.split())


def _parents(tree: ast.AST) -> dict[int, tuple[ast.AST, str, int | None]]:
    """id(enfant) -> (parent, champ, indice dans la liste ou None)."""
    parents = {}
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        parents[id(child)] = (parent, name, i)
            elif isinstance(value, ast.AST):
                parents[id(value)] = (parent, name, None)
    return parents


def _expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _call_name(node: ast.AST) -> str | None:
    """« nn.ReLU » -> « ReLU », « F.relu » -> « relu », « torch.ones_like » -> « ones_like »."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute):
            return func.attr
        if isinstance(func, ast.Name):
            return func.id
    return None


def _is_module_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "nn")


class _Generator:
    """Énumère les mutants d'une cellule d'exercice."""

    def __init__(self, exercise: Exercise, namespace: dict | None = None):
        self.exercise = exercise
        self.source = "\n".join(line for line in exercise.source.splitlines()
                                if line.strip() not in (BEGIN, END))
        # Les marqueurs retirés : les numéros de ligne changent ; on les recalcule.
        number, block = 0, set()
        inside = False
        for line in exercise.source.splitlines():
            if line.strip() == BEGIN:
                inside = True
                continue
            if line.strip() == END:
                inside = False
                continue
            number += 1
            if inside:
                block.add(number)
        self.block = block
        self.namespace = namespace or {}
        self.tree = ast.parse(self.source)
        self.nodes = list(ast.walk(self.tree))
        self.mutants: list[Mutant] = []
        self.seen: set[str] = set()

    def in_block(self, node: ast.AST) -> bool:
        return getattr(node, "lineno", None) in self.block

    def _add(self, index: int, operator: str, replace, after: str | None = None, before: str | None = None):
        """``replace(node, parents)`` modifie une copie de l'arbre ; la cellule obtenue est un mutant."""
        tree = copy.deepcopy(self.tree)
        nodes = list(ast.walk(tree))
        node = nodes[index]
        before = before or _segment(self.source, self.nodes[index])
        description = replace(node, _parents(tree), tree)
        if description is False:
            return
        ast.fix_missing_locations(tree)
        try:
            text = ast.unparse(tree)
            compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError, TypeError):
            return
        if text in self.seen or text == ast.unparse(self.tree):
            return
        self.seen.add(text)
        mutant = Mutant(self.exercise.key, operator, self.nodes[index].lineno, before,
                        after if after is not None else (description or "?"), text)
        mutant.occurrence = sum(m.key.split(" [")[0] == mutant.key for m in self.mutants)
        self.mutants.append(mutant)

    # --- remplacements élémentaires

    @staticmethod
    def _swap_node(node, parents, new):
        parent, name, i = parents[id(node)]
        if i is None:
            setattr(parent, name, new)
        else:
            getattr(parent, name)[i] = new

    def replace_with(self, index, operator, text_or_node):
        new = _expr(text_or_node) if isinstance(text_or_node, str) else text_or_node

        def apply(node, parents, tree):
            self._swap_node(node, parents, copy.deepcopy(new))
            return " ".join(ast.unparse(new).split())
        self._add(index, operator, apply)

    def generate(self) -> list[Mutant]:
        functions = [n for n in self.nodes if isinstance(n, ast.FunctionDef)]
        for index, node in enumerate(self.nodes):
            if not self.in_block(node):
                continue
            self._constants(index, node)
            self._activations(index, node)
            self._methods(index, node)
            self._names(index, node)
            self._operators(index, node)
            self._arguments(index, node)
            self._layers(index, node)
            self._statements(index, node)
        for function in functions:
            if function.name != "__init__":   # ses paramètres sont des tailles : voir « valeur codée en dur »
                self._function_inputs(function)
        return self.mutants

    def _constants(self, index, node):
        if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
            return
        value = node.value
        if isinstance(value, int):
            for new in (value + 1, value - 1):
                if new >= 0:
                    self.replace_with(index, "constante", repr(new))
        elif isinstance(value, float) and math_finite(value):
            for new in (0.01, 1.0, 2 * value, 0.0):
                if new != value:
                    self.replace_with(index, "constante", repr(new))

    def _activations(self, index, node):
        name = _call_name(node)
        if _is_module_call(node) and name in ACTIVATIONS:
            for new in ACTIVATIONS[name]:
                self.replace_with(index, "activation", f"nn.{new}")
        elif isinstance(node, ast.Call) and name in FUNCTIONAL_ACTIVATIONS and node.args:
            x = node.args[0]
            if isinstance(node.func, ast.Attribute) and not node.args and name in FUNCTIONAL_ACTIVATIONS:
                return
            self.replace_with(index, "activation retirée", x)
            for other in ("F.relu", "torch.sigmoid", "torch.tanh", "F.leaky_relu"):
                if other.split(".")[1] != name:
                    self.replace_with(index, "activation", ast.Call(_expr(other), [x], []))
            if name == "leaky_relu" and len(node.args) + len(node.keywords) > 1:
                self.replace_with(index, "argument retiré", ast.Call(node.func, [x], []))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args
              and name in {"relu", "sigmoid", "tanh"}):
            self.replace_with(index, "activation retirée", node.func.value)

    def _methods(self, index, node):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in REMOVABLE_METHODS and not _is_module_call(node)
                and not (isinstance(node.func.value, ast.Name) and node.func.value.id in {"torch", "F", "math"})):
            self.replace_with(index, f"appel .{node.func.attr}() retiré", node.func.value)
        if isinstance(node, ast.Attribute) and node.attr in {"real", "values", "data"} and isinstance(node.ctx, ast.Load):
            parent_call = False
            if not parent_call:
                self.replace_with(index, f"attribut .{node.attr} retiré", node.value)

    def _names(self, index, node):
        if isinstance(node, ast.Attribute) and node.attr in SWAPPED_NAMES and isinstance(node.ctx, ast.Load):
            new = copy.deepcopy(node)
            new.attr = SWAPPED_NAMES[node.attr]
            self.replace_with(index, "fonction échangée", new)
        if isinstance(node, ast.keyword) and node.arg == "dim" and isinstance(node.value, ast.Constant):
            for new in (node.value.value + 1, node.value.value - 1, -1):
                if new != node.value.value and new >= -1:
                    self.replace_with(index, "dim changée", ast.keyword("dim", ast.Constant(new)))

    def _operators(self, index, node):
        swaps = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
                 ast.Pow: ast.Mult, ast.Mod: ast.FloorDiv}
        if isinstance(node, ast.BinOp) and type(node.op) in swaps:
            new = copy.deepcopy(node)
            new.op = swaps[type(node.op)]()
            self.replace_with(index, "opérateur", new)
            if isinstance(node.op, (ast.Sub, ast.Div)):
                self.replace_with(index, "opérandes intervertis", ast.BinOp(node.right, node.op, node.left))
            for side in (node.left, node.right):
                self.replace_with(index, "terme retiré", side)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            self.replace_with(index, "signe", node.operand)
        if isinstance(node, ast.Return) and node.value is not None and not isinstance(node.value, ast.Tuple):
            def negate(n, parents, tree):
                n.value = ast.UnaryOp(ast.USub(), n.value)
                return "return -(…)"
            self._add(index, "signe", negate)
            # Une valeur juste d'un côté seulement : sa valeur absolue, ou bornée à 0.
            for wrapper in ("abs()", "clamp(max=0)", "clamp(min=0)"):
                def wrap(n, parents, tree, wrapper=wrapper):
                    n.value = _expr(f"({ast.unparse(n.value)}).{wrapper}")
                    return f"return (…).{wrapper}"
                self._add(index, "valeur bornée", wrap)
        compares = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in compares:
            new = copy.deepcopy(node)
            new.ops = [compares[type(node.ops[0])]()]
            self.replace_with(index, "comparaison", new)
        if isinstance(node, ast.AugAssign) and type(node.op) in swaps:
            def flip(n, parents, tree):
                n.op = swaps[type(n.op)]()
                return " ".join(ast.unparse(n).split())
            self._add(index, "opérateur", flip)

    def _arguments(self, index, node):
        if not isinstance(node, ast.Call):
            return
        for i in range(len(node.args) - 1):
            if isinstance(node.args[i], ast.Starred) or isinstance(node.args[i + 1], ast.Starred):
                continue
            new = copy.deepcopy(node)
            new.args[i], new.args[i + 1] = new.args[i + 1], new.args[i]
            self.replace_with(index, "arguments intervertis", new)
        if len(node.args) >= 2 and not isinstance(node.args[-1], ast.Starred):
            new = copy.deepcopy(node)
            del new.args[-1]
            self.replace_with(index, "argument retiré", new)
        for i, keyword in enumerate(node.keywords):
            if keyword.arg is None:
                continue
            new = copy.deepcopy(node)
            del new.keywords[i]
            self.replace_with(index, "argument retiré", new)
        # Une taille passée en argument remplacée par sa valeur dans le lab (taille codée en dur).
        for i, arg in enumerate(node.args):
            value = self._literal_value(arg)
            if value is not None:
                new = copy.deepcopy(node)
                new.args[i] = ast.Constant(value)
                self.replace_with(index, "valeur codée en dur", new)

    def _literal_value(self, node):
        """La valeur entière qu'a, dans le lab, un paramètre de fonction utilisé comme taille."""
        if not isinstance(node, ast.Name):
            return None
        for function in (n for n in self.nodes if isinstance(n, ast.FunctionDef)):
            args = function.args
            names = [a.arg for a in args.args]
            defaults = dict(zip(names[len(names) - len(args.defaults):], args.defaults))
            if node.id in defaults:
                try:
                    value = eval(compile(ast.Expression(defaults[node.id]), "<défaut>", "eval"),
                                 dict(self.namespace))
                except Exception:  # noqa: BLE001 - un défaut qu'on ne sait pas évaluer est ignoré
                    return None
                return value if isinstance(value, int) and not isinstance(value, bool) else None
        return None

    def _layers(self, index, node):
        container = None
        if isinstance(node, (ast.List, ast.Tuple)) and isinstance(node.ctx, ast.Load):
            container = node.elts
        elif _is_module_call(node) and _call_name(node) == "Sequential":
            container = node.args
        if not container or not any(_is_module_call(e) for e in container):
            return
        for i, element in enumerate(container):
            if len(container) > 1 and not isinstance(element, ast.Starred):
                def remove(n, parents, tree, i=i):
                    items = n.elts if isinstance(n, (ast.List, ast.Tuple)) else n.args
                    del items[i]
                    return False if not items else "(couche retirée)"
                self._add(index, "couche retirée", remove, after=f"sans {_segment(self.source, element)}")
            name = _call_name(element) if _is_module_call(element) else None
            if name in LAYER_OUT and len(element.args) >= 2:
                norm, arg = LAYER_OUT[name]
                for extra in (f"nn.{norm}({ast.unparse(element.args[arg])})", "nn.Dropout(0.5)", "nn.ReLU()"):
                    def insert(n, parents, tree, i=i, extra=extra):
                        items = n.elts if isinstance(n, (ast.List, ast.Tuple)) else n.args
                        items.insert(i + 1, _expr(extra))
                    self._add(index, "couche ajoutée", insert,
                              after=f"{_segment(self.source, element)}, {extra}")

    def _statements(self, index, node):
        if not isinstance(node, ast.stmt) or isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            return

        def remove(n, parents, tree):
            parent, name, i = parents[id(n)]
            body = getattr(parent, name)
            del body[i]
            if not body:
                body.append(ast.Pass())
        self._add(index, "instruction retirée", remove, after="(retirée)")

    def _function_inputs(self, function: ast.FunctionDef):
        """Chaque paramètre remplacé par une valeur fraîche ; chaque tenseur reçu modifié sur place."""
        index = self.nodes.index(function)
        signature = f"def {function.name}({ast.unparse(function.args)})"
        params = [a.arg for a in function.args.args if a.arg != "self"]
        for param in params:
            uses = [n for n in ast.walk(function) if isinstance(n, ast.Name) and n.id == param
                    and isinstance(n.ctx, ast.Load) and self.in_block(n)]
            if not uses:
                continue

            def fresh(n, parents, tree, param=param):
                for sub in ast.walk(n):
                    for name, value in ast.iter_fields(sub):
                        if isinstance(value, list):
                            for i, v in enumerate(value):
                                if isinstance(v, ast.Name) and v.id == param and isinstance(v.ctx, ast.Load):
                                    value[i] = _expr(f"__mutant_fresh__({param})")
                        elif isinstance(value, ast.Name) and value.id == param and isinstance(value.ctx, ast.Load):
                            setattr(sub, name, _expr(f"__mutant_fresh__({param})"))
            self._add(index, "entrée ignorée", fresh, after=f"{param} remplacé par du neuf", before=signature)

            def in_place(n, parents, tree, param=param):
                returns = [r for r in ast.walk(n) if isinstance(r, ast.Return) and r.value is not None]
                if not returns:
                    n.body.append(ast.parse(f"__mutant_in_place__({param})").body[0])
                    return None
                for r in returns:
                    r.value = _expr(f"__mutant_then__(({ast.unparse(r.value)}), __mutant_in_place__, {param})")
            self._add(index, "argument modifié sur place", in_place, after=f"{param} modifié sur place",
                      before=signature)


def math_finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


# Les aides que les mutants « entrée ignorée » et « argument modifié sur place » appellent.
HELPERS = '''
import torch as __mutant_torch__
__mutant_fired__ = [False]

def __mutant_fresh__(x):
    if isinstance(x, __mutant_torch__.Tensor) and x.numel():
        __mutant_fired__[0] = True
        if x.is_floating_point():
            return __mutant_torch__.randn_like(x).requires_grad_(x.requires_grad)
        return x[__mutant_torch__.randperm(x.shape[0])] if x.dim() else x
    return x

def __mutant_in_place__(x):
    if isinstance(x, __mutant_torch__.Tensor) and x.is_floating_point() and x.numel():
        __mutant_fired__[0] = True
        with __mutant_torch__.no_grad():
            x.data.add_(0.5)

def __mutant_then__(value, action, arg):
    action(arg)
    return value
'''


def generate(exercise: Exercise, namespace: dict | None = None) -> list[Mutant]:
    return _Generator(exercise, namespace).generate()


# ---------------------------------------------------------------------------------------------
# L'exécution


@dataclass
class Outcome:
    key: str
    status: str              # tué, planté, survivant, bloqué, équivalent, non déclenché, juste, refusé
    message: str = ""
    seconds: float = 0.0


def _first_lines(text: str) -> str:
    text = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def _run_cells(cells: list[tuple[str, str]], scope: dict) -> tuple[str, str, str]:
    """Exécute les cellules ; renvoie (état, message, où) : « ok » / « check » / « erreur »."""
    import warnings

    import matplotlib.pyplot as plt

    from utils.checks.core import CheckError
    out = io.StringIO()
    for name, source in cells:
        try:
            with _redirect(out), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(source, name, "exec"), scope)
        except CheckError as error:
            return "check", str(error), name
        except BaseException as error:  # noqa: BLE001 - tout ce qui arrête la cellule compte
            return "erreur", f"{type(error).__name__} : {error}", name
        finally:
            plt.close("all")
    return "ok", out.getvalue(), ""


class _redirect:
    def __init__(self, buffer):
        self.buffer = buffer

    def __enter__(self):
        self.saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self.buffer

    def __exit__(self, *exc):
        sys.stdout, sys.stderr = self.saved


def _child(exercise: Exercise, source: str, namespace: dict) -> tuple[str, str, bool]:
    scope = namespace
    exec(HELPERS, scope)
    cells = [(f"exercice {exercise.number}", source)]
    cells += [(f"cellule {exercise.cell_index + 2 + i}", s) for i, s in enumerate(exercise.between)]
    state, message, where = _run_cells(cells, scope)
    fired = scope["__mutant_fired__"][0]
    if state == "check":
        return "tué", message, fired
    if state == "erreur":
        return "planté", f"({where}) {message}", fired
    if "✅" in message and "❌" not in message:
        return "survivant", message, fired
    return "tué", f"(sans ✅) {message}", fired


def run_forked(jobs, namespace: dict, timeout: float, workers: int):
    """Exécute ``jobs`` (liste de (clé, exercice, source)) chacun dans un fils ; rend les ``Outcome``."""
    pending = list(jobs)
    running: dict[int, tuple] = {}
    results: dict[str, Outcome] = {}
    while pending or running:
        while pending and len(running) < workers:
            key, exercise, source = pending.pop(0)
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:   # le fils
                os.close(read_fd)
                try:
                    status, message, fired = _child(exercise, source, namespace)
                    payload = pickle.dumps((status, message, fired))
                except BaseException:  # noqa: BLE001
                    payload = pickle.dumps(("planté", traceback.format_exc(), True))
                with os.fdopen(write_fd, "wb") as handle:
                    handle.write(payload)
                os._exit(0)
            os.close(write_fd)
            running[read_fd] = (pid, key, time.monotonic(), bytearray())
        ready, _, _ = select.select(list(running), [], [], 0.5)
        now = time.monotonic()
        for fd in list(running):
            pid, key, started, buffer = running[fd]
            done = False
            if fd in ready:
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    buffer.extend(chunk)
                else:
                    done = True
            if done:
                os.waitpid(pid, 0)
                os.close(fd)
                del running[fd]
                try:
                    status, message, fired = pickle.loads(bytes(buffer))
                except Exception:  # noqa: BLE001 - le fils est mort sans rien dire
                    status, message, fired = "planté", "le processus s'est arrêté sans verdict", True
                if not fired and key.split(" | ")[1:2] and key.split(" | ")[1] in ("entrée ignorée", "argument modifié sur place"):
                    status = "non déclenché"
                results[key] = Outcome(key, status, _first_lines(message), now - started)
            elif now - started > timeout:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(fd)
                del running[fd]
                results[key] = Outcome(key, "bloqué", f"pas de verdict en {timeout:.0f} s", now - started)
    return results


def load_equivalents() -> dict[str, str]:
    """Les mutants équivalents relus : clé -> raison."""
    table = {}
    if EQUIVALENTS.is_file():
        for line in EQUIVALENTS.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, reason = line.partition("\t")
                table[key.strip()] = reason.strip()
    return table


def load_right_answers() -> dict:
    """``RIGHT`` de ``justes_autrement.py`` : {(lab, exercice): [(nom, cellule), ...]}."""
    if not RIGHT_ANSWERS.is_file():
        return {}
    scope: dict = {}
    exec(compile(RIGHT_ANSWERS.read_text(encoding="utf-8"), str(RIGHT_ANSWERS), "exec"), scope)
    return scope["RIGHT"]


def _prepare(lab: str, only: int | None = None):
    """Le lab en mode rapide : un générateur qui rend, exercice par exercice, l'espace de noms
    du notebook juste avant la cellule de l'exercice (les cellules précédentes exécutées). Les
    cellules qui suivent le dernier exercice demandé ne sont pas exécutées."""
    found = {e.cell_index: e for e in exercises(lab) if only in (None, e.number)}
    if not found:
        return
    cells = code_cells(lab)[:max(found) + 1]
    scope = {"__name__": "__main__", "display": lambda *args, **kwargs: None}
    previous = os.getcwd()
    os.chdir(ROOT / "solutions" / Path(lab).parent)
    try:
        for index, source in enumerate(cells):
            if index in found:
                yield found[index], scope
            state, message, _ = _run_cells([(f"{lab} cellule {index + 1}", source)], scope)
            if state != "ok":
                raise RuntimeError(f"{lab} : la cellule de code n° {index + 1} du corrigé échoue : {message}")
    finally:
        os.chdir(previous)


@dataclass
class ExerciseResult:
    exercise: Exercise
    outcomes: list[Outcome] = field(default_factory=list)
    right: list[Outcome] = field(default_factory=list)
    solution: Outcome | None = None
    seconds: float = 0.0

    def count(self, *statuses) -> int:
        return sum(o.status in statuses for o in self.outcomes)

    @property
    def score(self) -> float:
        killed = self.count("tué", "planté")
        alive = self.count("survivant", "bloqué")
        return 100.0 if killed + alive == 0 else 100.0 * killed / (killed + alive)


def run_lab(lab: str, only: int | None = None, workers: int = 2, sample: int | None = None,
            log=print) -> list[ExerciseResult]:
    equivalents = load_equivalents()
    right = load_right_answers()
    results = []
    for exercise, scope in _prepare(lab, only):
        start = time.monotonic()
        mutants = generate(exercise, scope)
        if sample:
            mutants = mutants[::max(1, len(mutants) // sample)][:sample]
        result = ExerciseResult(exercise)
        answer = "\n".join(line for line in exercise.source.splitlines() if line.strip() not in (BEGIN, END))
        base = run_forked([("corrigé", exercise, answer)], scope, 600, 1)["corrigé"]
        result.solution = base
        if base.status != "survivant":
            raise RuntimeError(f"{exercise.key} : le corrigé ne passe pas sa vérification ({base.status}) : "
                               f"{base.message}")
        timeout = max(TIMEOUT_FLOOR, TIMEOUT_FACTOR * base.seconds)
        jobs = [(m.key, exercise, m.source) for m in mutants if m.key not in equivalents]
        outcomes = run_forked(jobs, scope, timeout, workers)
        for m in mutants:
            if m.key in equivalents:
                result.outcomes.append(Outcome(m.key, "équivalent", equivalents[m.key]))
            else:
                result.outcomes.append(outcomes[m.key])
        answers = right.get((lab, exercise.number), [])
        got = run_forked([(f"{exercise.key} | juste | {name}", exercise, text) for name, text in answers],
                         scope, timeout, workers)
        for name, _ in answers:
            outcome = got[f"{exercise.key} | juste | {name}"]
            outcome.status = "juste" if outcome.status == "survivant" else f"refusé ({outcome.status})"
            result.right.append(outcome)
        result.seconds = time.monotonic() - start
        log(f"{exercise.key} : {len(mutants)} mutants, {result.count('tué')} tués, "
            f"{result.count('planté')} plantés, {result.count('survivant')} survivants, "
            f"{result.count('bloqué')} bloqués, {result.count('équivalent')} équivalents, "
            f"{result.count('non déclenché')} non déclenchés ; {result.score:.1f} % ; "
            f"justes autrement : {sum(o.status == 'juste' for o in result.right)}/{len(result.right)} "
            f"({result.seconds:.0f} s)")
        results.append(result)
    return results


# ---------------------------------------------------------------------------------------------
# Le rapport


def fingerprint(number: int) -> str:
    """Empreinte de ce dont dépend le rapport du jour ``number`` : outil, équivalents, réponses
    justes, vérifications du jour (et leur socle), cellules de code des corrigés du jour."""
    from utils import course
    digest = hashlib.sha256()
    day = course.get_day(number)
    module = ROOT / (day.checks.replace(".", "/") + ".py")
    for path in (Path(__file__), EQUIVALENTS, RIGHT_ANSWERS, ROOT / "utils" / "checks" / "core.py", module):
        digest.update(path.read_bytes() if path.is_file() else b"-")
    for lab in day_labs(number):
        for source in code_cells(lab):
            digest.update(source.encode())
    return digest.hexdigest()[:16]


def report_path(number: int) -> Path:
    return MUTATION_DIR / f"rapport_jour_{number:02d}.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(number: int, results: list[ExerciseResult], seconds: float, machine: str) -> Path:
    lines = [f"# Mutants du jour {number}", "",
             f"<!-- empreinte : {fingerprint(number)} -->", "",
             "Écrit par `python tools/mutants.py --day " f"{number}` ; ne pas modifier à la main. "
             f"Durée de l'outil : {seconds:.0f} s ({machine}).", "",
             "| exercice | générés | tués | plantés | survivants | bloqués | équivalents | non déclenchés "
             "| tués (%) | justes autrement | durée (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.exercise.key} {r.exercise.title} | {len(r.outcomes)} | {r.count('tué')} | "
                     f"{r.count('planté')} | {r.count('survivant')} | {r.count('bloqué')} | "
                     f"{r.count('équivalent')} | {r.count('non déclenché')} | {r.score:.1f} | "
                     f"{sum(o.status == 'juste' for o in r.right)}/{len(r.right)} | {r.seconds:.0f} |")
    for r in results:
        lines += ["", f"## {r.exercise.key} — {r.exercise.title}", ""]
        alive = [o for o in r.outcomes if o.status in ("survivant", "bloqué")]
        lines += ["### Survivants", ""] + ([f"- `{_cell(o.key)}` : {o.status}" for o in alive] or ["Aucun."])
        refused = [o for o in r.right if o.status != "juste"]
        if r.right:
            lines += ["", "### Réponses justes écrites autrement", ""]
            lines += [f"- {o.key.split(' | ')[-1]} : {o.status}{' — ' + _cell(o.message) if o in refused else ''}"
                      for o in r.right]
        lines += ["", "### Mutants refusés et message reçu", "", "| mutant | verdict | message |", "|---|---|---|"]
        lines += [f"| `{_cell(o.key.split(' | ', 1)[1])}` | {o.status} | {_cell(o.message)} |"
                  for o in r.outcomes if o.status in ("tué", "planté")]
        others = [o for o in r.outcomes if o.status in ("équivalent", "non déclenché")]
        if others:
            lines += ["", "### Équivalents et non déclenchés", ""]
            lines += [f"- `{_cell(o.key.split(' | ', 1)[1])}` : {o.status}"
                      f"{' — ' + _cell(o.message) if o.status == 'équivalent' else ''}" for o in others]
    path = report_path(number)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def report_fingerprint(number: int) -> str | None:
    path = report_path(number)
    if not path.is_file():
        return None
    match = re.search(r"<!-- empreinte : (\w+) -->", path.read_text(encoding="utf-8"))
    return match.group(1) if match else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=int, action="append", default=[], metavar="N")
    parser.add_argument("--exercise", type=int, metavar="N", help="un seul exercice (rapport non écrit)")
    parser.add_argument("--lister", action="store_true", help="afficher les mutants sans les exécuter")
    parser.add_argument("--processus", type=int, default=2, help="mutants exécutés en même temps (2)")
    args = parser.parse_args(argv)
    os.environ["GANS_QUICK"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(ROOT))
    import matplotlib
    matplotlib.use("Agg")
    import torch
    torch.set_num_threads(1)
    days = args.day or written_days()
    for number in days:
        if args.lister:
            for lab in day_labs(number):
                for exercise in exercises(lab):
                    if args.exercise in (None, exercise.number):
                        for mutant in generate(exercise):
                            print(mutant.key)
            continue
        start = time.monotonic()
        results = []
        for lab in day_labs(number):
            results += run_lab(lab, only=args.exercise, workers=args.processus)
        seconds = time.monotonic() - start
        if args.exercise is not None:
            for result in results:
                for outcome in result.outcomes + result.right:
                    print(f"[{outcome.status}] {outcome.key}\n      {outcome.message}")
        else:
            machine = f"{os.cpu_count()} cœurs, {args.processus} mutants à la fois, torch {torch.__version__}"
            print(f"Rapport : {write_report(number, results, seconds, machine).relative_to(ROOT)} "
                  f"({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
