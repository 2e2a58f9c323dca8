"""The notebook rules, checked: one line per violation, naming the notebook, the cell, the rule and what to do.

    python tools/check_nbs.py                       # every notebook and library module; exits 1 on any violation
    python tools/check_nbs.py nbs/05_evaluate.ipynb # these notebooks only (and library lines exported from them)
    python tools/check_nbs.py --stats               # the library notebooks in figures: exports shown, tests hidden
    python tools/check_nbs.py --root DIR            # another copy of the project (a folder with settings.ini, nbs/)

Cells are numbered from 0 over every cell of the file, as `nb["cells"][n]`, and named by their id too.

Definitions. Directives are the `#|` lines at the top of a code cell. An export cell has a directive `export` or
`exports`; `exporti` cells are exempt from R1 but end an export's window like any export. A hidden cell has the
directive `hide`. A test cell is a non-export code cell that calls `test_...(` or holds an `assert` statement. A shown
cell is a non-hidden, non-export code cell that has an output or is a test cell. Library notebooks are nbs/*.ipynb but
index.ipynb (tutorials are not).

- R1 (every notebook): after each export cell, before the next export of any kind or the end, a shown cell.
- R2 (library notebooks): at most 10% of the test cells hidden, rounded down. A cleanup cell (one that removes a temp
  folder with `rmtree`, and tests nothing) is hidden and imports nothing: the docs build runs hidden cells that import.
- R3 (every notebook): no markdown cell that ends with ":" directly followed by a hidden cell.
- R4: every library notebook carries the outputs of a real run: a cell that prints or ends in an expression has an
  output (cells nbdev_test skips are exempt), no output is an error, and nowhere (any notebook) is there a
  progress-bar widget.
- R5: no module imports another module's private name (`_x`): in the library (`from .data import _x`,
  `from trigger_nb.data import _x`) and in every notebook's code cells.
- R6 (library notebooks): the numbering follows the dependencies: a notebook's code imports only modules exported from
  notebooks that sort before it (or its own). Imports inside strings (a subprocess's script) are not imports here.
"""
import argparse, ast, re, sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebooks import (ROOT, WIDGET_VIEW, cell_source, directives, is_progress_widget, library_notebooks, notebooks,
                       read_notebook, runs, settings, skip_flags)

RULES = ("R1", "R2", "R3", "R4", "R5", "R6")
EXPORTS, EXPORT_ANY = {"export", "exports"}, {"export", "exports", "exporti"}
TEST_SHARE = 0.10  # R2: the share of test cells that may be hidden


@dataclass
class Violation:
    nb: str  # the notebook, relative to the project
    cell: int  # the cell's index in the notebook
    cell_id: str
    rule: str
    text: str  # what is wrong and what to do

    def __str__(self): return f"{self.nb}: cell {self.cell} (id {self.cell_id}): {self.rule} {self.text}"


# ---------------------------------------------------------------- reading cells
def parse(src: str) -> ast.Module | None:
    "A code cell's syntax tree, its IPython lines (`%magic`, `!shell`) read as `pass`; None when it does not parse."
    lines = [re.sub(r"^(\s*)[%!].*", r"\1pass", l) for l in src.splitlines()]
    try: return ast.parse("\n".join(lines))
    except SyntaxError: return None


def call_name(node: ast.Call) -> str:
    "The name a call calls: `f(...)` and `m.f(...)` are both `f`."
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def calls(tree: ast.AST) -> list[str]:
    "The names of every call in `tree`."
    return [call_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)]


