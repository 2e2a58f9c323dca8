"""The project's notebooks: which there are, what their cells' directives say, and the three ways to run one.

    python tools/notebooks.py list [--cuda]                  # the notebooks nbdev_test runs (--cuda: those with `#| cuda` cells)
    python tools/notebooks.py test nbs/00b_cli.ipynb ...     # run with nbdev_test, as the test command does; writes nothing
    python tools/notebooks.py test --flags slow --workers 2  # every notebook, `#| slow` cells too
    python tools/notebooks.py execute nbs/00b_cli.ipynb ...  # run in a Jupyter kernel and keep the outputs (tools/execute_nbs.py)

Three ways to run a notebook, one rule for which cells run (`runs`, nbdev_test's): code cells, except those that call
`nbdev_export()`, those marked `#| eval: false` and those flagged with one of settings.ini's `tst_flags` (`#| slow`,
`#| cuda`, `#| notest`) that was not asked for.

- `run_test`: `nbdev_test` in a process of its own (tools/run_tests.py, the test command). Nothing is written.
- `execute`: a Jupyter kernel, as a person running the notebook has, so outputs are what Jupyter shows (widgets, the
  Trainer's table); the outputs are written back into the file, tidied (`tidy_outputs`), and the file cleaned with
  nbdev_clean, which keeps outputs (`clear_all = False`). Used by tools/execute_nbs.py and `make experiments`.
- `run_cells`: the cells exec'd in this process, in one namespace, going on past a failing cell so one run shows every
  failure (tools/gpu_check.py: a GPU machine need not have nbdev or Jupyter).

Importing this module needs only the standard library.
"""
import argparse, configparser, json, os, re, subprocess, sys, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    "Path of a console script installed beside this interpreter."
    return str(BIN / name)


# ---------------------------------------------------------------- settings and directives
def settings(root: Path = ROOT) -> dict:
    "settings.ini's [DEFAULT] section."
    cfg = configparser.ConfigParser(delimiters=["="], interpolation=None)
    cfg.read(Path(root) / "settings.ini", encoding="utf-8")
    return dict(cfg["DEFAULT"])


def skip_flags(run=(), root: Path = ROOT) -> set[str]:
    "settings.ini's `tst_flags` but those in `run`: the flags whose cells are skipped."
    return set(settings(root).get("tst_flags", "").split()) - set(run)


DIRECTIVE = re.compile(r"\s*#\s*\|")
CELL_MAGIC = re.compile(r"^\s*%%\w+")


def directive_lines(source: str) -> list[str]:
    "The lines at the top of a cell that nbdev reads as directives: `#|` lines, with blank lines and cell magics among them."
    out = []
    for line in source.splitlines():
        if line.strip() and not DIRECTIVE.match(line) and not CELL_MAGIC.match(line): break
        if DIRECTIVE.match(line): out.append(line)
    return out


def directives(source: str) -> dict[str, list[str]]:
    "The `#| ` directives at the top of a cell, as nbdev reads them: {'cuda': [], 'eval:': ['false'], ...}."
    out = {}
    for line in directive_lines(source):
        s = DIRECTIVE.sub("#|", line, count=1)
        if s.strip().endswith(":"): s = s.replace(":", "")  # `#| hide:` is `#| hide`
        if ":" in s: s = s.replace(":", ": ")  # `#| eval:false` is `#| eval: false`
        words = s.strip()[2:].split()
        if words: out[words[0]] = words[1:]
    return out


def cell_flags(source: str) -> set[str]:
    "The bare `#| flag` directives at the top of a cell (no value, not a `key: value` option)."
    return {k for k, v in directives(source).items() if not v and not k.endswith(":")}


def cell_source(cell: dict) -> str:
    "A cell's source as one string (notebook files store a list of lines or a string)."
    s = cell.get("source", "")
    return s if isinstance(s, str) else "".join(s)


def runs(cell: dict, skip: set[str]) -> bool:
    "Whether nbdev_test runs `cell` when the flags in `skip` are skipped."
    if cell.get("cell_type") != "code": return False
    src = cell_source(cell)
    if "nbdev_export" + "(" in src: return False  # split, so that nbdev does not skip this line's own cell
    d = directives(src)
    if d.get("eval:", [""])[0].lower() == "false": return False
    return not skip & d.keys()


# ---------------------------------------------------------------- which notebooks
def read_notebook(path: Path) -> dict:
    "A notebook file as JSON."
    return json.loads(Path(path).read_text(encoding="utf-8"))


