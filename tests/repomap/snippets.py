# ruff: noqa: E501 - one source file a line reads best as data
"""One small source file per language: (file name, text, definitions the map must find)."""

SNIPPETS: dict[str, tuple[str, str, set[str]]] = {
    "python": (
        "m.py",
        "LIMIT = 3\nclass Shape:\n    def area(self):\n        return size(self)\n",
        {"LIMIT", "Shape", "area"},
    ),
    "starlark": (
        "defs.bzl",
        "def cc_rule(name):\n    native.cc_library(name = name)\n",
        {"cc_rule"},
    ),
    "javascript": (
        "m.js",
        "class Shape {\n  area() { return size(this); }\n}\nfunction grow(s) { return s; }\nconst LIMIT = () => 1;\n",
        {"Shape", "area", "grow", "LIMIT"},
    ),
    "typescript": (
        "m.ts",
        "interface Sized { size: number }\ntype Id = string;\nclass Shape implements Sized {\n  size = 1;\n  area(): number { return grow(this); }\n}\nenum Color { Red }\nfunction grow(s: Shape): number { return 1; }\n",
        {"Sized", "Id", "Shape", "area", "Color", "grow"},
    ),
    "tsx": (
        "m.tsx",
        "interface Props { n: number }\nexport function View(p: Props) { return <div>{p.n}</div>; }\n",
        {"Props", "View"},
    ),
    "java": (
        "M.java",
        "interface Sized { int size(); }\nclass Shape implements Sized {\n  static final int LIMIT = 3;\n  public int size() { return grow(1); }\n}\nenum Color { RED }\nrecord Point(int x) {}\n",
        {"Sized", "size", "Shape", "Color", "Point"},
    ),
    "kotlin": (
        "m.kt",
        "interface Sized\nclass Shape : Sized {\n  fun area(): Int = grow(1)\n}\nobject Registry\nfun grow(n: Int): Int = n\ntypealias Id = String\n",
        {"Sized", "Shape", "area", "Registry", "grow", "Id"},
    ),
    "scala": (
        "m.scala",
        "trait Sized\nclass Shape extends Sized {\n  def area: Int = grow(1)\n}\nobject Registry\ntype Id = String\n",
        {"Sized", "Shape", "area", "Registry", "Id"},
    ),
    "go": (
        "m.go",
        "package m\n\ntype Shape struct{ n int }\ntype Sized interface{ Size() int }\n\nfunc (s Shape) Area() int { return grow(s.n) }\nfunc grow(n int) int { return n }\nconst Limit = 3\nvar Default = Shape{}\n",
        {"Shape", "Sized", "Area", "grow", "Limit", "Default"},
    ),
    "rust": (
        "m.rs",
        "struct Shape { n: i32 }\ntrait Sized2 { fn size(&self) -> i32; }\nimpl Shape { fn area(&self) -> i32 { grow(self.n) } }\nenum Color { Red }\nfn grow(n: i32) -> i32 { n }\nconst LIMIT: i32 = 3;\ntype Id = String;\nmacro_rules! twice { ($e:expr) => { $e * 2 } }\nmod inner {}\n",
        {"Shape", "Sized2", "size", "area", "Color", "grow", "LIMIT", "Id", "twice", "inner"},
    ),
    "c": (
        "m.c",
        "#define LIMIT 3\nstruct shape { int n; };\ntypedef struct shape shape_t;\nenum color { RED };\nint grow(int n) { return area(n); }\n",
        {"LIMIT", "shape", "shape_t", "color", "grow"},
    ),
    "cpp": (
        "m.cpp",
        "namespace geo {\nclass Shape {\n public:\n  int area() const;\n};\nint Shape::area() const { return grow(1); }\nint grow(int n) { return n; }\ntemplate <typename T> struct Box { T v; };\n}\n",
        {"geo", "Shape", "area", "grow", "Box"},
    ),
    "csharp": (
        "M.cs",
        "namespace Geo {\ninterface ISized { int Size(); }\nclass Shape : ISized {\n  public int Size() { return Grow(1); }\n  public int Count { get; set; }\n}\nenum Color { Red }\nstruct Point { }\nrecord Pair(int A);\n}\n",
        {"Geo", "ISized", "Size", "Shape", "Count", "Color", "Point", "Pair"},
    ),
    "objc": (
        "m.m",
        "@interface Shape : NSObject\n- (int)area;\n@end\n@implementation Shape\n- (int)area { return grow(1); }\n@end\nint grow(int n) { return n; }\n",
        {"Shape", "area", "grow"},
    ),
    "swift": (
        "m.swift",
        "protocol Sized { func size() -> Int }\nclass Shape: Sized {\n  func size() -> Int { return grow(1) }\n}\nstruct Point {}\nenum Color { case red }\nfunc grow(_ n: Int) -> Int { n }\n",
        {"Sized", "size", "Shape", "Point", "Color", "grow"},
    ),
    "dart": (
        "m.dart",
        "abstract class Sized { int size(); }\nclass Shape extends Sized {\n  int size() => grow(1);\n}\nenum Color { red }\nint grow(int n) => n;\n",
        {"Sized", "size", "Shape", "Color", "grow"},
    ),
    "ruby": (
        "m.rb",
        "module Geo\n  class Shape\n    def area\n      grow(1)\n    end\n    def self.build; end\n  end\nend\nLIMIT = 3\n",
        {"Geo", "Shape", "area", "build", "LIMIT"},
    ),
    "php": (
        "m.php",
        "<?php\ninterface Sized { function size(); }\nclass Shape implements Sized {\n  function size() { return grow(1); }\n}\ntrait Named {}\nfunction grow($n) { return $n; }\nconst LIMIT = 3;\n",
        {"Sized", "size", "Shape", "Named", "grow", "LIMIT"},
    ),
    "lua": (
        "m.lua",
        "local function grow(n) return n end\nfunction Shape.area(s) return grow(s) end\nfunction build() end\n",
        {"grow", "area", "build"},
    ),
    "bash": ("m.sh", "grow() { echo 1; }\nfunction build { grow; }\n", {"grow", "build"}),
    "r": ("m.R", "grow <- function(n) { n }\narea = function(s) grow(s)\n", {"grow", "area"}),
    "julia": (
        "m.jl",
        "struct Shape\n  n::Int\nend\nfunction area(s::Shape)\n  grow(s.n)\nend\nabstract type Sized end\nmodule Geo end\n",
        {"Shape", "area", "Sized", "Geo"},
    ),
    "haskell": (
        "M.hs",
        "module M where\ndata Shape = Shape Int\nclass Sized a where\n  size :: a -> Int\narea :: Shape -> Int\narea (Shape n) = grow n\ntype Id = String\n",
        {"Shape", "Sized", "area", "Id"},
    ),
    "ocaml": (
        "m.ml",
        "type shape = { n : int }\nlet area s = grow s.n\nmodule Geo = struct end\nexception Bad\n",
        {"shape", "area", "Geo", "Bad"},
    ),
    "elixir": (
        "m.ex",
        "defmodule Geo.Shape do\n  def area(s), do: grow(s)\n  defp grow(n), do: n\n  defmacro twice(x), do: x\nend\n",
        {"Geo.Shape", "area", "grow", "twice"},
    ),
    "erlang": (
        "m.erl",
        "-module(m).\n-record(shape, {n}).\narea(S) -> grow(S).\ngrow(N) -> N.\n",
        {"shape", "area", "grow"},
    ),
    "elm": (
        "M.elm",
        "module M exposing (..)\ntype Shape = Shape Int\ntype alias Id = String\narea : Shape -> Int\narea s = grow s\n",
        {"Shape", "Id", "area"},
    ),
    "clojure": (
        "m.clj",
        "(ns geo.shape)\n(defn area [s] (grow s))\n(def limit 3)\n(defmacro twice [x] x)\n",
        {"area", "limit", "twice"},
    ),
    "commonlisp": (
        "m.lisp",
        "(defun area (s) (grow s))\n(defmacro twice (x) x)\n(defclass shape () ())\n",
        {"area", "twice", "shape"},
    ),
    "zig": (
        "m.zig",
        "const Shape = struct { n: i32 };\nfn grow(n: i32) i32 { return area(n); }\npub fn area(n: i32) i32 { return n; }\n",
        {"Shape", "grow", "area"},
    ),
    "d": (
        "m.d",
        "struct Shape { int n; }\nclass Box {}\ninterface Sized {}\nint grow(int n) { return area(n); }\nenum Color { red }\n",
        {"Shape", "Box", "Sized", "grow", "Color"},
    ),
    "fortran": (
        "m.f90",
        "module geo\ncontains\n  subroutine grow(n)\n    integer :: n\n  end subroutine grow\n  function area(s) result(r)\n    integer :: s, r\n    r = s\n  end function area\nend module geo\n",
        {"geo", "grow", "area"},
    ),
    "pascal": (
        "m.pas",
        "program M;\nfunction Grow(n: Integer): Integer;\nbegin\n  Grow := n;\nend;\nprocedure Build;\nbegin\nend;\nbegin\nend.\n",
        {"Grow", "Build"},
    ),
    "solidity": (
        "m.sol",
        "contract Token {\n  struct Slot { uint n; }\n  event Moved(uint n);\n  function move(uint n) public { grow(n); }\n}\ninterface IToken {}\n",
        {"Token", "Slot", "Moved", "move", "IToken"},
    ),
    "gleam": (
        "m.gleam",
        "pub type Shape {\n  Shape(n: Int)\n}\npub fn area(s: Shape) -> Int {\n  grow(s)\n}\nconst limit = 3\n",
        {"Shape", "area", "limit"},
    ),
    "fsharp": (
        "m.fs",
        "module Geo\ntype Shape = { N: int }\nlet area s = grow s\n",
        {"Shape", "area"},
    ),
    "haxe": (
        "M.hx",
        "class Shape {\n  public function area():Int { return grow(1); }\n}\ninterface Sized {}\n",
        {"Shape", "area", "Sized"},
    ),
    "odin": (
        "m.odin",
        "package m\nShape :: struct { n: int }\ngrow :: proc(n: int) -> int { return area(n) }\n",
        {"Shape", "grow"},
    ),
    "cuda": (
        "m.cu",
        "__global__ void grow(int *n) { area(n); }\nstruct Shape { int n; };\n",
        {"grow", "Shape"},
    ),
    "proto": (
        "m.proto",
        'syntax = "proto3";\nmessage Shape { int32 n = 1; }\nenum Color { RED = 0; }\nservice Geo { rpc Area(Shape) returns (Shape); }\n',
        {"Shape", "Color", "Geo", "Area"},
    ),
    "hcl": (
        "main.tf",
        'resource "aws_s3_bucket" "logs" {\n  name = var.name\n}\nvariable "name" {}\nmodule "net" {}\n',
        {"logs", "name", "net"},
    ),
    "powershell": (
        "m.ps1",
        "function Get-Area($s) { Grow $s }\nclass Shape { [int] Area() { return 1 } }\n",
        {"Get-Area", "Shape", "Area"},
    ),
    "tcl": (
        "m.tcl",
        "proc grow {n} { return [area $n] }\nproc area {n} { return $n }\n",
        {"grow", "area"},
    ),
    "verilog": (
        "m.v",
        "module counter(input clk);\n  function integer grow(input integer n); grow = n; endfunction\nendmodule\n",
        {"counter", "grow"},
    ),
    "vhdl": (
        "m.vhd",
        "entity counter is\nend entity counter;\narchitecture rtl of counter is\nbegin\nend architecture rtl;\n",
        {"counter", "rtl"},
    ),
    "ada": (
        "m.adb",
        "package body Geo is\n   function Area (N : Integer) return Integer is\n   begin\n      return Grow (N);\n   end Area;\n   procedure Build is\n   begin\n      null;\n   end Build;\nend Geo;\n",
        {"Geo", "Area", "Build"},
    ),
    "elisp": (
        "m.el",
        "(defun geo-area (s) (geo-grow s))\n(defvar geo-limit 3)\n(defmacro geo-twice (x) x)\n",
        {"geo-area", "geo-limit", "geo-twice"},
    ),
    "scheme": ("m.scm", "(define (area s) (grow s))\n(define limit 3)\n", {"area", "limit"}),
    "racket": (
        "m.rkt",
        "#lang racket\n(define (area s) (grow s))\n(define limit 3)\n",
        {"area", "limit"},
    ),
    "purescript": (
        "M.purs",
        "module M where\ndata Shape = Shape Int\narea :: Shape -> Int\narea (Shape n) = grow n\nclass Sized a where\n  size :: a -> Int\n",
        {"Shape", "area", "Sized"},
    ),
    "gdscript": (
        "m.gd",
        "class_name Shape\nconst LIMIT = 3\nfunc area():\n\treturn grow(1)\nsignal moved\n",
        {"Shape", "LIMIT", "area", "moved"},
    ),
    "luau": (
        "m.luau",
        "local function grow(n: number): number return n end\nfunction Shape.area(s) return grow(s) end\ntype Id = string\n",
        {"grow", "area", "Id"},
    ),
    "thrift": (
        "m.thrift",
        "struct Shape { 1: i32 n }\nservice Geo { Shape area(1: Shape s) }\nenum Color { RED }\n",
        {"Shape", "Geo", "area", "Color"},
    ),
    "graphql": (
        "m.graphql",
        "type Shape { n: Int }\ninterface Sized { size: Int }\nquery Area { shape { n } }\n",
        {"Shape", "Sized", "Area"},
    ),
    "matlab": ("m.m", "function r = area(s)\n  r = grow(s);\nend\n", {"area"}),
    "nix": (
        "default.nix",
        "{ pkgs }:\nlet\n  grow = n: n;\nin {\n  area = grow 1;\n}\n",
        {"grow", "area"},
    ),
    "glsl": (
        "m.glsl",
        "struct Light { vec3 pos; };\nfloat shade(Light l) { return dim(l.pos.x); }\n",
        {"Light", "shade"},
    ),
}
