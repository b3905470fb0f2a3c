#!/usr/bin/env bash
# Vendor front-end static files into src/commonroom/static/vendor/.
#
# The copied files are committed to git, so the app needs no Node.js at run
# time; Node/npm is only needed to update them. Versions are pinned exactly
# in package.json / package-lock.json.
#
# How to update (run from the repository root):
#   1. npm install --save-exact nhsuk-frontend@X.Y.Z   # and/or htmx.org@2.0.N
#      (keep htmx on 2.0.x; 4.x is a different, incompatible major)
#   2. npm run vendor          # runs this script; wipes and rewrites static/vendor/
#   3. Check the diff (git status src/commonroom/static/vendor), smoke-test
#      the pages, then commit package.json, package-lock.json and
#      src/commonroom/static/vendor/ together.
#
# What is copied (run-time files only; no source maps, SCSS or templates):
#   nhsuk-frontend/nhsuk-frontend.min.css  compiled CSS. The package's CSS uses
#                                          absolute url(/assets/...) paths; they
#                                          are rewritten to url(assets/...) so
#                                          they resolve relative to the CSS file.
#                                          The @font-face rules loading Frutiger from
#                                          https://assets.nhs.uk are removed: a
#                                          self-hosted service makes no third-party
#                                          requests (text uses the Arial fallback).
#   nhsuk-frontend/nhsuk-frontend.min.js   ES module bundle: load with
#                                          <script type="module"> and call initAll().
#   nhsuk-frontend/assets/                 favicons, icons, manifest.json
#   nhsuk-frontend/LICENSE                 MIT (upstream repo text; the npm package ships none)
#   htmx/htmx.min.js, htmx/LICENSE
#   VERSIONS.txt                           versions read from package-lock.json
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NM="$ROOT/node_modules"
DEST="$ROOT/src/commonroom/static/vendor"
LOCK="$ROOT/package-lock.json"

for pkg in nhsuk-frontend htmx.org; do
  if [[ ! -d "$NM/$pkg" ]]; then
    echo "error: $NM/$pkg missing; run 'npm ci' first" >&2
    exit 1
  fi
done

# Version of a package as locked in package-lock.json.
locked_version() {
  node -e '
    const lock = require(process.argv[1]);
    const p = lock.packages["node_modules/" + process.argv[2]];
    if (!p) { console.error("not in lockfile: " + process.argv[2]); process.exit(1); }
    console.log(p.version);
  ' "$LOCK" "$1"
}

NHSUK_VERSION="$(locked_version nhsuk-frontend)"
HTMX_VERSION="$(locked_version htmx.org)"

# Make sure node_modules matches the lockfile.
installed_version() { node -p "require('$NM/$1/package.json').version"; }
for pair in "nhsuk-frontend:$NHSUK_VERSION" "htmx.org:$HTMX_VERSION"; do
  pkg="${pair%%:*}"; want="${pair#*:}"; have="$(installed_version "$pkg")"
  if [[ "$have" != "$want" ]]; then
    echo "error: $pkg installed $have but lockfile has $want; run 'npm ci'" >&2
    exit 1
  fi
done

rm -rf "$DEST/nhsuk-frontend" "$DEST/htmx" "$DEST/VERSIONS.txt"
mkdir -p "$DEST/nhsuk-frontend" "$DEST/htmx"

# --- nhsuk-frontend ---------------------------------------------------------
SRC="$NM/nhsuk-frontend/dist/nhsuk"

# CSS: rewrite absolute /assets/ URLs to be relative to the CSS file, and
# drop the source map comment (maps are not vendored).
sed -e 's#url(/assets/#url(assets/#g' \
    -e 's#url("/assets/#url("assets/#g' \
    -e "s#url('/assets/#url('assets/#g" \
    -e 's#/\*\# sourceMappingURL=[^*]*\*/##' \
    -e 's#@font-face{[^}]*assets\.nhs\.uk[^}]*}##g' \
    "$SRC/nhsuk-frontend.min.css" > "$DEST/nhsuk-frontend/nhsuk-frontend.min.css"
if grep -q 'https\?://' "$DEST/nhsuk-frontend/nhsuk-frontend.min.css"; then
  echo "error: an absolute URL is left in nhsuk-frontend.min.css (no third-party requests):" >&2
  grep -o 'url([^)]*https\?://[^)]*)' "$DEST/nhsuk-frontend/nhsuk-frontend.min.css" >&2
  exit 1
fi
if grep -q 'url(["'"'"']\{0,1\}/' "$DEST/nhsuk-frontend/nhsuk-frontend.min.css"; then
  echo "error: root-relative url() left in nhsuk-frontend.min.css:" >&2
  grep -o 'url([^)]*)' "$DEST/nhsuk-frontend/nhsuk-frontend.min.css" | grep -v 'url(assets/\|url(https:\|url(data:' >&2
  exit 1
fi

# JS: ES module bundle (exports initAll etc.); strip the source map comment.
sed -e 's#//\# sourceMappingURL=.*$##' \
    "$SRC/nhsuk-frontend.min.js" > "$DEST/nhsuk-frontend/nhsuk-frontend.min.js"

cp -R "$SRC/assets" "$DEST/nhsuk-frontend/assets"

# Every url(assets/...) in the CSS must exist.
grep -o 'url(assets/[^)]*)' "$DEST/nhsuk-frontend/nhsuk-frontend.min.css" \
  | sed -e 's/^url(//' -e 's/)$//' | sort -u | while read -r rel; do
    if [[ ! -f "$DEST/nhsuk-frontend/$rel" ]]; then
      echo "error: CSS references missing file $rel" >&2
      exit 1
    fi
  done

if [[ -f "$NM/nhsuk-frontend/LICENSE" ]]; then
  cp "$NM/nhsuk-frontend/LICENSE" "$DEST/nhsuk-frontend/LICENSE"
else
  # The npm tarball ships no LICENSE file; reproduce the upstream repo's
  # (github.com/nhsuk/nhsuk-frontend) MIT LICENSE.
  cat > "$DEST/nhsuk-frontend/LICENSE" <<LICENSE
nhsuk-frontend $NHSUK_VERSION -- https://github.com/nhsuk/nhsuk-frontend
The npm package ships no LICENSE file (package.json says "MIT"); this is
the LICENSE from the upstream repository.

MIT License

Copyright (c) 2019 NHS.UK

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
LICENSE
fi

# --- htmx -------------------------------------------------------------------
cp "$NM/htmx.org/dist/htmx.min.js" "$DEST/htmx/htmx.min.js"
cp "$NM/htmx.org/LICENSE" "$DEST/htmx/LICENSE"

# --- VERSIONS.txt -----------------------------------------------------------
cat > "$DEST/VERSIONS.txt" <<VERSIONS
# Vendored front-end packages (from package-lock.json). Do not edit by hand:
# update with 'npm install --save-exact <pkg>@<version> && npm run vendor'.
nhsuk-frontend $NHSUK_VERSION
htmx.org $HTMX_VERSION
VERSIONS

echo "Vendored nhsuk-frontend $NHSUK_VERSION and htmx.org $HTMX_VERSION into ${DEST#"$ROOT"/}"
du -sh "$DEST"