def notebooks(nbs: Path = NBS) -> list[Path]:
    "Every notebook nbdev would test or render, skipping names that start with `_` or `.`."
    nbs = Path(nbs)
    return sorted(p for p in nbs.rglob("*.ipynb") if not any(part.startswith(("_", ".")) for part in p.relative_to(nbs).parts))


def library_notebooks(nbs: Path = NBS) -> list[Path]:
    "The notebooks a library module comes from: nbs/*.ipynb but index.ipynb (tutorials are not among them)."
    return [p for p in notebooks(nbs) if p.parent == Path(nbs) and p.name != "index.ipynb"]


def runnable_cells(nb: Path, skip: set[str]) -> list[tuple[int, str]]:
    "(index, source) of the code cells nbdev_test would run: not exporting, not `eval: false`, no flag in `skip`."
    return [(i, cell_source(c)) for i, c in enumerate(read_notebook(nb)["cells"]) if runs(c, skip)]


def cuda_notebooks(nbs: Path = NBS) -> list[Path]:
    "The notebooks that hold at least one `#| cuda` cell."
    return [p for p in notebooks(nbs) if any(c["cell_type"] == "code" and "cuda" in directives(cell_source(c))
                                             for c in read_notebook(p)["cells"])]


# ---------------------------------------------------------------- 1. nbdev_test, as the test command runs it
def test_env(workers: int = 1) -> dict:
    "The environment of a notebook run beside `workers - 1` others: the cores shared, idle threads asleep."
    return {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers))),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def run_test(nb: Path, workers: int = 1, flags: str = "") -> tuple[Path, bool, float, str]:
    "Run one notebook with nbdev_test (`flags`: flagged cells to run too); returns (notebook, ok, seconds, output)."
    t0 = time.time()
    cmd = [tool("nbdev_test"), "--path", str(nb), "--do_print"] + (["--flags", flags] if flags else [])
    r = subprocess.run(cmd, cwd=ROOT, env=test_env(workers), capture_output=True, text=True)
    return nb, r.returncode == 0 and "Success" in r.stdout + r.stderr, time.time() - t0, r.stdout + r.stderr


def test_all(nbs: list[Path], workers: int = 1, flags: str = "") -> tuple[list[Path], list[Path]]:
    "Run `nbs` with nbdev_test, `workers` side by side, printing a line for each (and a failure's output); (passed, failed)."
    from concurrent.futures import ThreadPoolExecutor
    passed, failed = [], []
    with ThreadPoolExecutor(max(1, workers)) as ex:
        for nb, ok, secs, out in ex.map(lambda nb: run_test(nb, workers, flags), nbs):
            name = nb.relative_to(NBS) if nb.is_relative_to(NBS) else nb
            print(f"{'ok  ' if ok else 'FAIL'} {name} ({secs:.1f}s)", flush=True)
            if ok: passed.append(nb)
            else: failed.append(nb); print(out[-6000:], flush=True)
    return passed, failed


# ---------------------------------------------------------------- 2. a Jupyter kernel, outputs kept
PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def tidy_stderr(text: str) -> str:
    "stderr without progress bars and without warnings raised inside installed packages."
    out, in_warning = [], False
    for line in text.split("\n"):
        if in_warning and line.startswith("  "): continue  # the source line a warning quotes
        in_warning = bool(re.search(r"site-packages/\S+:\d+: \w*Warning: ", line))
        if in_warning: continue
        line = next((part for part in reversed(line.split("\r")) if part.strip()), "")  # what a terminal ends with
        if PROGRESS_BAR.search(line) or (line and not ANSI.sub("", line).strip()): continue  # bars, cursor moves
        out.append(line)
    return "\n".join(out)


def is_progress_widget(output: dict) -> bool:
    "Whether an output is a progress-bar widget: a widget view whose text is a bar (tqdm's, or ipywidgets' HBox)."
    data = output.get("data", {})
    if WIDGET_VIEW not in data: return False
    text = "".join(data.get("text/plain", ""))
    return bool(PROGRESS_BAR.search(text)) or text.startswith("HBox(")


def tidy_outputs(nb) -> None:
    """Tidy every code cell's outputs in place: stderr through `tidy_stderr` (dropped when left empty), progress-bar
    widgets dropped (a page cannot show progress, and their last state is only noise)."""
    for c in nb["cells"]:
        if c["cell_type"] != "code": continue
        outs = []
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                text = tidy_stderr("".join(o["text"]))
                if not text.strip(): continue
                o["text"] = text.splitlines(True)
            if is_progress_widget(o): continue
            outs.append(o)
        c["outputs"] = outs


