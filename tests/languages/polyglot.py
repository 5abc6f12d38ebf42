"""Polyglot fixture repositories, written file by file into a temporary folder."""

from pathlib import Path

# One small project per language, each in its own folder, as a monorepo would hold them.
POLYGLOT = {
    "py/pyproject.toml": "[project]\nname = 'calc'\n",
    "py/calc.py": "def add(a, b):\n    return a + b\n",
    "web/package.json": '{"name": "web", "scripts": {"test": "node --test"}}\n',
    "web/index.js": "export const add = (a, b) => a + b;\n",
    "ui/tsconfig.json": "{}\n",
    "ui/app.tsx": "export const App = () => null;\n",
    "svc/go.mod": "module example.com/svc\n\ngo 1.22\n",
    "svc/main.go": "package main\n\nfunc main() {}\n",
    "core/Cargo.toml": '[package]\nname = "core"\nversion = "0.1.0"\n',
    "core/src/lib.rs": "pub fn add(a: i32, b: i32) -> i32 { a + b }\n",
    "jvm/pom.xml": "<project/>\n",
    "jvm/src/main/java/App.java": "class App {}\n",
    "kt/build.gradle.kts": "plugins {}\n",
    "kt/src/Main.kt": "fun main() {}\n",
    "native/CMakeLists.txt": "project(native C)\n",
    "native/main.c": "int main(void) { return 0; }\n",
    "native/util.cpp": "int twice(int x) { return 2 * x; }\n",
    "dotnet/App.csproj": "<Project/>\n",
    "dotnet/Program.cs": "class Program { static void Main() {} }\n",
    "rb/Gemfile": "source 'https://rubygems.org'\n",
    "rb/lib/calc.rb": "def add(a, b) = a + b\n",
    "php/composer.json": "{}\n",
    "php/src/Calc.php": "<?php function add($a, $b) { return $a + $b; }\n",
    "swift/Package.swift": "// swift-tools-version:5.9\n",
    "swift/Sources/main.swift": "print(1)\n",
    "scripts/deploy.sh": "#!/bin/sh\necho deploy\n",
    # Dependencies and build output must not count.
    "web/node_modules/left-pad/index.rb": "puts 1\n",
    "core/target/debug/build.kt": "fun x() {}\n",
}

ALL_LANGUAGES = [
    "python", "javascript", "typescript", "go", "rust", "java", "kotlin", "c", "cpp", "csharp",
    "ruby", "php", "swift", "shell",
]  # fmt: skip


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
