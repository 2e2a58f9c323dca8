"""Tests of tools/check_nbs.py on tiny projects written here: for each rule, a notebook that follows it passes and one
that breaks it is caught, by a line that names the notebook, the cell and its id.

    python tools/test_check_nbs.py     # the test command runs it before checking the real notebooks
"""
import contextlib, io, json, shutil, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_nbs import check, main, stats
from notebooks import cell_flags, directives, is_progress_widget, runs, tidy_outputs

SETTINGS = "[DEFAULT]\nlib_name = demo\nlib_path = demo\nnbs_path = nbs\ntst_flags = notest slow cuda\n"
BAR = {"output_type": "display_data", "metadata": {}, "data": {
    "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0},
    "text/plain": "Loading weights:   0%|          | 0/50 [00:00<?, ?it/s]"}}
WIDGET = {"output_type": "display_data", "metadata": {}, "data": {
    "application/vnd.jupyter.widget-view+json": {"model_id": "y", "version_major": 2, "version_minor": 0},
    "text/html": "<div>explorer</div>", "text/plain": "Explorer()"}}


def out(text="1"):
    "A stdout output."
    return {"output_type": "stream", "name": "stdout", "text": [text + "\n"]}


def cells(*specs):
    """Notebook cells from specs: ('md', text), ('code', source), ('code', source, [outputs]); ids c0, c1, ...
    in order, so a message about cell n names `id cn`."""
    made = []
    for i, (kind, src, *rest) in enumerate(specs):
        c = {"cell_type": "markdown" if kind == "md" else "code", "id": f"c{i}", "metadata": {}, "source": src}
        if kind != "md": c.update(outputs=rest[0] if rest else [], execution_count=None)
        made.append(c)
    return made


def project(tmp: Path, nbs: dict, lib: dict | None = None) -> Path:
    "A project under `tmp`: settings.ini, nbs/<name> for each of `nbs` (name -> cells), demo/<file> for each of `lib`."
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "nbs").mkdir(parents=True); (tmp / "demo").mkdir()
    (tmp / "settings.ini").write_text(SETTINGS)
    for name, cs in nbs.items():
        p = tmp / "nbs" / name; p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"cells": cs, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    for name, text in (lib or {}).items(): (tmp / "demo" / name).write_text(text)
    return tmp


def found(tmp, nbs, lib=None, rule=None) -> list[str]:
    "The violations (as printed) in a project of these notebooks, of one rule if given."
    return [str(v) for v in check(project(tmp, nbs, lib)) if rule is None or v.rule == rule]


def expect(lines, nb, cell, rule, *words):
    "Exactly one violation, of `rule`, naming notebook `nb` and cell `cell` (index and id) and each of `words`."
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(f"nbs/{nb}: cell {cell} (id c{cell}): {rule} "), line
    assert all(w in line for w in words), (words, line)


HEAD = ("code", "#| default_exp data")
F = ("code", "#| export\ndef f(x): return x + 1")
G = ("code", "#| export\ndef g(x): return x * 2")


def test_directives():
    "Directives are read as nbdev reads them."
    assert directives("#| eval: false\n#| cuda\nx = 1\n#| not a directive") == {"eval:": ["false"], "cuda": []}
    assert directives("\n#|hide\n# | export\n#| slow:\nx") == {"hide": [], "export": [], "slow": []}
    assert directives("%%time\n#| hide\nx") == {"hide": []}
    assert cell_flags("#| default_exp data\n#| slow\n#| echo: false\n#| hide") == {"slow", "hide"}
    skip = {"slow", "cuda", "notest"}
    assert runs({"cell_type": "code", "source": "#| hide\nx = 1"}, skip)
    assert not runs({"cell_type": "code", "source": "#| slow\nx = 1"}, skip)
    assert not runs({"cell_type": "code", "source": "#| eval: false\nx = 1"}, skip)
    assert not runs({"cell_type": "code", "source": "import nbdev; nbdev.nbdev_" + "export()"}, skip)
    assert not runs({"cell_type": "markdown", "source": "x"}, skip)
    assert is_progress_widget(BAR) and not is_progress_widget(WIDGET) and not is_progress_widget(out())
    nb = {"cells": cells(("code", "x", [BAR, WIDGET, out(), {"output_type": "stream", "name": "stderr",
                                                            "text": ["100%|#####| 5/5 [00:01<00:00]\n"]}]))}
    tidy_outputs(nb)
    assert nb["cells"][0]["outputs"] == [WIDGET, out()], nb["cells"][0]["outputs"]


