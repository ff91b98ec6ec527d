#!/bin/sh
# Make Debian's Chromium and its chromedriver available for the browser test of the alert desk (make tools).
# selenium drives the system chromedriver: no browser is downloaded by the tests.  Where the machine does not
# allow it (not root, no apt), say how and carry on: tests/integration/test_web_browser.py then skips, saying why.
set -eu

if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
    exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<'MSG'
chromium and chromedriver are not on PATH: the alert desk's browser test will be skipped.
Install them once, as root:   sudo sh scripts/install-chromium.sh
or on Debian/Ubuntu:          sudo apt-get install chromium chromium-driver
MSG
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
echo "installed: $(chromium --version 2>/dev/null | head -n 1), $(chromedriver --version 2>/dev/null | head -n 1)"
