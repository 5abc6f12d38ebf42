#!/bin/sh
# Installs the peers that bench/peer_startup.py and bench/repomap.py measure, each into its
# own venv under bench/.peers/ (ignored by git). Pinned, so figures from different days compare.
# Run: sh bench/setup_peers.sh   (PYTHON=... to pick the interpreter; default python3)
set -eu
cd "$(dirname "$0")"

MINI_SWE_AGENT=2.4.6
LITELLM=1.110.2  # the version 2.4.6 pulled in when this was written; pinned with it

venv=.peers/mini-swe-agent
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/pip" install --quiet "mini-swe-agent==$MINI_SWE_AGENT" "litellm==$LITELLM"
"$venv/bin/mini" --help >/dev/null </dev/null
echo "mini-swe-agent $MINI_SWE_AGENT (litellm $LITELLM) in bench/$venv"

# aider, for bench/repomap.py: its repo map is the peer to the one in glasscoder.repomap.
AIDER=0.86.2
venv=.peers/aider
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/pip" install --quiet "aider-chat==$AIDER"
"$venv/bin/python" -c "import aider.repomap" </dev/null
echo "aider-chat $AIDER in bench/$venv"