def test_r1(tmp):
    "After each export, a shown cell before the next export."
    ok = [HEAD, F, ("code", "f(1)", [out("2")]), G, ("code", "test_eq(g(2), 4)"),
          ("code", "#| exporti\ndef _h(): pass"), ("code", "#| exporti\nimport os")]
    assert found(tmp, {"01_data.ipynb": cells(*ok)}, rule="R1") == []
    # a hidden test, a cell without output, and markdown do not count; the next export ends the window
    bad = [HEAD, F, ("code", "#| hide\ntest_eq(f(1), 2)"), ("code", "y = f(1)"), ("md", "Then g."), G, ("code", "g(1)", [out()])]
    expect(found(tmp, {"01_data.ipynb": cells(*bad)}, rule="R1"), "01_data.ipynb", 1, "R1", "`f`", "shown cell")
    # so does an `exporti` cell; and the end of the notebook, after an export
    expect(found(tmp, {"01_data.ipynb": cells(HEAD, F, ("code", "#| exporti\ndef _h(): pass"), ("code", "f(1)", [out()]))},
                 rule="R1"), "01_data.ipynb", 1, "R1", "`f`")
    expect(found(tmp, {"01_data.ipynb": cells(HEAD, ("md", "# Data"), G)}, rule="R1"), "01_data.ipynb", 2, "R1", "`g`")
    # an export that only imports is told to be `exporti`
    expect(found(tmp, {"01_data.ipynb": cells(HEAD, ("code", "#| export\nimport os"), F, ("code", "f(1)", [out()]))}, rule="R1"),
           "01_data.ipynb", 1, "R1", "exporti")


def test_r2(tmp):
    "At most 10% of a library notebook's test cells hidden (rounded down); cleanup cells hidden, importing nothing."
    test = lambda i, hide=False: ("code", ("#| hide\n" if hide else "") + f"assert f({i}) == {i + 1}")
    ten = [HEAD, F] + [test(i, hide=i == 0) for i in range(10)]
    assert found(tmp, {"01_data.ipynb": cells(*ten)}, rule="R2") == []  # 1 of 10
    nine = [HEAD, F] + [test(i, hide=i == 0) for i in range(9)]
    expect(found(tmp, {"01_data.ipynb": cells(*nine)}, rule="R2"), "01_data.ipynb", 2, "R2", "1 of the 9", "at most 0", "#| hide")
    # a call to test_...( makes a test cell; a string or a definition that says so does not
    assert found(tmp, {"01_data.ipynb": cells(HEAD, F, ("code", "#| hide\ndef test_f(): pass\ns = 'assert x'"),
                                              ("code", "f(1)", [out()]))}, rule="R2") == []
    expect(found(tmp, {"01_data.ipynb": cells(HEAD, F, ("code", "f(1)", [out()]), ("code", "#| hide\nfastcore.test.test_eq(f(1), 2)"))},
                 rule="R2"), "01_data.ipynb", 3, "R2", "1 of the 1")
    # tutorials may hide tests
    assert found(tmp, {"tutorials/walk.ipynb": cells(("code", "#| hide\nassert 1")), "01_data.ipynb": cells(HEAD)}, rule="R2") == []
    # cleanup cells: hidden and without imports pass; an import or being shown fails
    rm = "shutil.rmtree(tmp, ignore_errors=True)"
    assert found(tmp, {"01_data.ipynb": cells(HEAD, ("code", "#| hide\n" + rm))}, rule="R2") == []
    expect(found(tmp, {"01_data.ipynb": cells(HEAD, ("code", "#| hide\nimport shutil\n" + rm))}, rule="R2"),
           "01_data.ipynb", 1, "R2", "cleanup cell imports", "import shutil")
    expect(found(tmp, {"01_data.ipynb": cells(HEAD, ("code", rm))}, rule="R2"), "01_data.ipynb", 1, "R2", "cleanup", "#| hide")
    # a test cell that cleans up after itself is a test cell, not a cleanup cell
    assert found(tmp, {"01_data.ipynb": cells(HEAD, ("code", "test_eq(1, 1)\n" + rm))}, rule="R2") == []


