#!/usr/bin/env python3
"""Syntax-checks Swift and Dart sources with tree-sitter grammars.

No Swift or Dart compiler runs on the project's machines, so CI parses every
hand-written `.swift` and `.dart` file and fails on the first syntax error,
printing file:line:column. Generated bindings are parsed leniently
(`--generated`): uniffi's Swift uses `#if swift(>=5.8)` attribute blocks the
grammar does not know, so there only the count of error nodes is reported.

Usage: parse-check.py [--generated GLOB ...] PATH...
"""

from __future__ import annotations

import argparse
import fnmatch
import pathlib
import sys

import tree_sitter
import tree_sitter_dart
import tree_sitter_swift

LANGUAGES = {
    ".swift": tree_sitter.Language(tree_sitter_swift.language()),
    ".dart": tree_sitter.Language(tree_sitter_dart.language()),
}
SKIP_DIRS = {".build", "build", ".dart_tool", "target", ".git", "node_modules", "Pods"}


def errors(tree: tree_sitter.Tree) -> list[tree_sitter.Node]:
    """Every ERROR or MISSING node, outermost first."""
    found: list[tree_sitter.Node] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            found.append(node)
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return found


def sources(paths: list[str]) -> list[pathlib.Path]:
    files: list[pathlib.Path] = []
    for raw in paths:
        path = pathlib.Path(raw)
        if path.is_file():
            files.append(path)
            continue
        for candidate in sorted(path.rglob("*")):
            if SKIP_DIRS.intersection(candidate.parts):
                continue
            if candidate.is_file() and candidate.suffix in LANGUAGES:
                files.append(candidate)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", action="append", default=[],
                        help="glob of generated files to report but not fail on")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()

    failed = 0
    checked = 0
    for path in sources(args.paths):
        language = LANGUAGES.get(path.suffix)
        if language is None:
            print(f"{path}: not a .swift or .dart file", file=sys.stderr)
            failed += 1
            continue
        tree = tree_sitter.Parser(language).parse(path.read_bytes())
        found = errors(tree)
        checked += 1
        generated = any(fnmatch.fnmatch(str(path), pattern) for pattern in args.generated)
        if generated:
            print(f"{path}: generated, {len(found)} grammar error node(s) (not failing)")
            continue
        for node in found:
            line, column = node.start_point
            kind = "missing " + node.type if node.is_missing else "syntax error"
            print(f"{path}:{line + 1}:{column + 1}: {kind}", file=sys.stderr)
        if found:
            failed += 1
    print(f"parse-check: {checked} file(s), {failed} with errors")
    if checked == 0:
        print("parse-check: no .swift or .dart files found under the given paths", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