def execute(path: Path, skip: set[str], timeout: int = 1800) -> float:
    """Run one notebook in a Jupyter kernel, in its own folder, and write its outputs back; returns the seconds it took.

    A kernel, as a person running the notebook has: outputs are what Jupyter shows (widgets, the Trainer's table).
    Cells that do not run (`runs`) keep the outputs they had. `timeout`: seconds per cell, 0 or less for none."""
    import copy, nbformat
    from nbclient import NotebookClient
    path = Path(path)
    nb, t0 = nbformat.read(path, as_version=4), time.time()
    run = copy.deepcopy(nb)
    run.cells = [c for c in run.cells if runs(c, skip)]
    client = NotebookClient(run, timeout=timeout if timeout > 0 else None, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try: client.execute()
    except Exception as e: raise SystemExit(f"error: {path} failed; nothing written\n{e}")
    outputs = {c.id: c.outputs for c in run.cells}
    for c in nb.cells:
        if c.cell_type == "code" and c.id in outputs: c.outputs = outputs[c.id]
    tidy_outputs(nb)
    nbformat.write(nb, path)
    return time.time() - t0


def execute_in_place(path: Path, run=(), timeout: int = 1800) -> str:
    "`execute` one notebook (the flagged cells in `run` too), then nbdev_clean it; returns a line saying what was done."
    path = Path(path)
    secs = execute(path.resolve(), skip_flags(run), timeout)
    subprocess.run([tool("nbdev_clean"), "--fname", str(path)], cwd=ROOT, check=True)
    return f"{path}: ran in {secs:.0f}s, outputs saved ({path.stat().st_size / 1e6:.2f} MB)"


# ---------------------------------------------------------------- 3. in this process, without nbdev
def run_cells(nb: Path, skip: set[str]) -> int:
    """Run the notebook's cells in one namespace, in its folder; 0 when all pass. A failing cell is reported and the
    rest still run, so one run shows every failure (later failures may follow from it)."""
    os.environ["IN_TEST"] = "1"
    sys.path.insert(0, str(ROOT))
    os.chdir(nb.parent)
    ns, failed = {"__name__": "__notebook__"}, []  # not __main__: command-line guards must not fire
    for i, src in runnable_cells(nb, skip):
        t = time.perf_counter()
        flag = " (cuda)" if "cuda" in directives(src) else ""
        try: exec(compile(src, f"{nb.name}, cell {i}", "exec"), ns)
        except BaseException:
            print(f"FAIL {nb.name} cell {i}{flag}:\n{src}\n" + traceback.format_exc(), flush=True)
            failed.append(i)
            continue
        print(f"cell {i}{flag}: {time.perf_counter() - t:.1f}s", flush=True)
    if failed: print(f"FAILED cells of {nb.name}: {', '.join(map(str, failed))}", flush=True)
    return 1 if failed else 0


# ---------------------------------------------------------------- command line
EXECUTE_HELP = "run notebooks in a Jupyter kernel and keep their outputs in the files (then nbdev_clean)"


def execute_args(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    "The arguments of `execute` (and of tools/execute_nbs.py)."
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--flags", default="", help="flagged cells to run as well, comma-separated, e.g. slow")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds a cell may run; 0 for no limit (default 1800)")
    return ap


def execute_main(a: argparse.Namespace) -> int:
    "Execute each notebook of `a.notebooks` in place; stops at the first that fails, leaving it as it was."
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for nb in a.notebooks: print(execute_in_place(nb, set(filter(None, a.flags.split(","))), a.timeout), flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="the notebooks nbdev_test runs")
    ls.add_argument("--cuda", action="store_true", help="only those with `#| cuda` cells")
    ls.add_argument("--library", action="store_true", help="only the library notebooks (nbs/*.ipynb but index)")
    t = sub.add_parser("test", help="run notebooks with nbdev_test, as the test command does; writes nothing")
    t.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    t.add_argument("--flags", default="", help="flagged cells to run as well, e.g. slow")
    t.add_argument("--workers", type=int, default=1, help="notebooks run side by side")
    execute_args(sub.add_parser("execute", help=EXECUTE_HELP))
    a = ap.parse_args(argv)
    if a.command == "list":
        nbs = cuda_notebooks() if a.cuda else library_notebooks() if a.library else notebooks()
        for p in nbs: print(p.relative_to(ROOT))
        return 0
    if a.command == "execute": return execute_main(a)
    nbs = [p.resolve() for p in a.notebooks] or notebooks()
    passed, failed = test_all(nbs, a.workers, " ".join(a.flags.replace(",", " ").split()))
    print(f"notebooks: {len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