@dataclass
class Cell:
    index: int
    id: str
    type: str
    source: str
    outputs: list
    dirs: dict

    @property
    def code(self): return self.type == "code"
    @property
    def export(self): return self.code and bool(EXPORTS & self.dirs.keys())
    @property
    def export_any(self): return self.code and bool(EXPORT_ANY & self.dirs.keys())
    @property
    def hidden(self): return self.code and "hide" in self.dirs

    @property
    def tree(self):
        if not hasattr(self, "_tree"): self._tree = parse(self.source)
        return self._tree

    @property
    def test(self) -> bool:
        "A non-export code cell that calls `test_...(` or holds an `assert` statement."
        if not self.code or self.export_any: return False
        if self.tree is None:  # not Python: read it as text
            return bool(re.search(r"(?<!def )(?<![\w])test_\w*\s*\(", self.source) or re.search(r"(?m)^\s*assert\b", self.source))
        return any(isinstance(n, ast.Assert) for n in ast.walk(self.tree)) or any(c.startswith("test_") for c in calls(self.tree))

    @property
    def shown(self) -> bool:
        return self.code and not self.hidden and not self.export_any and (bool(self.outputs) or self.test)

    @property
    def shown_with_output(self) -> bool:
        return self.code and not self.hidden and not self.export_any and bool(self.outputs)


def read_cells(path: Path) -> list[Cell]:
    "A notebook's cells."
    out = []
    for i, c in enumerate(read_notebook(path)["cells"]):
        src = cell_source(c)
        out.append(Cell(i, c.get("id", "?"), c["cell_type"], src, c.get("outputs", []),
                        directives(src) if c["cell_type"] == "code" else {}))
    return out


def exported_names(cell: Cell) -> str:
    "What an export cell defines, for the message: `f`, `C`, or the first assigned name."
    if cell.tree is None: return ""
    names = [n.name for n in cell.tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    names += [t.id for n in cell.tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)]
    return ", ".join(f"`{n}`" for n in names[:3]) + (" ..." if len(names) > 3 else "")


def only_imports(cell: Cell) -> bool:
    return cell.tree is not None and all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in cell.tree.body)


# ---------------------------------------------------------------- the rules, one notebook at a time
def r1(nb: str, cells: list[Cell]) -> list[Violation]:
    "After each export cell, before the next export of any kind, a shown cell."
    out = []
    for k, c in enumerate(cells):
        if not c.export: continue
        window = []
        for d in cells[k + 1:]:
            if d.export_any: break
            window.append(d)
        if any(d.shown for d in window): continue
        what = exported_names(c)
        if only_imports(c): todo = "it only imports: mark it `#| exporti`, which R1 exempts"
        else: todo = (f"add, before the next export, a cell that uses {what or 'what it exports'} and shows the result, "
                      "or a visible test of it (a cell that only defines things does not count)")
        out.append(Violation(nb, c.index, c.id, "R1", f"export cell {what + ' ' if what else ''}is not followed by a shown cell: {todo}"))
    return out


def is_cleanup(c: Cell) -> bool:
    "A cell that removes a temp folder (`rmtree`) and tests nothing."
    return c.code and not c.export_any and not c.test and c.tree is not None and "rmtree" in calls(c.tree)