def test_r3(tmp):
    "No markdown ending with ':' directly before a hidden cell."
    good = [("md", "An example:"), ("code", "f(1)", [out()]), ("md", "Its tests."), ("code", "#| hide\nx = 1"),
            ("md", "A colon inside: then a full stop."), ("code", "#| hide\ny = 1")]
    assert found(tmp, {"tutorials/walk.ipynb": cells(*good)}, rule="R3") == []
    bad = [("md", "Intro."), ("md", "The tests:\n\n"), ("code", "#| hide\nx = 1")]
    expect(found(tmp, {"tutorials/walk.ipynb": cells(*bad)}, rule="R3"), "tutorials/walk.ipynb", 1, "R3", "cell 2, id c2", "hidden")


def test_r4(tmp):
    "Library notebooks carry a real run's outputs; no progress-bar widget anywhere."
    good = [HEAD, ("code", "print(1)", [out()]), ("code", "x = 1\nx", [out()]), ("code", "x = 1"),
            ("code", "f(1)"),  # a call may return None: not required to show anything
            ("code", "x;"), ("code", "#| slow\nprint(2)"), ("code", "#| eval: false\nx"), ("code", "w", [WIDGET])]
    assert found(tmp, {"01_data.ipynb": cells(*good)}, rule="R4") == []
    expect(found(tmp, {"01_data.ipynb": cells(HEAD, ("code", "print(1)", [out()]), ("code", "x = 2\nprint(x)"))}, rule="R4"),
           "01_data.ipynb", 2, "R4", "no output", "tools/execute_nbs.py nbs/01_data.ipynb")
    expect(found(tmp, {"01_data.ipynb": cells(HEAD, ("code", "print(1)", [out()]), ("code", "[x for x in 'ab']"))}, rule="R4"),
           "01_data.ipynb", 2, "R4", "no output")
    # a progress bar is caught in any notebook; a notebook that is not a library one needs no outputs
    expect(found(tmp, {"index.ipynb": cells(("code", "print(1)"), ("code", "load()", [BAR]))}, rule="R4"),
           "index.ipynb", 1, "R4", "progress-bar widget")
    err = {"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": []}
    expect(found(tmp, {"01_data.ipynb": cells(HEAD, ("code", "f(1)", [err]))}, rule="R4"), "01_data.ipynb", 1, "R4", "ValueError")
    # a notebook with no outputs at all, even where no cell is sure to print
    expect(found(tmp, {"01_data.ipynb": cells(HEAD, F, ("code", "f(1)"))}, rule="R4"), "01_data.ipynb", 0, "R4", "no outputs at all")


