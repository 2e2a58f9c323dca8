"""Run notebooks top to bottom and keep their outputs in the files, so the docs show results.

    python tools/execute_nbs.py nbs/tutorials/*.ipynb           # the cells nbdev_test runs
    python tools/execute_nbs.py --flags slow nbs/tutorials/names_vs_subject.ipynb   # slow cells too

Cells flagged with one of settings.ini's `tst_flags` (`#| slow`, `#| cuda`, `#| notest`) are skipped unless named in
`--flags`, as nbdev_test skips them; a skipped cell keeps the output it had. Figures are saved as PNG at the
figure's own resolution (the inline backend's PNG). Text written to stderr is kept without progress bars (a page
cannot show progress, and their last state is only noise) and without warnings raised inside installed packages
(they name local paths and are not about this library); the library's own messages stay. The files are then cleaned
with nbdev_clean, which keeps outputs (`clear_all = False`). The test command does not write outputs: it re-runs
every notebook and checks that it succeeds.
"""
import argparse, configparser, os, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cell_flags(source: str) -> set[str]:
    "The bare `#| flag` directives at the top of a cell."
    flags = set()
    for line in source.splitlines():
        if not line.lstrip().startswith("#|"): break
        words = line.lstrip()[2:].split()
        if len(words) == 1 and ":" not in words[0]: flags.add(words[0])
    return flags


PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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


def tidy_outputs(nb) -> None:
    "Apply `tidy_stderr` to every stderr output of `nb`, dropping those left empty."
    for c in nb["cells"]:
        outs = []
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                text = tidy_stderr("".join(o["text"]))
                if not text.strip(): continue
                o["text"] = text.splitlines(True)
            outs.append(o)
        if c["cell_type"] == "code": c["outputs"] = outs


def execute(path: Path, skip: set[str], timeout: int = 1800) -> float:
    """Run one notebook in a Jupyter kernel, in its own folder, and write its outputs back; returns the seconds it took.

    A kernel, as a person running the notebook has: outputs are what Jupyter shows (widgets, the Trainer's table)."""
    import copy, nbformat
    from nbclient import NotebookClient
    nb, t0 = nbformat.read(path, as_version=4), time.time()
    run = copy.deepcopy(nb)
    run.cells = [c for c in run.cells if c.cell_type == "code" and not cell_flags(c.source) & skip]
    try: NotebookClient(run, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    except Exception as e: raise SystemExit(f"error: {path} failed; nothing written\n{e}")
    outputs = {c.id: c.outputs for c in run.cells}
    for c in nb.cells:
        if c.cell_type == "code" and c.id in outputs: c.outputs = outputs[c.id]
    tidy_outputs(nb)
    nbformat.write(nb, path)
    return time.time() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--flags", default="", help="flagged cells to run as well, comma-separated, e.g. slow")
    a = ap.parse_args(argv)
    cfg = configparser.ConfigParser(); cfg.read(ROOT / "settings.ini")
    skip = set(cfg["DEFAULT"].get("tst_flags", "").split()) - set(filter(None, a.flags.split(",")))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for nb in a.notebooks:
        secs = execute(nb.resolve(), skip)
        subprocess.run([str(Path(sys.executable).parent / "nbdev_clean"), "--fname", str(nb)], cwd=ROOT, check=True)
        print(f"{nb}: ran in {secs:.0f}s, outputs saved ({nb.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
