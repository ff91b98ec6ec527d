#!/bin/sh
# Make `prometheus` and `promtool` available for the test suite (make tools).
#
# The tests run their own Prometheus on 127.0.0.1 with a temporary storage directory; they only need the
# binaries.  The Debian package would also start a system-wide server listening on 0.0.0.0:9090, so this
# installs it with service start-up denied (policy-rc.d) and, where systemd runs, disables the unit.
set -eu

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<'MSG'
prometheus and promtool are needed by the tests but are not on PATH.
Install them once, as root, with the server left stopped:
    sudo sh scripts/install-prometheus-tools.sh
or on Debian/Ubuntu:  sudo apt-get install --no-install-recommends prometheus && sudo systemctl disable --now prometheus
or put both binaries from https://prometheus.io/download/ on PATH.
MSG
    exit 1
fi

policy=/usr/sbin/policy-rc.d
created=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"   # 101: "action forbidden" for invoke-rc.d
    chmod 755 "$policy"
    created=1
fi
cleanup() { if [ -n "$created" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
echo "installed: $(prometheus --version 2>&1 | head -n 1) (system service not started)"
