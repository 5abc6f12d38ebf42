"""Tree-sitter queries, one compact set per language: what a definition is, what a reference is.

A definition query captures the definition's name node as `@def.KIND`; captures whose name
starts with `_` only serve predicates. References are either a list of identifier node types
(every such node that is not a definition's name) or a query capturing `@ref`.
These are written for glasscoder against the grammars of tree-sitter-language-pack 0.13.0.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuerySet:
    defs: str
    refs: tuple[str, ...] | str = ("identifier",)  # node types, or a query capturing @ref
    # Subtrees not searched for references: imports name modules (`django` in every file), and
    # the names they bring in are counted where the code uses them.
    skip: tuple[str, ...] = ()


def named(kind: str, *node_types: str, field: str = "name") -> str:
    """One pattern per node type whose `field` child is the definition's name."""
    return "\n".join(f"({t} {field}: (_) @def.{kind})" for t in node_types)


_C_FUNCTIONS = """
(function_definition declarator: (function_declarator declarator: (identifier) @def.function))
(function_definition declarator: (pointer_declarator
  declarator: (function_declarator declarator: (identifier) @def.function)))
(declaration declarator: (function_declarator declarator: (identifier) @def.function))
(type_definition declarator: (type_identifier) @def.type)
(struct_specifier name: (_) @def.struct body: (_))
(union_specifier name: (_) @def.union body: (_))
(enum_specifier name: (_) @def.enum body: (_))
(preproc_def name: (_) @def.macro)
(preproc_function_def name: (_) @def.macro)
"""
_CPP = (
    _C_FUNCTIONS
    + """
(function_declarator declarator: (qualified_identifier name: (identifier) @def.method))
(field_declaration declarator: (function_declarator declarator: (field_identifier) @def.method))
(function_definition declarator: (function_declarator declarator: (field_identifier) @def.method))
(class_specifier name: (_) @def.class body: (_))
(namespace_definition name: (_) @def.namespace)
(alias_declaration name: (_) @def.type)
"""
)
_C_REFS = ("identifier", "type_identifier", "field_identifier")

_JS = (
    named("class", "class_declaration", "class")
    + "\n"
    + named("function", "function_declaration", "generator_function_declaration")
    + "\n"
    + named("method", "method_definition")
    + """
(variable_declarator name: (identifier) @def.function
  value: [(arrow_function) (function_expression)])
(program (lexical_declaration (variable_declarator name: (identifier) @def.const)))
(program (export_statement
  (lexical_declaration (variable_declarator name: (identifier) @def.const))))
"""
)
_TS = (
    _JS
    + "\n"
    + named("interface", "interface_declaration")
    + "\n"
    + named("type", "type_alias_declaration")
    + "\n"
    + named("enum", "enum_declaration")
    + "\n"
    + named("class", "abstract_class_declaration")
    + "\n"
    + named("method", "method_signature", "abstract_method_signature")
)
_TS_REFS = ("identifier", "type_identifier", "property_identifier")

_LUA = """
(function_declaration name: (identifier) @def.function)
(function_declaration name: (dot_index_expression field: (identifier) @def.function))
(function_declaration name: (method_index_expression method: (identifier) @def.method))
"""
_LISP_DEFINE = """
(list . (symbol) @_k . (list . (symbol) @def.function) (#eq? @_k "define"))
(list . (symbol) @_k . (symbol) @def.var (#any-of? @_k "define" "define-syntax"))
"""

