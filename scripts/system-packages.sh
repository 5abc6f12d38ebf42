#!/bin/sh
# The one system package glasscoder needs: bubblewrap, the command sandbox on Linux.
# With --tests, also tmux: the interactive session's tests drive the real program in a terminal.
# Installs what is missing with the distribution's package manager (as root, or with sudo);
# says what to do when it cannot. macOS needs nothing (sandbox-exec ships with the system).
set -eu

[ "$(uname -s)" = Linux ] || exit 0
missing=""
command -v bwrap >/dev/null 2>&1 || missing="bubblewrap"
if [ "${1:-}" = "--tests" ] && ! command -v tmux >/dev/null 2>&1; then
    missing="$missing tmux"
fi
[ -n "$missing" ] || exit 0

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else return 1
    fi
}

# shellcheck disable=SC2086  # the package names are meant to split
if command -v apt-get >/dev/null 2>&1; then
    as_root apt-get update -q && as_root apt-get install -y -q $missing && exit 0
elif command -v dnf >/dev/null 2>&1; then
    as_root dnf install -y $missing && exit 0
elif command -v pacman >/dev/null 2>&1; then
    as_root pacman -S --noconfirm $missing && exit 0
elif command -v zypper >/dev/null 2>&1; then
    as_root zypper --non-interactive install $missing && exit 0
elif command -v apk >/dev/null 2>&1; then
    as_root apk add $missing && exit 0
fi
echo "glasscoder: could not install$(printf ' %s' $missing); install it with your package" \
     "manager. Without bubblewrap, commands the model runs are refused (glasscoder sandbox" \
     "check says why); without tmux, the interactive tests skip." >&2
exit 0  # not fatal: everything else works, and glasscoder never runs commands unconfined
