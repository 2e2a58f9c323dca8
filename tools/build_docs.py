"""Build the docs site in `_docs/` and README.md from nbdev's processed notebooks.

    python tools/build_docs.py            # _proc/ (nbdev_proc_nbs), the site in _docs/, its structural check, README.md
    python tools/build_docs.py --check    # the same, but fail when README.md differs from what index.ipynb gives

This is the one docs site: the test command builds and checks it, and .github/workflows/deploy.yaml publishes it
to GitHub Pages, so users read the site CI checked. It renders the notebooks with Sphinx, MyST-NB and the Furo theme
(anywhere Python runs; no Quarto), from nbdev's inputs: the sidebar in `nbs/sidebar.yml` (its order and sections) and
the front matter that nbdev_proc_nbs writes into each notebook in `_proc/` (title, description, output file), and it
renders the `show_doc` outputs nbdev computed there. The Quarto cell options the notebooks use are honoured:
`#| echo: false` hides the source, `#| output: asis` renders printed text as markdown, `#| output: false` hides the
output, `#| include: false` drops the cell. Pages keep Quarto's file names (`00_data.ipynb` -> `data.html`), and
links to the deployed site or to other notebooks become links between the local pages.
"""
import argparse, configparser, copy, json, os, posixpath, re, shutil, subprocess, sys, time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebooks import notebooks

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROC, DOCS, SRC = ROOT / "_proc", ROOT / "_docs", ROOT / "_proc" / "_site"
SPHINX_CONF = Path(__file__).resolve().parent / "sphinx"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MAX_NB_BYTES = 1_000_000  # a notebook with its outputs, as committed


def settings() -> dict:
    "settings.ini's [DEFAULT] section."
    p = configparser.ConfigParser(); p.read(ROOT / "settings.ini")
    return dict(p["DEFAULT"])


def doc_url() -> str:
    "The deployed site's address, as nbdev writes it into links: `https://host/baseurl/`."
    s = settings()
    return s["doc_host"].rstrip("/") + "/" + s["doc_baseurl"].strip("/") + "/"


def page_of(nb_rel: str) -> str:
    "The page a notebook renders to, as nbdev names it: `00_data.ipynb` -> `data.html`, folders kept."
    d, name = posixpath.split(nb_rel)
    return posixpath.join(d, re.sub(r"^\d+[a-zA-Z0-9]*_", "", name.lower())[:-len(".ipynb")] + ".html")


def source_notebooks(nbs=ROOT / "nbs") -> list[str]:
    "Every notebook the site must have a page for, relative to nbs/ (names starting `_` or `.` are skipped, as nbdev does)."
    return [p.relative_to(nbs).as_posix() for p in notebooks(nbs)]


def sidebar_sections(path) -> list[tuple[str | None, list[str]]]:
    "The sidebar as (section title or None, [notebook paths]) in order, read from a Quarto sidebar.yml."
    def entries(items):
        for it in items or []:
            if isinstance(it, str): yield it
            elif isinstance(it, dict) and "href" in it: yield it["href"]
    out = []
    for it in yaml.safe_load(Path(path).read_text())["website"]["sidebar"]["contents"]:
        if isinstance(it, dict) and "section" in it: out.append((it["section"], list(entries(it.get("contents")))))
        else: out.append((None, list(entries([it]))))
    return out


# --- one processed notebook -> one page source --------------------------------------------------------------

def split_front_matter(nb: dict) -> dict:
    "Remove the raw `---` front matter cell nbdev_proc_nbs puts first, returning its fields."
    cells = nb["cells"]
    if cells and cells[0]["cell_type"] == "raw" and "".join(cells[0]["source"]).lstrip().startswith("---"):
        text = "".join(cells.pop(0)["source"]).strip()
        return yaml.safe_load(text.strip("-").strip()) or {}
    return {}


def cell_options(src: str) -> dict:
    "Quarto cell options (`#| key: value`) at the top of a code cell."
    opts = {}
    for line in src.splitlines():
        m = re.match(r"\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$", line)
        if m: opts[m[1]] = m[2]
        elif line.strip() and not line.lstrip().startswith("#|"): break
    return opts


