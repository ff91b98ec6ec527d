#!/bin/sh
# Refresh the page's vendored files (make assets): the world outline (Natural Earth 1:110m via the npm package
# world-atlas) and topojson-client to read it, with their licenses, into rasd/web_static/vendor/.
# The page never fetches anything from elsewhere; users need no npm, only this target does.
set -eu
WORLD_ATLAS=world-atlas@2.0.2
TOPOJSON=topojson-client@3.1.0
dest=$(cd "$(dirname "$0")/.." && pwd)/rasd/web_static/vendor
command -v npm >/dev/null 2>&1 || { echo "make assets needs npm (e.g. apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$WORLD_ATLAS" "$TOPOJSON" >/dev/null)
for tgz in "$tmp"/*.tgz; do
    mkdir -p "${tgz%.tgz}" && tar xzf "$tgz" -C "${tgz%.tgz}"
done
mkdir -p "$dest"
cp "$tmp"/world-atlas-*/package/countries-110m.json "$dest/countries-110m.json"
cp "$tmp"/world-atlas-*/package/LICENSE "$dest/LICENSE.world-atlas"
cp "$tmp"/topojson-client-*/package/dist/topojson-client.min.js "$dest/topojson-client.min.js"
cp "$tmp"/topojson-client-*/package/LICENSE "$dest/LICENSE.topojson-client"
cat > "$dest/README.md" <<MSG
Vendored by \`make assets\` (scripts/web-assets.sh) from npm: $WORLD_ATLAS (countries-110m.json: Natural Earth
1:110m, public domain; packaging ISC, LICENSE.world-atlas) and $TOPOJSON (dist/topojson-client.min.js, ISC,
LICENSE.topojson-client). Do not edit by hand.
MSG
echo "vendored into $dest: $(ls "$dest" | tr '\n' ' ')"
