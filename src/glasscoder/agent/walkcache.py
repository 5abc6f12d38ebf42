"""The checkpoint walk's caches kept between processes, so a new session's first checkpoint
costs what a later one does instead of reading and hashing the whole tree again.

The file is the caller's choice (one per workspace under the data home). It is a cache: a
missing, damaged or foreign one (another root, other ignore or size settings) is ignored and
the walk starts afresh. It holds stamps and content hashes only, no file contents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from glasscoder.agent.blobstore import make_private_dirs, write_atomic
from glasscoder.agent.snapread import Entry
from glasscoder.agent.snapwalk import Folder, Listing, WalkState

_FORMAT = 1


def save(path: Path, state: WalkState, identity: dict[str, Any]) -> None:
    folders = {
        rel_dir: [list(folder.names), {name: [stamp, *_row(entry)]
                                       for name, (stamp, entry) in folder.stamps.items()}]
        for rel_dir, folder in state.folders.items()
    }  # fmt: skip
    listings = {
        rel_dir: [list(x.key), x.files, x.dirs, x.others, x.rules]
        for rel_dir, x in state.listings.items()
    }
    document = {
        "format": _FORMAT,
        "identity": identity,
        "folders": folders,
        "listings": listings,
        "rule_paths": state.rule_paths,
        "rule_stamps": state.rule_stamps,
    }
    make_private_dirs(path.parent)
    write_atomic(path, json.dumps(document, separators=(",", ":")).encode(), flush=False)


def load(path: Path, identity: dict[str, Any]) -> WalkState | None:
    """The saved state, or None when there is none usable for this identity."""
    try:
        document = json.loads(path.read_bytes())
        if document.get("format") != _FORMAT or document.get("identity") != identity:
            return None
        return _state(document)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _state(document: dict[str, Any]) -> WalkState:
    state = WalkState()
    for rel_dir, (names, rows) in document["folders"].items():
        folder = Folder(tuple(names), {}, {})
        for name, (stamp, *entry) in rows.items():
            kept = Entry(*entry)
            folder.stamps[name] = (tuple(stamp) if stamp is not None else None, kept)
            folder.entries[name] = kept
        state.folders[rel_dir] = folder
    for rel_dir, (key, files, dirs, others, rules) in document["listings"].items():
        state.listings[rel_dir] = Listing(
            tuple(key), tuple(files), tuple(dirs), tuple(others), tuple(rules)
        )
    state.rule_paths = tuple(document["rule_paths"])
    state.rule_stamps = {
        path: tuple(stamp) if stamp is not None else None
        for path, stamp in document["rule_stamps"].items()
    }
    return state


def _row(entry: Entry) -> list[Any]:
    return [entry.sha, entry.mode, entry.size]
