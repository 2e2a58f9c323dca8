"""Make a venv that sees the running venv's packages and keeps its own on top of them.

    .venv/bin/python tools/layered_venv.py .venv-bench    # then: .venv-bench/bin/pip install --no-deps --ignore-installed X

`make bench` compares against a package the project does not depend on (adaptive-trainer 0.0.6, which pins older
releases): it goes into such a venv, so the project's venv keeps only what the project installs, and the bench runs on
exactly the packages the tests ran on, with no second copy of torch. A `.pth` file in the new venv adds the running
venv's site-packages after its own (with `site.addsitedir`, so that folder's own `.pth` files, the editable install of
the project among them, work too); a package installed into the new venv wins over one of the same name below it.
"""
import subprocess, sys, sysconfig, venv
from pathlib import Path


def purelib(python: Path) -> str:
    "The site-packages folder of the venv whose interpreter is `python`."
    return subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"): print(__doc__.strip().splitlines()[2].strip()); return 2
    if sys.prefix == sys.base_prefix: print("layered_venv: run it with a venv's python (the venv to layer over)"); return 2
    target = Path(argv[0]).resolve()
    venv.EnvBuilder(with_pip=True, clear=True, symlinks=True).create(target)
    base = sysconfig.get_paths()["purelib"]
    Path(purelib(target / "bin" / "python"), "_base_venv.pth").write_text(f"import site; site.addsitedir({base!r})\n")
    print(f"layered_venv: {target} sees {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
