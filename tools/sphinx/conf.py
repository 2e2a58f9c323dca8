# Sphinx settings of the docs site (tools/build_docs.py): the site the test command checks and deploy.yaml publishes.
import configparser
from pathlib import Path

_s = configparser.ConfigParser(); _s.read(Path(__file__).resolve().parents[2] / "settings.ini")
_s = _s["DEFAULT"]

project = _s["title"]
copyright = _s["copyright"]
html_title = _s["title"]
extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_doctrees", "**.ipynb_checkpoints"]

# The notebooks carry their outputs (nbdev_proc_nbs computed the show_doc ones); the build never runs them.
nb_execution_mode = "off"
nb_render_markdown_format = "myst"        # markdown outputs (show_doc, `#| output: asis` tables) get tables too
nb_merge_streams = True
myst_enable_extensions = ["attrs_inline", "attrs_block", "colon_fence", "dollarmath"]
myst_all_links_external = True           # tools/build_docs.py already made every link point at its page
suppress_warnings = ["myst.header"]       # notebooks may start sections at ## after the page title

html_theme = "furo"
html_static_path = [str(Path(__file__).resolve().parent / "_static")]
html_css_files = ["site.css"]
html_copy_source = False
html_show_sourcelink = False
