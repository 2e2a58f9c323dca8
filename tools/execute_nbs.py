"""Run notebooks top to bottom and keep their outputs in the files, so the docs show results.

    python tools/execute_nbs.py nbs/tutorials/*.ipynb           # the cells nbdev_test runs
    python tools/execute_nbs.py --flags slow nbs/tutorials/names_vs_subject.ipynb   # slow cells too

The same as `python tools/notebooks.py execute`, where the work is done (`notebooks.execute_in_place`). Cells flagged
with one of settings.ini's `tst_flags` (`#| slow`, `#| cuda`, `#| notest`) are skipped unless named in `--flags`, as
nbdev_test skips them, and so are cells marked `#| eval: false` and the `nbdev_export()` cell; a skipped cell keeps the
output it had. Figures are saved as PNG at the figure's own resolution (the inline backend's PNG). Text written to
stderr is kept without progress bars (a page cannot show progress, and their last state is only noise) and without
warnings raised inside installed packages (they name local paths and are not about this library); progress-bar
widgets are not kept either; the library's own messages stay. The files are then cleaned with nbdev_clean, which keeps
outputs (`clear_all = False`). The test command does not write outputs: it re-runs every notebook and checks that it
succeeds.
"""
import argparse, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebooks import cell_flags, execute, execute_args, execute_main, tidy_outputs, tidy_stderr  # noqa: F401


def main(argv=None) -> int:
    ap = execute_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    return execute_main(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