def import_lines(c: Cell) -> list[str]:
    "The cell's import statements, as written."
    if c.tree is None: return [l.strip() for l in c.source.splitlines() if re.match(r"\s*(import|from)\s", l)]
    return [ast.get_source_segment(c.source, n) or "import" for n in ast.walk(c.tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def r2(nb: str, cells: list[Cell]) -> list[Violation]:
    "At most 10% of test cells hidden (rounded down); cleanup cells hidden and importing nothing."
    out = []
    tests = [c for c in cells if c.test]
    hidden = [c for c in tests if c.hidden]
    allowed = int(len(tests) * TEST_SHARE)
    if len(hidden) > allowed:
        for c in hidden:
            out.append(Violation(nb, c.index, c.id, "R2",
                f"hidden test cell ({len(hidden)} of the {len(tests)} test cells here are hidden; at most {allowed} may be): "
                "remove `#| hide`, put a short markdown sentence before it saying what it checks and why, print the value "
                "that matters; plumbing with no test_/assert may stay hidden in a cell of its own"))
    for c in cells:
        if not is_cleanup(c): continue
        if not c.hidden:
            out.append(Violation(nb, c.index, c.id, "R2", "cleanup cell (rmtree) is shown: mark it `#| hide`"))
        imports = import_lines(c)
        if imports:
            also = "; keep `nbdev_export()` in a cell of its own" if "nbdev_export" in calls(c.tree) else ""
            out.append(Violation(nb, c.index, c.id, "R2", f"cleanup cell imports ({'; '.join(imports)}): move the import to the "
                                 f"notebook's import cell (the docs build runs hidden cells that import, and would delete the folder){also}"))
    return out


def r3(nb: str, cells: list[Cell]) -> list[Violation]:
    "No markdown cell ending with ':' directly followed by a hidden cell."
    return [Violation(nb, c.index, c.id, "R3", f"markdown ends with ':' but the cell it introduces (cell {d.index}, id {d.id}) "
                      "is hidden, so the page shows a colon before nothing: show that cell, or end the text without a colon")
            for c, d in zip(cells, cells[1:]) if c.type == "markdown" and c.source.rstrip().endswith(":") and d.hidden]


def prints(c: Cell) -> bool:
    "Whether running the cell always shows something: a top-level print()/display(), or a last line that is a value."
    if c.tree is None or not c.tree.body: return False
    top = [n.value for n in c.tree.body if isinstance(n, ast.Expr)]
    if any(isinstance(v, ast.Call) and call_name(v) in ("print", "display") for v in top): return True
    last = c.tree.body[-1]
    code_lines = [l for l in c.source.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    if not isinstance(last, ast.Expr) or (code_lines and code_lines[-1].rstrip().endswith(";")): return False
    v = last.value
    return not isinstance(v, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)) and not (isinstance(v, ast.Constant) and v.value is None)


def r4(nb: str, cells: list[Cell], library: bool, skip: set[str]) -> list[Violation]:
    "Outputs of a real run in library notebooks; no progress-bar widget anywhere."
    out, run = [], f"run `python tools/execute_nbs.py {nb}`"
    for c in cells:
        for k, o in enumerate(c.outputs):
            if is_progress_widget(o):
                out.append(Violation(nb, c.index, c.id, "R4", f"output {k} is a progress-bar widget ({WIDGET_VIEW}): {run}, "
                                     "which does not keep them"))
            elif o.get("output_type") == "error":
                out.append(Violation(nb, c.index, c.id, "R4", f"output {k} is an error ({o.get('ename', '?')}): the cell failed; "
                                     f"fix it and {run}"))
    if not library: return out
    ran = [c for c in cells if runs({"cell_type": c.type, "source": c.source}, skip)]
    missing = [c for c in ran if not c.outputs and prints(c)]
    out += [Violation(nb, c.index, c.id, "R4", f"the cell prints or ends in a value but carries no output: {run}") for c in missing]
    if not missing and not any(c.outputs for c in cells):
        first = next((c for c in ran if not c.export_any and not c.hidden), None) or next((c for c in cells if c.code), cells[0] if cells else None)
        if first: out.append(Violation(nb, first.index, first.id, "R4", f"the notebook carries no outputs at all: {run}"))
    return out


# ---------------------------------------------------------------- R5: private names across modules
def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(tree: ast.AST, lib: str) -> list[tuple[int, str, str]]:
    "(line, imported module, name) of each `from <lib>.m import _x` or `from .m import _x` in `tree`."
    out = []
    for n in ast.walk(tree):
        if not isinstance(n, ast.ImportFrom): continue
        if n.level: mod = n.module or ""
        elif n.module == lib or (n.module or "").startswith(lib + "."): mod = n.module[len(lib) + 1:]
        else: continue
        out += [(n.lineno, mod, a.name) for a in n.names if private(a.name)]
    return out


def module_notebooks(nbs: Path) -> dict[str, str]:
    "Module name -> the notebook it is exported from (its `#| default_exp`)."
    out = {}
    for p in notebooks(nbs):
        for c in read_cells(p):
            if c.code and "default_exp" in c.dirs and c.dirs["default_exp"]:
                out[c.dirs["default_exp"][0]] = p
    return out


def r5_message(name: str, mod: str, lib: str, owners: dict, root: Path, where: str = "") -> str:
    owner = owners.get(mod)
    home = f" in {owner.relative_to(root).as_posix()}" if owner else ""
    return (f"{where}imports `{name}`, private to {lib}.{mod or '__init__'}: make it public there{home} (a name without the "
            f"underscore, exported) if other modules need it, or keep its use inside that module")


def r5_notebook(nb: str, cells: list[Cell], lib: str, own: str | None, owners: dict, root: Path) -> list[Violation]:
    "Private names of other modules imported in a notebook's code cells."
    out = []
    for c in cells:
        if not c.code or c.tree is None: continue
        for _, mod, name in private_imports(c.tree, lib):
            if mod != own: out.append(Violation(nb, c.index, c.id, "R5", r5_message(name, mod, lib, owners, root)))
    return out


MARKER = re.compile(r"^# %% (\S+\.ipynb) #?(\S+)")


def r5_library(lib_dir: Path, lib: str, owners: dict, root: Path) -> list[Violation]:
    "Private names of other modules imported in the library's files, named by the notebook cell each line comes from."
    out = []
    for py in sorted(lib_dir.glob("*.py")):
        text = py.read_text(encoding="utf-8")
        try: tree = ast.parse(text)
        except SyntaxError: continue
        lines = text.splitlines()
        for line, mod, name in private_imports(tree, lib):
            if mod == py.stem: continue
            marker = next((MARKER.match(l) for l in reversed(lines[:line]) if MARKER.match(l)), None)
            nb_path, cell, cell_id = py.relative_to(root).as_posix(), line, "?"
            if marker:
                src = (py.parent / marker[1]).resolve()
                if src.exists():
                    cell_id = marker[2]
                    cell = next((c.index for c in read_cells(src) if c.id == cell_id), -1)
                    nb_path = src.relative_to(root.resolve()).as_posix()
            where = f"{py.relative_to(root).as_posix()}:{line} "
            out.append(Violation(nb_path, cell, cell_id, "R5", r5_message(name, mod, lib, owners, root, where)))
    return out


# ---------------------------------------------------------------- R6: numbers follow dependencies
def imported_modules(tree: ast.AST, lib: str) -> list[str]:
    "The modules of `lib` that `tree` imports: `from lib.m import x`, `import lib.m`, `from .m import x`."
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):
            if n.level: out.append((n.module or "").split(".")[0])
            elif (n.module or "").startswith(lib + "."): out.append(n.module[len(lib) + 1:].split(".")[0])
        elif isinstance(n, ast.Import):
            out += [a.name[len(lib) + 1:].split(".")[0] for a in n.names if a.name.startswith(lib + ".")]
    return [m for m in out if m]


def r6(nb: str, path: Path, cells: list[Cell], lib: str, owners: dict) -> list[Violation]:
    "Imports of modules whose notebooks sort after this one."
    out = []
    for c in cells:
        if not c.code or c.tree is None: continue
        for mod in dict.fromkeys(imported_modules(c.tree, lib)):
            home = owners.get(mod)
            if home is not None and home.resolve() != path.resolve() and home.name > path.name:
                out.append(Violation(nb, c.index, c.id, "R6", f"imports {lib}.{mod}, exported from {home.name}, which comes "
                                     f"after {path.name}: number the notebooks so that each imports only from those before it"))
    return out


# ---------------------------------------------------------------- the project
def project(root: Path = ROOT) -> tuple[Path, Path, str]:
    "(notebooks folder, library folder, library name) of the project at `root`."
    s = settings(root)
    return root / s.get("nbs_path", "nbs"), root / s.get("lib_path", "trigger_nb"), s.get("lib_name", "trigger_nb")


def check(root: Path = ROOT, only: list[Path] | None = None) -> list[Violation]:
    "Every violation of R1-R6 in the project at `root` (only in the notebooks `only`, when given)."
    root = Path(root).resolve()
    nbs, lib_dir, lib = project(root)
    library = set(library_notebooks(nbs))
    owners = module_notebooks(nbs)
    skip = skip_flags(root=root)
    chosen = [p.resolve() for p in only] if only else notebooks(nbs)
    out = []
    for p in chosen:
        nb, cells = p.relative_to(root).as_posix(), read_cells(p)
        own = next((c.dirs["default_exp"][0] for c in cells if c.code and c.dirs.get("default_exp")), None)
        out += r1(nb, cells) + r3(nb, cells) + r4(nb, cells, p in library, skip) + r5_notebook(nb, cells, lib, own, owners, root)
        if p in library: out += r2(nb, cells) + r6(nb, p, cells, lib, owners)
    seen = {(v.nb, v.cell, v.text.split("`")[1]) for v in out if v.rule == "R5"}
    chosen_names = {p.relative_to(root).as_posix() for p in chosen}
    for v in r5_library(lib_dir, lib, owners, root):
        if (v.nb, v.cell, v.text.split("`")[1]) in seen: continue  # the notebook cell it comes from says it already
        if only and v.nb not in chosen_names: continue
        out.append(v)
    return sorted(out, key=lambda v: (v.nb, v.cell if v.cell >= 0 else 10**9, RULES.index(v.rule)))


def stats(root: Path = ROOT) -> dict:
    "The library notebooks in figures: per notebook and in total, export cells followed by a shown cell or an output, tests hidden."
    root = Path(root).resolve()
    nbs, _, _ = project(root)
    rows = {}
    for p in library_notebooks(nbs):
        cells = read_cells(p)
        r = dict(exports=0, shown=0, output=0, tests=0, hidden_tests=0)
        for k, c in enumerate(cells):
            if c.test: r["tests"] += 1; r["hidden_tests"] += c.hidden
            if not c.export: continue
            window = []
            for d in cells[k + 1:]:
                if d.export_any: break
                window.append(d)
            r["exports"] += 1
            r["shown"] += any(d.shown for d in window)
            r["output"] += any(d.shown_with_output for d in window)
        rows[p.relative_to(root).as_posix()] = r
    total = {k: sum(r[k] for r in rows.values()) for k in ("exports", "shown", "output", "tests", "hidden_tests")}
    return dict(notebooks=rows, total=total)


def share(a: int, b: int) -> str:
    return f"{a / b:.0%}" if b else "-"


def print_stats(s: dict):
    print(f"{'library notebook':34} {'exports':>7} {'->shown':>8} {'->output':>9} {'tests':>6} {'hidden':>7}")
    for nb, r in list(s["notebooks"].items()) + [("total", s["total"])]:
        print(f"{nb:34} {r['exports']:7} {r['shown']:4} {share(r['shown'], r['exports']):>4} {r['output']:4} "
              f"{share(r['output'], r['exports']):>4} {r['tests']:6} {r['hidden_tests']:3} {share(r['hidden_tests'], r['tests']):>4}")
    t = s["total"]
    print(f"check_nbs --stats: {len(s['notebooks'])} library notebooks, {t['exports']} export cells: "
          f"{share(t['shown'], t['exports'])} followed by a shown cell, {share(t['output'], t['exports'])} by a cell with output; "
          f"{t['hidden_tests']} of {t['tests']} test cells hidden ({share(t['hidden_tests'], t['tests'])})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="check only these notebooks (default: all)")
    ap.add_argument("--stats", action="store_true", help="print the library notebooks' figures instead of checking")
    ap.add_argument("--root", type=Path, default=ROOT, help="the project folder (default: this one)")
    a = ap.parse_args(argv)
    if a.stats: print_stats(stats(a.root)); return 0
    found = check(a.root, a.notebooks or None)
    for v in found: print(v)
    counts = {r: sum(v.rule == r for v in found) for r in RULES}
    if found:
        print(f"check_nbs FAILED: {len(found)} violation(s) of the notebook rules ("
              + ", ".join(f"{r} {n}" for r, n in counts.items()) + "); the rules are in tools/check_nbs.py's docstring")
        return 1
    print("check_nbs: the notebooks follow the notebook rules R1-R6")
    return 0


if __name__ == "__main__":
    sys.exit(main())
