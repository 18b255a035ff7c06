"""tools/compare_checked_outputs.py : ce que nbval compare, extrait d'un notebook."""

from helpers import load_tool

tool = load_tool("compare_checked_outputs")


def code(source, outputs, tags=None):
    return {"cell_type": "code", "source": source, "metadata": {"tags": tags or []}, "outputs": outputs}


def stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def test_checked_outputs_skip_ignored_cells_and_images_and_merge_streams():
    notebook = {"cells": [
        {"cell_type": "markdown", "source": "# titre", "metadata": {}},
        code("print(1)", [stream("a\n"), stream("b\n")]),
        code("entraînement()", [stream("12 s\n")], tags=["nbval-ignore-output"]),
        code("# NBVAL_IGNORE_OUTPUT\nplot()", [stream("x")]),
        code("show()", [{"output_type": "display_data", "metadata": {},
                         "data": {"image/png": "AAAA", "text/plain": "<Figure size 640x480 with 1 Axes>"}}]),
    ]}
    assert tool.checked_outputs(notebook) == [
        [("stdout", "a\nb\n")],
        None,
        None,
        [(("text/plain", "<Figure size 640x480 with 1 Axes>"),)],
    ]


def test_a_changed_verdict_is_seen():
    before = {"cells": [code("check()", [stream("✅ correct\n")])]}
    after = {"cells": [code("check()", [stream("✅ correcte\n")])]}
    assert tool.checked_outputs(before) != tool.checked_outputs(after)
