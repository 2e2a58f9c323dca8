"""The project's test command: notebooks clean and exported, the notebook rules checked (tools/check_nbs.py, after
its own tests), every notebook run (tools/notebooks.py), the docs site built and checked.

Ends with one line `notebooks: N passed, M failed` and exits non-zero on any failure.
"""
import hashlib, os, subprocess, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebooks import ROOT, notebooks, test_all, tool

WORKERS = int(os.environ.get("TRIGGER_NB_TEST_WORKERS", "2"))  # notebooks run side by side


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


def run_checks(*cmds) -> bool:
    "Run each of `cmds` (a tool and its arguments) with this python and print its output; True when all pass."
    ok = True
    for cmd in cmds:
        r = subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True)
        print((r.stdout + r.stderr).strip(), flush=True)
        ok = ok and r.returncode == 0
    return ok


def check_notebook_rules():
    "Test the notebook checker on crafted notebooks, then check the project's notebooks against the rules (R1-R6)."
    return run_checks(["tools/test_check_nbs.py"], ["tools/check_nbs.py"])


def build_docs():
    "Test the site checker on a crafted site, then build the docs site and README (tools/build_docs.py --check)."
    return run_checks(["tools/test_check_site.py"], ["tools/build_docs.py", "--check"])


def main():
    ok = check_clean_and_exported()
    rules_ok = check_notebook_rules()
    passed, failed = test_all(notebooks(), WORKERS)
    docs_ok = build_docs()
    print(f"notebooks: {len(passed)} passed, {len(failed)} failed")
    sys.exit(0 if ok and rules_ok and docs_ok and not failed else 1)


if __name__ == "__main__":
    main()