def strip_options(src: str) -> str:
    "The code without its `#|` option lines, which Quarto does not show either."
    return "\n".join(l for l in src.splitlines() if not l.lstrip().startswith("#|")).strip("\n")


def asis_outputs(outputs: list) -> list:
    "`#| output: asis`: printed text becomes markdown, as Quarto renders it."
    text = "".join("".join(o["text"]) for o in outputs if o["output_type"] == "stream" and o.get("name") == "stdout")
    rest = [o for o in outputs if o["output_type"] != "stream"]
    return ([{"output_type": "display_data", "metadata": {}, "data": {"text/markdown": text}}] if text.strip() else []) + rest


def static_outputs(outputs: list) -> list:
    """Outputs as a static page can show them: a live widget (no kernel here) by the HTML snapshot it carries, if
    any; widgets with text only (progress bars, whose text is their first state, "0%") are left out."""
    out = []
    for o in outputs:
        if WIDGET_VIEW in o.get("data", {}):
            if "text/html" not in o["data"]: continue
            o = {**o, "data": {k: v for k, v in o["data"].items() if k != WIDGET_VIEW}}
        out.append(o)
    return out


LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def rewrite_links(text: str, page: str, target_of) -> str:
    "Rewrite markdown link targets with `target_of(url, page)`, which returns the new target or None to keep it."
    def sub(m):
        new = target_of(m[2], page)
        return m[1] + (new if new is not None else m[2]) + m[3]
    return LINK.sub(sub, text)


def anchor_id(anchor: str) -> str:
    "The id Sphinx gives the section of a heading (docutils' rule), for nbdev's `#symbol` anchors."
    from docutils.nodes import make_id
    return make_id(anchor)


def heading_ids(nb: dict) -> set[str]:
    "The ids of a page's sections: its markdown headings and the symbols its show_doc outputs document."
    texts = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    texts += ["".join(o.get("data", {}).get("text/markdown", "")) for c in nb["cells"] for o in c.get("outputs", [])]
    heads = re.findall(r"(?m)^#{1,6}\s+(.+?)\s*$", "\n".join(texts))
    return {anchor_id(re.sub(r"[`*_]", "", h)) for h in heads} | {anchor_id(h) for h in heads}


def documented_anchor(anchor: str, ids: set) -> str:
    "nbdev links `Class.method` to `#class.method`; where the method has no section of its own, the class's."
    a = anchor_id(anchor)
    if a in ids or not ids: return a
    cls = anchor_id(anchor.split(".")[0])
    return cls if cls in ids else ""


def site_target(url: str, page: str, pages: dict, base: str, ids: dict | None = None):
    """A link between local pages for a link to the deployed site or to a notebook; None leaves the link alone.

    `pages` maps each notebook (relative to nbs/) to its page; `page` is the page being written; `ids` maps a page to
    its section ids, so that an anchor to an undocumented method points at its class."""
    path, _, anchor = url.partition("#")
    if path.startswith(base): dest = path[len(base):] or "index.html"
    elif "://" in path or path.startswith(("mailto:", "/")) or not path.endswith(".ipynb"): return None
    else:
        nb = posixpath.normpath(posixpath.join(posixpath.dirname(_nb_of(page, pages)), path))
        if nb not in pages: return None
        dest = pages[nb]
    rel = posixpath.relpath(dest, posixpath.dirname(page) or ".")
    anchor = documented_anchor(anchor, (ids or {}).get(dest, set())) if anchor else ""
    return rel + (f"#{anchor}" if anchor else "")


def _nb_of(page: str, pages: dict) -> str:
    return next(nb for nb, p in pages.items() if p == page)


def rule_as_html(md: str) -> str:
    "A `---` rule in a markdown output (show_doc starts with one) as HTML: a rule inside an output is not markdown's."
    return re.sub(r"(?m)^---\s*$", "<hr>\n", md)


