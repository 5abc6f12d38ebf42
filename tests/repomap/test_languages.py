"""Definitions in every mapped language, from a real parse of a small file in a real folder."""

from pathlib import Path

import pytest

from glasscoder.repomap.build import open_index
from glasscoder.repomap.languages import EXCLUDED_GRAMMARS, EXTENSIONS, language_for
from glasscoder.repomap.queries import QUERIES
from glasscoder.workspace import Workspace
from tests.repomap.snippets import SNIPPETS


def test_at_least_forty_languages_each_with_a_snippet() -> None:
    assert len(QUERIES) >= 40
    assert set(SNIPPETS) == set(QUERIES)  # every language is tested below


@pytest.mark.parametrize("lang", sorted(SNIPPETS))
def test_definitions_found(lang: str, tmp_path: Path) -> None:
    name, text, expected = SNIPPETS[lang]
    (tmp_path / name).write_text(text)
    index = open_index(Workspace(tmp_path), cached=False)
    index.update()
    tags = index.files[name]
    assert tags.lang == lang
    found = {d.name for d in tags.defs}
    assert expected <= found, f"{lang}: missing {expected - found}"
    for d in tags.defs:  # each line number points at the line the signature shows
        assert d.signature and d.signature in text.splitlines()[d.line - 1]


def test_references_exclude_the_definitions_own_names(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def area(s):\n    return grow(s)\n")
    index = open_index(Workspace(tmp_path), cached=False)
    index.update()
    refs = index.files["m.py"].refs
    assert refs["grow"] == 1 and refs["s"] == 2 and "area" not in refs


def test_objective_c_and_matlab_share_dot_m() -> None:
    assert language_for("a.m", b"#import <Foundation/Foundation.h>\n") == "objc"
    assert language_for("a.m", b"function r = f(x)\n  r = x;\nend\n") == "matlab"
    assert language_for("BUILD", b"") == "starlark"
    assert language_for("notes.txt", b"") is None


def test_grammars_with_non_permissive_licences_are_never_mapped() -> None:
    assert set(EXCLUDED_GRAMMARS) == {"nim", "perl"}
    assert not set(EXCLUDED_GRAMMARS) & (set(QUERIES) | set(EXTENSIONS.values()))
    assert language_for("a.pl", b"") is None and language_for("a.nim", b"") is None


def test_import_lines_are_not_references(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("from django.db import models\nimport os.path\n\nmodels.Q()\n")
    index = open_index(Workspace(tmp_path), cached=False)
    index.update()
    assert index.files["m.py"].refs == {"models": 1, "Q": 1}


@pytest.mark.parametrize("lang", sorted(lang for lang, q in QUERIES.items() if q.skip))
def test_skipped_node_types_exist_in_the_grammar(lang: str) -> None:
    from tree_sitter_language_pack import get_language

    language = get_language(lang)
    for kind in QUERIES[lang].skip:
        assert language.id_for_node_kind(kind, True), f"{lang} has no node type {kind}"
