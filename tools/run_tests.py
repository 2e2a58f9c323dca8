"""The project's test command: notebooks clean and exported, every notebook run, the docs site built and checked.

Ends with one line `notebooks: N passed, M failed` and exits non-zero on any failure.
"""
import hashlib, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKERS = int(os.environ.get("TRIGGER_NB_TEST_WORKERS", "2"))


def tool(name):
    "Path of a console script installed beside this interpreter."
    return str(BIN / name)


def tracked_state():
    "A hash of the tracked files' content, or None outside a git checkout."
    r = subprocess.run(["git", "diff", "HEAD"], cwd=ROOT, capture_output=True)
    if r.returncode != 0: return None
    return hashlib.sha256(r.stdout).hexdigest()


def check_clean_and_exported():
    "Fail when nbdev_clean or nbdev_export would change a tracked file."
    before = tracked_state()
    for cmd in ("nbdev_clean", "nbdev_export"):
        subprocess.run([tool(cmd)], cwd=ROOT, check=True)
    after = tracked_state()
    if before is None: print("check: not a git checkout, clean/export check skipped"); return True
    if before == after: print("check: notebooks clean, library in sync with notebooks"); return True
    changed = subprocess.run(["git", "diff", "--stat", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    print("check FAILED: nbdev_clean/nbdev_export changed tracked files; commit the result:\n" + changed)
    return False


def notebooks():
    "Every notebook nbdev would test, skipping names that start with `_` or `.`."
    return sorted(p for p in (ROOT / "nbs").rglob("*.ipynb")
                  if not any(part.startswith(("_", ".")) for part in p.relative_to(ROOT / "nbs").parts))


def run_notebook(nb):
    "Run one notebook with nbdev_test; returns (notebook, ok, seconds, output)."
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(max(1, os.cpu_count() // WORKERS))),
           "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}  # notebooks side by side share the cores
    t0 = time.time()
    r = subprocess.run([tool("nbdev_test"), "--path", str(nb), "--do_print"], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    return nb, r.returncode == 0 and "Success" in r.stdout + r.stderr, time.time() - t0, r.stdout + r.stderr


def build_docs():
    "Test the site checker on a crafted site, then build the docs site and README (tools/build_docs.py --check)."
    ok = True
    for cmd in (["tools/test_check_site.py"], ["tools/build_docs.py", "--check"]):
        r = subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True)
        print((r.stdout + r.stderr).strip())
        ok = ok and r.returncode == 0
    return ok


def main():
    ok = check_clean_and_exported()
    nbs = notebooks()
    passed, failed = [], []
    with ThreadPoolExecutor(WORKERS) as ex:
        for nb, good, secs, out in ex.map(run_notebook, nbs):
            name = nb.relative_to(ROOT / "nbs")
            print(f"{'ok  ' if good else 'FAIL'} {name} ({secs:.1f}s)", flush=True)
            if good: passed.append(name)
            else: failed.append(name); print(out[-6000:])
    docs_ok = build_docs()
    print(f"notebooks: {len(passed)} passed, {len(failed)} failed")
    sys.exit(0 if ok and docs_ok and not failed else 1)


if __name__ == "__main__":
    main()
