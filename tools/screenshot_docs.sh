#!/usr/bin/env bash
# Screenshots of the built docs site (_docs/, from `make docs` or `make test`) as a browser shows it:
#   tools/screenshot_docs.sh                      # the home page and every tutorial
#   tools/screenshot_docs.sh data.html evaluate.html
# For each page, <name>.png is the first screen (1280x900) and <name>-full.png the page down to HEIGHT pixels
# (default 6000), written to SCREENS (default _proc/screens/). Needs a Chromium or Chrome binary (BROWSER=...).
set -euo pipefail
cd "$(dirname "$0")/.."
browser=${BROWSER:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
[ -n "$browser" ] || { echo "error: no chromium or google-chrome found; set BROWSER=/path/to/it" >&2; exit 1; }
[ -f _docs/index.html ] || { echo "error: no _docs/index.html; run make docs first" >&2; exit 1; }
out=${SCREENS:-_proc/screens}; height=${HEIGHT:-6000}
mkdir -p "$out"
if [ $# -gt 0 ]; then pages=("$@"); else pages=(index.html); for p in _docs/tutorials/*.html; do pages+=("${p#_docs/}"); done; fi
shoot() { "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot="$1" --window-size="$2" "$3" >/dev/null 2>&1; }
for page in "${pages[@]}"; do
    name=$(echo "${page%.html}" | tr / _)
    url="file://$PWD/_docs/$page"
    shoot "$out/$name.png" 1280,900 "$url"
    shoot "$out/$name-full.png" "1280,$height" "$url"
    echo "$out/$name.png $out/$name-full.png"
done