def page_notebook(proc_nb: dict, fm: dict, page: str, link_target) -> dict:
    "A page's notebook: a title heading from the front matter, Quarto's cell options applied, links rewritten."
    nb = copy.deepcopy(proc_nb)
    head = f"# {fm.get('title', Path(page).stem)}\n"
    if fm.get("description"): head += "\n{.description}\n" + fm["description"].strip() + "\n"
    cells = [{"cell_type": "markdown", "id": "page-title", "metadata": {}, "source": head}]
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "markdown":
            if src.strip() == "<!-- WARNING: THIS FILE WAS AUTOGENERATED! DO NOT EDIT! -->": continue
            c["source"] = rewrite_links(src, page, link_target)
        elif c["cell_type"] == "code":
            opts = cell_options(src)
            if opts.get("include") == "false": continue
            c["source"] = strip_options(src)
            outs = c.get("outputs", [])
            if opts.get("output") == "asis": outs = asis_outputs(outs)
            if opts.get("output") == "false": outs = []
            c["outputs"] = static_outputs(outs)
            c.pop("has_sd", None)  # nbdev's marker of show_doc cells, not part of the notebook format
            for o in c["outputs"]:
                md = o.get("data", {}).get("text/markdown")
                if md is not None: o["data"]["text/markdown"] = rewrite_links(rule_as_html("".join(md)), page, link_target)
            tags = c.setdefault("metadata", {}).setdefault("tags", [])
            if opts.get("echo") == "false" or not c["source"].strip(): tags.append("remove-input")
            if not c["source"].strip() and not c["outputs"]: continue
        cells.append(c)
    nb["cells"] = cells
    nb["metadata"] = {k: v for k, v in nb["metadata"].items() if k in ("kernelspec", "language_info")}
    if fm.get("description"): nb["metadata"]["myst"] = {"html_meta": {"description": fm["description"].strip()}}
    return nb


def toctrees(sections) -> str:
    "The sidebar as hidden toctrees (one per section, captioned), for the root page."
    out = []
    for title, nbs in sections:
        docs = [page_of(nb)[:-len(".html")] for nb in nbs if nb != "index.ipynb"]
        if not docs: continue
        cap = f":caption: {title}\n" if title else ""
        out.append("```{toctree}\n:hidden:\n" + cap + "\n" + "\n".join(docs) + "\n```")
    return "\n\n".join(out)


def write_sources() -> dict:
    "Write every processed notebook as a page source under _proc/_site/; returns {notebook: page}."
    shutil.rmtree(SRC, ignore_errors=True); SRC.mkdir(parents=True)
    nbs = source_notebooks(PROC)
    pages, fms = {}, {}
    for rel in nbs:
        nb = json.loads((PROC / rel).read_text(encoding="utf-8"))
        fm = split_front_matter(nb)
        out = fm.get("output-file")
        pages[rel] = posixpath.join(posixpath.dirname(rel), out) if out else page_of(rel)
        fms[rel] = (nb, fm)
    base = doc_url()
    ids = {pages[rel]: heading_ids(nb) for rel, (nb, fm) in fms.items()}
    target = lambda url, page: site_target(url, page, pages, base, ids)
    sections = sidebar_sections(PROC / "sidebar.yml")
    for rel, (nb, fm) in fms.items():
        page = page_notebook(nb, fm, pages[rel], target)
        if rel == "index.ipynb":
            page["cells"].append({"cell_type": "markdown", "id": "sidebar", "metadata": {}, "source": toctrees(sections)})
        dest = SRC / (pages[rel][:-len(".html")] + ".ipynb")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(page, indent=1), encoding="utf-8")
    for p in PROC.rglob("*"):  # images and other files the pages show
        if p.is_file() and p.suffix.lower() in {".png", ".jpg", ".jpeg", ".gif", ".svg"} and SRC not in p.parents:
            d = SRC / p.relative_to(PROC); d.parent.mkdir(parents=True, exist_ok=True); shutil.copy2(p, d)
    return pages


# --- README.md from index.ipynb ---------------------------------------------------------------------------

def readme_target(url: str, page: str):
    "README links: to notebooks and images by their path in the repository; everything else unchanged."
    if "://" in url or url.startswith(("#", "mailto:", "/")): return None
    return "nbs/" + url


