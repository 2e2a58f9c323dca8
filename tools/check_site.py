"""Structural check of a built docs site: what a reader would notice is broken, found before they do.

    python tools/check_site.py [_docs]     # check the site tools/build_docs.py built (pages named from nbs/)

`check_site(site, pages, tutorials)` returns one line per problem (an empty list when the site is sound):
- every expected page exists, has a title (`<title>` and an `<h1>`), and has the sidebar;
- the sidebar of every page links to every page, and its links resolve (a page missing from nbs/sidebar.yml is
  reported once, naming it);
- no raw markdown shows as text: no `---` front matter, no `title:`/`description:` lines, no table pipes;
- no `show_doc(` call shows (nbdev's documentation calls render as their output, never as code);
- every tutorial page shows at least one image;
- every internal link, image and stylesheet resolves: the file exists and so does the `#anchor` it names.

It reads the HTML only, so it checks any site whose sidebar is one element (`nav_selector`, Furo's by default).
"""
import posixpath, re, sys
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup

NAV = ".sidebar-drawer"
FRONT_MATTER_KEY = re.compile(r"^\s*(title|description|output-file|skip_showdoc|skip_exec)\s*:\s", re.M)
FRONT_MATTER = re.compile(r"(^|\n)\s*---\s*\n\s*[\w-]+\s*:\s")
TABLE_PIPES = re.compile(r"\|\s*:?-{3,}:?\s*\||^\s*\|.*\|\s*$", re.M)


@lru_cache(maxsize=None)
def _parse(path: Path):
    return BeautifulSoup(path.read_text(encoding="utf-8", errors="replace"), "html.parser")


def _ids(path: Path) -> set[str]:
    soup = _parse(path)
    return {t["id"] for t in soup.find_all(id=True)} | {t["name"] for t in soup.find_all("a", attrs={"name": True})}


def _is_external(url: str) -> bool:
    s = urlsplit(url)
    return bool(s.scheme or s.netloc) or url.startswith(("mailto:", "javascript:", "data:"))


def resolve(page: str, url: str) -> tuple[str, str]:
    "The site path and anchor an internal link on `page` points at (a folder means its index.html)."
    s = urlsplit(url)
    path = unquote(s.path)
    target = posixpath.normpath(posixpath.join(posixpath.dirname(page), path)) if path else page
    if path.endswith("/") or target == ".": target = posixpath.join(target, "index.html") if target != "." else "index.html"
    return target, unquote(s.fragment)


def _visible_text(node) -> str:
    "Text a reader sees as prose: without code, scripts, styles and rendered tables (a cell may hold a `|token|`)."
    node = BeautifulSoup(str(node), "html.parser")
    for t in node.find_all(["pre", "code", "script", "style", "textarea", "table"]): t.decompose()
    return node.get_text("\n")


def link_problems(site: Path, page: str, soup) -> list[str]:
    "Internal links, images and stylesheets of a page that do not resolve."
    out = []
    for tag, attr in (("a", "href"), ("img", "src"), ("link", "href"), ("script", "src")):
        for t in soup.find_all(tag, attrs={attr: True}):
            url = t[attr].strip()
            if not url or url == "#" or _is_external(url): continue
            target, anchor = resolve(page, url)
            if target.startswith("../") or not (site / target).is_file():
                out.append(f"{page}: broken {'image' if tag == 'img' else 'link'} {url!r} (no {target})"); continue
            if anchor and target.endswith(".html") and anchor not in _ids(site / target):
                out.append(f"{page}: broken link {url!r} (no #{anchor} in {target})")
    return out


def page_problems(site: Path, page: str, tutorial: bool, nav_selector=NAV) -> tuple[list[str], set[str]]:
    "Problems of one page, and the pages its sidebar links to."
    soup = _parse(site / page)
    out = []
    if not (soup.title and soup.title.get_text(strip=True)): out.append(f"{page}: no <title>")
    main = soup.find("article") or soup.body or soup
    if not main.find("h1"): out.append(f"{page}: no <h1> title")
    nav = soup.select_one(nav_selector)
    linked = set()
    if nav is None: out.append(f"{page}: no sidebar ({nav_selector})")
    else:
        linked = {resolve(page, a["href"])[0] for a in nav.find_all("a", href=True) if not _is_external(a["href"])}
        if not linked: out.append(f"{page}: the sidebar has no links")
    prose, text = _visible_text(main), main.get_text("\n")
    if FRONT_MATTER.search(text) or FRONT_MATTER_KEY.search(prose): out.append(f"{page}: raw front matter shown")
    m = TABLE_PIPES.search(prose)
    if m: out.append(f"{page}: raw markdown table shown: {m[0].strip()[:60]!r}")
    if "show_doc(" in text: out.append(f"{page}: `show_doc(` source shown")
    if tutorial and not main.find("img"): out.append(f"{page}: a tutorial page with no image (no figure shown)")
    return out + link_problems(site, page, soup), linked


def check_site(site, pages, tutorials=(), nav_selector=NAV) -> list[str]:
    "Every problem found in the site at `site` that should have `pages` (site paths), `tutorials` among them."
    site, problems, missing_from = Path(site), [], {}
    _parse.cache_clear()
    for page in pages:
        if not (site / page).is_file(): problems.append(f"{page}: no page"); continue
        found, linked = page_problems(site, page, page in tutorials, nav_selector)
        problems += found
        if linked:
            for p in pages:
                if p not in linked: missing_from.setdefault(p, []).append(page)
    for p, where in missing_from.items():
        problems.append(f"{p}: missing from the sidebar of {len(where)} page(s), e.g. {where[0]} "
                        "(is its notebook listed in nbs/sidebar.yml?)")
    return problems


def main(argv=None):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from build_docs import ROOT, page_of, source_notebooks
    argv = sys.argv[1:] if argv is None else argv
    site = Path(argv[0]) if argv else ROOT / "_docs"
    nbs = source_notebooks()
    problems = check_site(site, [page_of(nb) for nb in nbs], [page_of(nb) for nb in nbs if nb.startswith("tutorials/")])
    for p in problems: print(p)
    print(f"{len(problems)} problem(s) in {site}")
    return not problems


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