def test_r5(tmp):
    "No module imports another module's private name: in notebooks' code cells and in the library."
    data = cells(HEAD, ("code", "#| export\ndef _p(): pass\ndef q(): pass"), ("code", "from demo.data import _p\n_p()", [out()]))
    other = lambda src: cells(("code", "#| default_exp other"), ("code", src, [out()]))
    nbs = lambda src: {"01_data.ipynb": data, "02_other.ipynb": other(src)}
    assert found(tmp, nbs("from demo.data import q\nfrom demo import __version__"), rule="R5") == []  # its own, public, dunder
    expect(found(tmp, nbs("from demo.data import q, _p"), rule="R5"), "02_other.ipynb", 1, "R5", "`_p`", "demo.data",
           "nbs/01_data.ipynb")
    # in the library: named by the notebook cell the line was exported from
    lib = {"other.py": "# %% auto #0\n__all__ = []\n\n# %% ../nbs/02_other.ipynb #c1\nfrom .data import q, _p\n",
           "data.py": "# %% ../nbs/01_data.ipynb #c1\ndef _p(): pass\nfrom .data import _p\n"}  # its own name: allowed
    expect(found(tmp, nbs("x = 1"), lib, rule="R5"), "02_other.ipynb", 1, "R5", "demo/other.py:5", "`_p`")
    lib["other.py"] = "from demo.data import _p\n"  # no cell marker: the file and line are named
    assert found(tmp, nbs("x = 1"), lib, rule="R5") == ["demo/other.py: cell 1 (id ?): R5 demo/other.py:1 imports `_p`, private to "
        "demo.data: make it public there in nbs/01_data.ipynb (a name without the underscore, exported) if other modules "
        "need it, or keep its use inside that module"]
    # the notebook cell and the line exported from it are one violation, not two
    lib["other.py"] = "# %% ../nbs/02_other.ipynb #c1\nfrom .data import _p\n"
    expect(found(tmp, nbs("from demo.data import _p"), lib, rule="R5"), "02_other.ipynb", 1, "R5", "`_p`")


def test_r6(tmp):
    "A library notebook imports only from notebooks numbered before it; an import in a string is not an import."
    low = cells(HEAD, F, ("code", "f(1)", [out()]))
    high = lambda src: cells(("code", "#| default_exp other"), ("code", src, [out()]))
    assert found(tmp, {"01_data.ipynb": low, "02_other.ipynb": high("from demo.data import f")}, rule="R6") == []
    assert found(tmp, {"01_data.ipynb": cells(HEAD, ("code", "s = 'import demo.other'", [out()])),
                       "02_other.ipynb": high("x = 1")}, rule="R6") == []
    for src in ("from demo.other import g", "import demo.other", "from .other import g"):
        expect(found(tmp, {"01_data.ipynb": cells(HEAD, ("code", src, [out()])), "02_other.ipynb": high("x = 1")}, rule="R6"),
               "01_data.ipynb", 1, "R6", "demo.other", "02_other.ipynb")


def test_command(tmp):
    "The command line: exit codes, one line per violation and a summary; --stats in figures."
    ok = cells(HEAD, F, ("code", "f(1)", [out()]), G, ("code", "#| hide\nassert g(1) == 2"), ("code", "g(2)", [out()]))
    project(tmp, {"01_data.ipynb": ok})
    s = stats(tmp)["total"]
    assert s == dict(exports=2, shown=2, output=2, tests=1, hidden_tests=1), s
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): code = main(["--root", str(tmp)])
    lines = buf.getvalue().splitlines()
    assert code == 1 and len(lines) == 2 and "R2" in lines[0] and lines[1].startswith("check_nbs FAILED: 1 violation"), lines
    ok[4]["source"] = "assert g(1) == 2"
    project(tmp, {"01_data.ipynb": ok})
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): code = main(["--root", str(tmp)])
    assert code == 0 and "follow the notebook rules" in buf.getvalue(), buf.getvalue()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): code = main(["--root", str(tmp), "--stats"])
    assert code == 0 and "2 export cells: 100% followed by a shown cell" in buf.getvalue(), buf.getvalue()


def main_tests():
    tmp = Path(tempfile.mkdtemp(prefix="check_nbs_")) / "project"
    tests = [test_directives, test_r1, test_r2, test_r3, test_r4, test_r5, test_r6, test_command]
    try:
        for t in tests: t() if t is test_directives else t(tmp)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)
    print(f"check_nbs: {len(tests)} groups of cases pass (for each rule, a notebook that follows it passes and one that "
          "breaks it is named by notebook, cell and id)")


if __name__ == "__main__":
    main_tests()
