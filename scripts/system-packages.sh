#!/bin/sh
# The one system package glasscoder needs: bubblewrap, the command sandbox on Linux.
# Installs it with the distribution's package manager when it is missing (as root, or with sudo);
# says what to do when it cannot. macOS needs nothing (sandbox-exec ships with the system).
set -eu

[ "$(uname -s)" = Linux ] || exit 0
command -v bwrap >/dev/null 2>&1 && exit 0

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else return 1
    fi
}

if command -v apt-get >/dev/null 2>&1; then
    as_root apt-get update -q && as_root apt-get install -y -q bubblewrap && exit 0
elif command -v dnf >/dev/null 2>&1; then
    as_root dnf install -y bubblewrap && exit 0
elif command -v pacman >/dev/null 2>&1; then
    as_root pacman -S --noconfirm bubblewrap && exit 0
elif command -v zypper >/dev/null 2>&1; then
    as_root zypper --non-interactive install bubblewrap && exit 0
elif command -v apk >/dev/null 2>&1; then
    as_root apk add bubblewrap && exit 0
fi
echo "glasscoder: could not install bubblewrap; install it with your package manager." \
     "Until then commands the model runs are refused (glasscoder sandbox check says why)." >&2
exit 0  # not fatal: everything else works, and glasscoder never runs commands unconfined