def readme_text() -> str:
    "README.md as index.ipynb renders: title and summary from its front matter, then its cells and outputs."
    from nbconvert import MarkdownExporter
    from traitlets.config import Config
    import nbformat
    nb = json.loads((PROC / "index.ipynb").read_text(encoding="utf-8"))
    fm = split_front_matter(nb)
    page = page_notebook(nb, {}, "index.html", readme_target)
    page["cells"][0]["source"] = f"# {fm.get('title', 'README')}\n\n> {fm.get('description', '').strip()}\n"
    c = Config(); c.TagRemovePreprocessor.enabled = True; c.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    body, _ = MarkdownExporter(config=c).from_notebook_node(nbformat.from_dict(page))
    return re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"


# --- the build ------------------------------------------------------------------------------------------------

def run(cmd, what) -> bool:
    # without quarto, nbdev_proc_nbs runs `pip install -e .[dev]` with the pip on PATH: make that this venv's pip
    env = {**os.environ, "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if r.returncode != 0: print(f"docs FAILED: {what}\n{(r.stdout + r.stderr)[-4000:]}")
    return r.returncode == 0


def build(proc=True) -> tuple[bool, dict]:
    "nbdev_proc_nbs (unless `proc` is False), then the Sphinx site in _docs/."
    if proc:
        shutil.rmtree(PROC, ignore_errors=True)
        if not run([str(BIN / "nbdev_proc_nbs")], "nbdev_proc_nbs"): return False, {}
    pages = write_sources()
    shutil.rmtree(DOCS, ignore_errors=True); shutil.rmtree(PROC / "_build", ignore_errors=True)
    html = PROC / "_build" / "html"  # MyST-NB writes its files beside the output folder: keep them in _proc/
    r = subprocess.run([str(BIN / "sphinx-build"), "-b", "html", "-q", "-j", "2", "-c", str(SPHINX_CONF),
                        "-d", str(PROC / "_build" / "doctrees"), str(SRC), str(html)], cwd=ROOT, capture_output=True, text=True)
    warnings = [l for l in r.stderr.splitlines() if "WARNING" in l or "ERROR" in l]
    for l in warnings: print("sphinx:", l.replace(str(ROOT) + "/", ""))
    if r.returncode != 0: print("docs FAILED: sphinx-build\n" + r.stderr[-4000:]); return False, pages
    shutil.move(html, DOCS)
    return True, pages


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail when README.md differs from what index.ipynb gives")
    ap.add_argument("--no-proc", action="store_true", help="reuse _proc/ from an earlier nbdev_proc_nbs")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from check_site import check_site
    t0 = time.time()
    big = [f"{p.relative_to(ROOT)} ({p.stat().st_size / 1e6:.1f} MB)" for p in sorted((ROOT / "nbs").rglob("*.ipynb"))
           if p.stat().st_size > MAX_NB_BYTES]
    for b in big: print(f"docs check FAILED: {b} is over {MAX_NB_BYTES / 1e6:.0f} MB; make its outputs smaller (figure size, dpi)")
    ok, pages = build(proc=not a.no_proc)
    if ok:
        expected = {nb: pages.get(nb) or page_of(nb) for nb in source_notebooks()}  # every notebook in nbs/
        tutorials = [p for nb, p in expected.items() if nb.startswith("tutorials/")]
        problems = check_site(DOCS, sorted(expected.values()), tutorials)
        for p in problems: print("docs check FAILED:", p)
        ok = not problems and not big
        if ok: print(f"docs: {len(pages)} pages in _docs/ ({time.time() - t0:.0f}s); structure check passed "
                      f"(sidebar on every page, links and images resolve, titles, no raw markdown; tutorials have figures; "
                      f"notebooks under {MAX_NB_BYTES / 1e6:.0f} MB)")
    readme = readme_text() if (PROC / "index.ipynb").exists() else None
    if readme is None: ok = False; print("README FAILED: no _proc/index.ipynb")
    elif a.check:
        if (ROOT / "README.md").read_text(encoding="utf-8") != readme:
            ok = False; print("README FAILED: README.md differs from what nbs/index.ipynb gives; run `make docs` and commit it")
        else: print("README: README.md is what nbs/index.ipynb gives")
    else: (ROOT / "README.md").write_text(readme, encoding="utf-8"); print("README: wrote README.md from nbs/index.ipynb")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
