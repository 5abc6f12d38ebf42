"""Ignored, secret and dot files never reach the map, the symbol search or the first turn."""

from pathlib import Path

from glasscoder.repomap.build import find, map_text, open_index
from glasscoder.workspace import Workspace
from tests.repomap.conftest import write

HIDDEN = {
    ".gitignore": "generated/\n",
    "generated/api_stubs.py": "def leaked_generated_fn():\n    pass\n",
    ".tools/helper.py": "def leaked_dot_folder_fn():\n    pass\n",
    "private/keys.py": "def leaked_configured_fn():\n    pass\n",
    "app.py": "from generated.api_stubs import leaked_generated_fn\n\nleaked_generated_fn()\n",
}


def test_hidden_files_never_appear(repo: Path) -> None:
    write(repo, HIDDEN)
    workspace = Workspace(repo, extra_ignores=["private/"])
    index = open_index(workspace)
    text = map_text(index, "leaked_generated_fn leaked_dot_folder_fn", tokens=4000)
    assert "leaked" not in text
    assert "app.py" in index.files
    assert not [p for p in index.files if p.startswith(("generated/", ".tools/", "private/"))]
    for name in ("leaked_generated_fn", "leaked_dot_folder_fn", "leaked_configured_fn"):
        assert find(index, name) == []


def test_a_file_that_becomes_ignored_leaves_the_map(repo: Path) -> None:
    index = open_index(Workspace(repo))
    index.update()
    assert "ui/widgets.py" in index.files
    (repo / ".gitignore").write_text("ui/\n")
    index.update()
    assert not any(p.startswith("ui/") for p in index.files)


def test_a_file_name_with_undecodable_bytes_is_skipped(repo: Path) -> None:
    import os

    (repo / os.fsdecode(b"bad\xff.py")).write_text("def odd_name_fn():\n    pass\n")
    index = open_index(Workspace(repo))
    text = map_text(index, "", tokens=2000)
    assert "TaxTable" in text and "odd_name_fn" not in text
    assert find(index, "odd_name_fn") == []
