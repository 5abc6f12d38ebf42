"""Which language a file is in, and its parser and queries (tree-sitter-language-pack).

The grammars come from the optional `map` extra; without it every function here raises
MapUnavailable with the install command. Two grammars the pack bundles are never loaded, as
their licences are not permissive: nim (MPL-2.0, file-level copyleft) and perl (Artistic-2.0,
conditions on modified versions). Files in those languages are simply not mapped.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from typing import Any

from glasscoder.errors import UsageError
from glasscoder.repomap.queries import QUERIES

EXCLUDED_GRAMMARS = {"nim": "MPL-2.0", "perl": "Artistic-2.0"}
INSTALL_HINT = "pip install 'glasscoder[map]'"

EXTENSIONS: dict[str, str] = {
    "py": "python", "pyi": "python", "bzl": "starlark", "star": "starlark",
    "js": "javascript", "mjs": "javascript", "cjs": "javascript", "jsx": "javascript",
    "ts": "typescript", "mts": "typescript", "cts": "typescript", "tsx": "tsx",
    "java": "java", "kt": "kotlin", "kts": "kotlin", "scala": "scala", "sc": "scala",
    "go": "go", "rs": "rust", "c": "c", "h": "c",
    "cc": "cpp", "cpp": "cpp", "cxx": "cpp", "hpp": "cpp", "hh": "cpp", "hxx": "cpp",
    "cu": "cuda", "cuh": "cuda", "glsl": "glsl", "vert": "glsl", "frag": "glsl",
    "cs": "csharp", "m": "objc", "mm": "objc", "swift": "swift", "dart": "dart",
    "rb": "ruby", "rake": "ruby", "php": "php", "lua": "lua", "luau": "luau",
    "sh": "bash", "bash": "bash", "r": "r", "jl": "julia", "hs": "haskell",
    "ml": "ocaml", "ex": "elixir", "exs": "elixir", "erl": "erlang", "hrl": "erlang",
    "elm": "elm", "clj": "clojure", "cljs": "clojure", "cljc": "clojure",
    "lisp": "commonlisp", "lsp": "commonlisp", "cl": "commonlisp", "zig": "zig", "d": "d",
    "f90": "fortran", "f95": "fortran", "f03": "fortran", "f08": "fortran",
    "pas": "pascal", "pp": "pascal", "sol": "solidity", "gleam": "gleam",
    "fs": "fsharp", "fsx": "fsharp", "hx": "haxe", "odin": "odin", "proto": "proto",
    "tf": "hcl", "hcl": "hcl", "ps1": "powershell", "psm1": "powershell", "tcl": "tcl",
    "v": "verilog", "sv": "verilog", "vhd": "vhdl", "vhdl": "vhdl",
    "adb": "ada", "ads": "ada", "el": "elisp", "scm": "scheme", "ss": "scheme",
    "rkt": "racket", "purs": "purescript", "gd": "gdscript", "thrift": "thrift",
    "graphql": "graphql", "gql": "graphql", "nix": "nix",
}  # fmt: skip
FILENAMES = {"BUILD": "starlark", "BUILD.bazel": "starlark", "WORKSPACE": "starlark"}
# `.m` is Objective-C or MATLAB; Objective-C files show it in their first lines.
_OBJC_MARK = re.compile(rb"^\s*(#import|#include|@interface|@implementation|@protocol)", re.M)


class MapUnavailable(UsageError):
    """The grammars are not installed."""


def language_for(path: str, head: bytes = b"") -> str | None:
    """The language of `path` (its first bytes settle `.m`), or None if it is not mapped."""
    name = path.rsplit("/", 1)[-1]
    if name in FILENAMES:
        return FILENAMES[name]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    lang = EXTENSIONS.get(ext)
    if lang == "objc" and ext == "m" and not _OBJC_MARK.search(head[:4096]):
        return "matlab"
    return lang


def check_available() -> None:
    """Raise MapUnavailable, with the fix, when the grammars (or numpy) are not installed."""
    _pack()
    if importlib.util.find_spec("numpy") is None:
        raise MapUnavailable(f"The repo map needs numpy: {INSTALL_HINT}")


@cache
def parser_and_queries(lang: str) -> tuple[Any, Any, Any]:
    """(parser, definitions query, references query or None) for one language; built once."""
    from tree_sitter import Parser, Query

    query_set = QUERIES[lang]
    language = _pack().get_language(lang)
    defs = Query(language, query_set.defs)
    refs = None
    if isinstance(query_set.refs, str):
        refs = Query(language, query_set.refs)
    return Parser(language), defs, refs


@cache
def _pack() -> Any:
    try:
        import tree_sitter_language_pack
    except ImportError:
        raise MapUnavailable(
            f"The repo map needs the tree-sitter grammars: {INSTALL_HINT}"
        ) from None
    return tree_sitter_language_pack
