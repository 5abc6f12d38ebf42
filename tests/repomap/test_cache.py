"""The on-disk cache: unchanged files are neither parsed nor read again, across processes."""

import os
from pathlib import Path

from glasscoder.repomap.build import open_index
from glasscoder.repomap.cache import cache_dir_for
from glasscoder.workspace import Workspace


def fresh_index(root: Path):
    """A new index, as a new glasscoder process would open it (only the disk cache is shared)."""
    return open_index(Workspace(root))


def test_second_build_parses_nothing(repo: Path) -> None:
    first = fresh_index(repo)
    stats = first.update()
    assert stats.parsed == first.parses == 5 and stats.files == 5
    second = fresh_index(repo)
    stats = second.update()
    assert second.parses == 0 and stats.read == 0  # size and mtime unchanged: not even read
    assert second.files == first.files


def test_one_changed_file_is_the_only_one_parsed(repo: Path) -> None:
    fresh_index(repo).update()
    (repo / "billing/tax.py").write_text(
        "class TaxTable:\n    def vat_rate(self):\n        return 1\n"
    )
    index = fresh_index(repo)
    stats = index.update()
    assert index.parses == 1 and stats.parsed == 1
    assert [d.name for d in index.files["billing/tax.py"].defs] == ["TaxTable", "vat_rate"]
    stats = index.update()  # the same index again: nothing to do
    assert stats.parsed == 0 and stats.read == 0 and index.parses == 1


def test_touched_but_identical_file_is_read_not_parsed(repo: Path) -> None:
    fresh_index(repo).update()
    path = repo / "ui/theme.py"
    os.utime(path, ns=(1, 1))
    index = fresh_index(repo)
    stats = index.update()
    assert stats.read == 1 and stats.parsed == 0


def test_renamed_file_reuses_its_tags_and_deleted_files_leave(repo: Path) -> None:
    fresh_index(repo).update()
    (repo / "ui/widgets.py").rename(repo / "ui/controls.py")
    (repo / "reports/monthly.py").unlink()
    index = fresh_index(repo)
    index.update()
    assert index.parses == 0  # same bytes, same hash
    assert "ui/controls.py" in index.files
    assert "ui/widgets.py" not in index.files and "reports/monthly.py" not in index.files


def test_cache_lives_in_the_data_home_per_repository(repo: Path, tmp_path: Path) -> None:
    index = fresh_index(repo)
    index.update()
    folder = cache_dir_for(Workspace(repo).root)
    assert index.cache is not None and index.cache.path.parent == folder
    assert folder.parent == Path(os.environ["XDG_DATA_HOME"]) / "glasscoder" / "repomap"
    other = tmp_path / "other"
    other.mkdir()
    assert cache_dir_for(other) != folder


def test_a_damaged_cache_row_is_parsed_again(repo: Path) -> None:
    import sqlite3

    index = fresh_index(repo)
    index.update()
    assert index.cache is not None
    with sqlite3.connect(index.cache.path) as db:
        db.execute("UPDATE tags SET data = 'not json'")
    again = fresh_index(repo)
    again.update()
    assert again.parses == 5 and again.files == index.files


def test_a_build_cut_short_keeps_the_tags_it_parsed(repo: Path, monkeypatch) -> None:
    """A run may end while its background build is still going: what it parsed is kept."""
    import pytest

    from glasscoder.repomap import index as index_module

    monkeypatch.setattr(index_module, "SAVE_EVERY", 2)
    cut = fresh_index(repo)
    real_parse = cut._parse

    def parse_three_then_stop(lang: str, data: bytes):
        if cut.parses == 3:
            raise KeyboardInterrupt  # stands in for the process ending mid-build
        return real_parse(lang, data)

    monkeypatch.setattr(cut, "_parse", parse_three_then_stop)
    with pytest.raises(KeyboardInterrupt):
        cut.update()
    index = fresh_index(repo)
    stats = index.update()
    assert stats.files == 5 and index.parses == 3  # the first two were saved, not parsed again