QUERIES: dict[str, QuerySet] = {
    "python": QuerySet(
        """
(class_definition name: (identifier) @def.class)
(function_definition name: (identifier) @def.function)
(module (assignment left: (identifier) @def.const))
""",
        skip=("import_statement", "import_from_statement", "future_import_statement"),
    ),
    "starlark": QuerySet("(function_definition name: (identifier) @def.function)"),
    "javascript": QuerySet(_JS, ("identifier", "property_identifier"), ("import_statement",)),
    "typescript": QuerySet(_TS, _TS_REFS, ("import_statement",)),
    "tsx": QuerySet(_TS, _TS_REFS, ("import_statement",)),
    "java": QuerySet(
        named("class", "class_declaration", "record_declaration")
        + "\n"
        + named("interface", "interface_declaration", "annotation_type_declaration")
        + "\n"
        + named("enum", "enum_declaration")
        + "\n"
        + named("method", "method_declaration", "constructor_declaration")
        + "\n(field_declaration declarator: (variable_declarator name: (_) @def.field))",
        ("identifier", "type_identifier"),
        ("import_declaration", "package_declaration"),
    ),
    "kotlin": QuerySet(
        """
(class_declaration (type_identifier) @def.class)
(object_declaration (type_identifier) @def.object)
(function_declaration (simple_identifier) @def.function)
(type_alias (type_identifier) @def.type)
""",
        ("simple_identifier", "type_identifier"),
        ("import_header", "package_header"),
    ),
    "scala": QuerySet(
        named(
            "class", "class_definition", "trait_definition", "object_definition", "enum_definition"
        )
        + "\n"
        + named("function", "function_definition", "function_declaration")
        + "\n"
        + named("type", "type_definition"),
        ("identifier", "type_identifier"),
    ),
    "go": QuerySet(
        """
(type_spec name: (_) @def.type)
(function_declaration name: (_) @def.function)
(method_declaration name: (_) @def.method)
(method_elem name: (_) @def.method)
(source_file (const_declaration (const_spec name: (_) @def.const)))
(source_file (var_declaration (var_spec name: (_) @def.var)))
""",
        ("identifier", "type_identifier", "field_identifier"),
        ("import_declaration", "package_clause"),
    ),
    "rust": QuerySet(
        named("type", "struct_item", "enum_item", "union_item", "trait_item", "type_item")
        + "\n"
        + named("function", "function_item", "function_signature_item")
        + "\n"
        + named("const", "const_item", "static_item")
        + "\n"
        + named("macro", "macro_definition")
        + "\n"
        + named("module", "mod_item"),
        ("identifier", "type_identifier", "field_identifier"),
    ),
    "c": QuerySet(_C_FUNCTIONS, _C_REFS),
    "cpp": QuerySet(_CPP, (*_C_REFS, "namespace_identifier")),
    "cuda": QuerySet(_CPP, (*_C_REFS, "namespace_identifier")),
    "glsl": QuerySet(_C_FUNCTIONS, _C_REFS),
    "csharp": QuerySet(
        named("class", "class_declaration", "struct_declaration", "record_declaration")
        + "\n"
        + named("interface", "interface_declaration")
        + "\n"
        + named("enum", "enum_declaration")
        + "\n"
        + named("namespace", "namespace_declaration")
        + "\n"
        + named("method", "method_declaration", "constructor_declaration")
        + "\n"
        + named("property", "property_declaration")
        + "\n"
        + named("delegate", "delegate_declaration"),
    ),
    "objc": QuerySet(
        _C_FUNCTIONS
        + """
(class_interface . (identifier) @def.class)
(class_implementation . (identifier) @def.class)
(protocol_declaration . (identifier) @def.protocol)
(method_declaration (method_type) . (identifier) @def.method)
(method_definition (method_type) . (identifier) @def.method)
""",
        _C_REFS,
    ),
    "swift": QuerySet(
        named("class", "class_declaration")
        + "\n"
        + named("protocol", "protocol_declaration")
        + "\n"
        + named("function", "function_declaration", "protocol_function_declaration")
        + "\n"
        + named("type", "typealias_declaration"),
        ("simple_identifier", "type_identifier"),
    ),
    "dart": QuerySet(
        named("class", "class_definition")
        + "\n"
        + named("enum", "enum_declaration")
        + "\n"
        + named("function", "function_signature"),
        ("identifier", "type_identifier"),
    ),
    "ruby": QuerySet(
        named("class", "class")
        + "\n"
        + named("module", "module")
        + "\n"
        + named("method", "method", "singleton_method")
        + "\n(assignment left: (constant) @def.const)",
        ("identifier", "constant"),
    ),
    "php": QuerySet(
        named("class", "class_declaration", "trait_declaration", "enum_declaration")
        + "\n"
        + named("interface", "interface_declaration")
        + "\n"
        + named("function", "function_definition", "method_declaration")
        + "\n(const_element (name) @def.const)",
        ("name",),
    ),
    "lua": QuerySet(_LUA),
    "luau": QuerySet(_LUA + "\n" + named("type", "type_definition")),
    "bash": QuerySet(named("function", "function_definition"), "(command_name (word) @ref)"),
    "r": QuerySet("(binary_operator lhs: (identifier) @def.function rhs: (function_definition))"),
    "julia": QuerySet("""
(struct_definition (type_head (identifier) @def.struct))
(abstract_definition (type_head (identifier) @def.type))
(function_definition (signature (call_expression . (identifier) @def.function)))
(module_definition name: (_) @def.module)
"""),
    "haskell": QuerySet(
        named("type", "data_type", "newtype", "type_synomym")
        + "\n"
        + named("class", "class")
        + "\n"
        + named("function", "signature"),
        ("variable", "name", "constructor"),
    ),
    "ocaml": QuerySet(
        """
(type_binding name: (_) @def.type)
(compilation_unit (value_definition (let_binding pattern: (value_name) @def.function)))
(structure (value_definition (let_binding pattern: (value_name) @def.function)))
(module_binding (module_name) @def.module)
(exception_definition (constructor_declaration (constructor_name) @def.exception))
""",
        ("value_name", "type_constructor", "module_name", "constructor_name"),
    ),
    "elixir": QuerySet(
        """
(call target: (identifier) @_k (arguments [
  (call target: (identifier) @def.function)
  (identifier) @def.function
  (binary_operator left: (call target: (identifier) @def.function))])
  (#any-of? @_k "def" "defp" "defmacro" "defmacrop" "defguard" "defdelegate"))
(call target: (identifier) @_k (arguments (alias) @def.module)
  (#any-of? @_k "defmodule" "defprotocol"))
""",
        "(call target: (identifier) @ref) (alias) @ref",
    ),
    "erlang": QuerySet(
        """
(fun_decl . (function_clause name: (atom) @def.function))
(record_decl name: (_) @def.record)
""",
        ("atom",),
    ),
    "elm": QuerySet(
        named("type", "type_declaration", "type_alias_declaration")
        + "\n"
        + named("function", "type_annotation"),
        ("lower_case_identifier", "upper_case_identifier"),
    ),
    "clojure": QuerySet(
        """
(list_lit . (sym_lit name: (sym_name) @_k) . (sym_lit name: (sym_name) @def.function)
  (#any-of? @_k "defn" "defn-" "def" "defmacro" "defprotocol" "defrecord" "deftype"
                "defmulti" "definterface" "defonce"))
""",
        ("sym_name",),
    ),
    "commonlisp": QuerySet(
        """
(defun_header function_name: (_) @def.function)
(list_lit . (sym_lit) @_k . (sym_lit) @def.class
  (#any-of? @_k "defclass" "defstruct" "defvar" "defparameter" "defconstant" "defgeneric"))
""",
        ("sym_lit",),
    ),
    "zig": QuerySet(
        """
(Decl (VarDecl variable_type_function: (IDENTIFIER) @def.const))
(FnProto function: (IDENTIFIER) @def.function)
""",
        ("IDENTIFIER",),
    ),
    "d": QuerySet("""
(struct_declaration (identifier) @def.struct)
(class_declaration (identifier) @def.class)
(interface_declaration (identifier) @def.interface)
(enum_declaration (identifier) @def.enum)
(function_declaration (identifier) @def.function)
"""),
    "fortran": QuerySet("""
(module_statement (name) @def.module)
(program_statement (name) @def.program)
(subroutine_statement name: (_) @def.function)
(function_statement name: (_) @def.function)
"""),
    "pascal": QuerySet(named("function", "declProc")),
    "solidity": QuerySet(
        named(
            "type",
            "contract_declaration",
            "interface_declaration",
            "library_declaration",
            "struct_declaration",
            "enum_declaration",
            "event_definition",
        )
        + "\n"
        + named("function", "function_definition", "modifier_definition")
    ),
    "gleam": QuerySet(
        """
(type_definition (type_name name: (_) @def.type))
(type_alias (type_name name: (_) @def.type))
(function name: (_) @def.function)
(constant name: (_) @def.const)
""",
        ("identifier", "type_identifier", "constructor_name"),
    ),
    "fsharp": QuerySet("""
(type_name type_name: (_) @def.type)
(function_declaration_left . (identifier) @def.function)
"""),
    "haxe": QuerySet(
        named("type", "class_declaration", "interface_declaration", "typedef_declaration")
        + "\n"
        + named("function", "function_declaration"),
    ),
    "odin": QuerySet("""
(struct_declaration . (identifier) @def.struct)
(enum_declaration (identifier) @def.enum)
(union_declaration . (identifier) @def.union)
(procedure_declaration . (identifier) @def.function)
"""),
    "proto": QuerySet("""
(message (message_name (identifier) @def.message))
(enum (enum_name (identifier) @def.enum))
(service (service_name (identifier) @def.service))
(rpc (rpc_name (identifier) @def.rpc))
"""),
    "hcl": QuerySet(
        """
(block . (identifier) @_k . (string_lit) . (string_lit (template_literal) @def.resource)
  (#any-of? @_k "resource" "data"))
(block . (identifier) @_k . (string_lit (template_literal) @def.block)
  (#any-of? @_k "variable" "module" "output"))
""",
        "(get_attr (identifier) @ref)",
    ),
    "powershell": QuerySet(
        """
(function_statement (function_name) @def.function)
(class_statement . (simple_name) @def.class)
(class_method_definition (simple_name) @def.method)
""",
        "(command_name) @ref (type_identifier) @ref",
    ),
    "tcl": QuerySet(named("function", "procedure"), "(command name: (simple_word) @ref)"),
    "verilog": QuerySet(
        """
(module_header (simple_identifier) @def.module)
(function_body_declaration (function_identifier) @def.function)
""",
        ("simple_identifier",),
    ),
    "vhdl": QuerySet(
        named("entity", "entity_declaration")
        + "\n"
        + named("architecture", "architecture_body")
        + "\n"
        + named("package", "package_declaration"),
        ("identifier", "simple_name"),
    ),
    "ada": QuerySet(
        named("package", "package_body", "package_declaration")
        + "\n"
        + named("function", "function_specification", "procedure_specification"),
    ),
    "elisp": QuerySet(
        named("function", "function_definition", "macro_definition")
        + '\n(special_form . ["defvar" "defconst"] . (symbol) @def.var)',
        ("symbol",),
    ),
    "scheme": QuerySet(_LISP_DEFINE, ("symbol",)),
    "racket": QuerySet(_LISP_DEFINE, ("symbol",)),
    "purescript": QuerySet(
        """
(data name: (_) @def.type)
(signature name: (_) @def.function)
(class_declaration (class_head (class_name (type) @def.class)))
""",
        ("variable", "type"),
    ),
    "gdscript": QuerySet(
        named("type", "class_name_statement", "class_definition", "enum_definition")
        + "\n"
        + named("const", "const_statement")
        + "\n"
        + named("function", "function_definition")
        + "\n"
        + named("signal", "signal_statement"),
        ("identifier", "name"),
    ),
    "thrift": QuerySet(
        named(
            "type",
            "struct_definition",
            "union_definition",
            "service_definition",
            "enum_definition",
            field="type",
        )
        + "\n(function_definition (identifier) @def.function)"
    ),
    "graphql": QuerySet(
        """
(object_type_definition (name) @def.type)
(interface_type_definition (name) @def.interface)
(enum_type_definition (name) @def.enum)
(input_object_type_definition (name) @def.input)
(union_type_definition (name) @def.union)
(operation_definition (name) @def.operation)
(fragment_definition (fragment_name (name) @def.fragment))
""",
        "(named_type (name) @ref)",
    ),
    "matlab": QuerySet(
        named("function", "function_definition") + "\n" + named("class", "class_definition")
    ),
    "nix": QuerySet(
        "(binding attrpath: (attrpath . (identifier) @def.attr))",
        "(variable_expression name: (identifier) @ref)"
        " (select_expression attrpath: (attrpath (identifier) @ref))",
    ),
}
