"""The repo map: definitions and references of the workspace's source files (tree-sitter),
ranked for a task and fitted to a token budget. Entry points are in build.py."""
