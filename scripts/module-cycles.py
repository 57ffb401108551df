#!/usr/bin/env python3
"""Fails when modules of one crate import each other in a circle.

For each crate directory given, reads every `.rs` file under its `src/`, finds the paths it
names inside the crate (`use` trees, and `crate::` / `super::` / `self::` paths in code), and
draws an edge between two sibling modules (two top-level modules, or two submodules of one
directory module) when code in one names the other. A child naming an item of its parent, or a
parent naming its child, is no edge. `pub use` re-exports are followed, so `crate::Item`
re-exported from `crate::a::Item` counts as naming `a`. Any strongly connected set of siblings
is reported with the line behind each edge of one circle through it.

Usage: module-cycles.py CRATE_DIR...
"""

import argparse
import re
import sys
from pathlib import Path

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|::|\S")


def strip_comments_and_literals(text):
    """Blanks comments, strings and char literals (keeping line breaks), leaving lifetimes."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
        elif (raw := re.match(r'b?r(#*)"', text[i:])) and (i == 0 or not is_ident(text[i - 1])):
            closing = '"' + raw.group(1)
            end = text.find(closing, i + raw.end())
            end = n if end < 0 else end + len(closing)
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}'), or else a lifetime or label ('a).
            literal = re.match(r"'(\\u\{[0-9a-fA-F]*\}|\\.|[^\\'])'", text[i:])
            if literal:
                out.append("' '")
                i += literal.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def is_ident(c):
    return c.isalnum() or c == "_"


def tokens_with_lines(text):
    line = 1
    last = 0
    for match in TOKEN.finditer(text):
        line += text.count("\n", last, match.start())
        last = match.start()
        yield match.group(), line


def use_tree(tokens):
    """The (path, name it binds) pairs of the tokens of a use tree (after `use`, before `;`)."""
    results = []

    def finish(path, alias):
        if path and path[-1] == "self":
            path = path[:-1]
        if path:
            results.append((path, alias or path[-1]))

    def branch(pos, prefix):
        path = list(prefix)
        while pos < len(tokens):
            token = tokens[pos]
            if token == "::":
                pos += 1
            elif token == "{":
                pos += 1
                while pos < len(tokens) and tokens[pos] != "}":
                    pos = branch(pos, path)
                    if pos < len(tokens) and tokens[pos] == ",":
                        pos += 1
                return pos + 1
            elif token == "*":
                results.append((path, "*"))
                return pos + 1
            elif token in (",", "}"):
                break
            elif token == "as":
                finish(path, tokens[pos + 1] if pos + 1 < len(tokens) else None)
                return pos + 2
            else:
                path.append(token)
                pos += 1
        finish(path, None)
        return pos

    branch(0, [])
    return results


def module_path(src, file):
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts in (["lib"], ["main"]):
        return ()
    if parts[-1] == "mod":
        parts.pop()
    return tuple(parts)


class Crate:
    def __init__(self, root):
        self.root = root
        self.src = root / "src"
        self.modules = set()
        # (module, name) -> absolute path it re-exports, from `pub use`.
        self.reexports = {}
        # (module, absolute path, file, line), for every path named.
        self.references = []
        files = sorted(self.src.rglob("*.rs"))
        for file in files:
            self.modules.add(module_path(self.src, file))
        for file in files:
            self.read(file)

    def read(self, file):
        base = module_path(self.src, file)
        text = strip_comments_and_literals(file.read_text())
        tokens = list(tokens_with_lines(text))
        inline = []  # (name, brace depth inside it)
        depth = 0
        i = 0
        while i < len(tokens):
            token, line = tokens[i]
            here = base + tuple(name for name, _ in inline)
            if token == "mod" and i + 2 < len(tokens) and tokens[i + 2][0] == "{":
                inline.append((tokens[i + 1][0], depth + 1))
                self.modules.add(here + (tokens[i + 1][0],))
                depth += 1
                i += 3
                continue
            if token == "{":
                depth += 1
            elif token == "}":
                if inline and inline[-1][1] == depth:
                    inline.pop()
                depth -= 1
            elif token == "use" and (i == 0 or tokens[i - 1][0] != "$"):
                end = i + 1
                while end < len(tokens) and tokens[end][0] != ";":
                    end += 1
                public = i > 0 and (tokens[i - 1][0] == "pub" or tokens[i - 1][0] == ")")
                for path, alias in use_tree([t for t, _ in tokens[i + 1 : end]]):
                    absolute = self.resolve(here, path)
                    if absolute is None:
                        continue
                    self.references.append((here, absolute, file, line))
                    if public and alias not in ("*", "self"):
                        self.reexports[(here, alias)] = absolute
                i = end + 1
                continue
            elif token in ("crate", "super", "self") and (i == 0 or tokens[i - 1][0] != "$"):
                path = [token]
                j = i + 1
                while j + 1 < len(tokens) and tokens[j][0] == "::" and is_ident(tokens[j + 1][0][0]):
                    path.append(tokens[j + 1][0])
                    j += 2
                if len(path) > 1:
                    absolute = self.resolve(here, path)
                    if absolute is not None:
                        self.references.append((here, absolute, file, line))
                    i = j
                    continue
            i += 1

    def resolve(self, here, path):
        """The absolute segments of `path` named in module `here`, or None outside the crate."""
        first, rest = path[0], list(path[1:])
        if first == "crate":
            start = ()
        elif first == "self":
            start = here
        elif first == "super":
            start = here[:-1]
            while rest and rest[0] == "super":
                start, rest = start[:-1], rest[1:]
        elif here + (first,) in self.modules:
            start, rest = here, list(path)
        else:
            return None  # another crate, or a name in scope
        return start + tuple(rest)

    def target_module(self, path, hops=0):
        """The module that an absolute path names, following `pub use` re-exports."""
        for length in range(len(path), -1, -1):
            if path[:length] in self.modules:
                module = path[:length]
                if length < len(path) and (module, path[length]) in self.reexports and hops < 8:
                    target = self.reexports[(module, path[length])] + path[length + 1 :]
                    return self.target_module(target, hops + 1)
                return module
        return ()

    def edges(self):
        """{(parent, from child, to child): (file, line, path)}, one example each."""
        found = {}
        for here, path, file, line in self.references:
            there = self.target_module(path)
            k = 0
            while k < min(len(here), len(there)) and here[k] == there[k]:
                k += 1
            if k < len(here) and k < len(there):
                key = (here[:k], here[k], there[k])
                found.setdefault(key, (file, line, path))
        return found


def strongly_connected(nodes, successors):
    """Tarjan's algorithm: the strongly connected sets of two or more nodes."""
    index, low, on_stack, stack, sets = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for next_node in sorted(successors.get(node, ())):
            if next_node not in index:
                visit(next_node)
                low[node] = min(low[node], low[next_node])
            elif next_node in on_stack:
                low[node] = min(low[node], index[next_node])
        if low[node] == index[node]:
            members = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.add(member)
                if member == node:
                    break
            if len(members) > 1:
                sets.append(members)

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return sets


def circle_through(start, members, successors):
    """A shortest circle from `start` back to it, inside `members`."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for next_node in sorted(successors.get(node, ())):
            if next_node == start:
                return paths[node] + [start]
            if next_node in members and next_node not in paths:
                paths[next_node] = paths[node] + [next_node]
                queue.append(next_node)
    return [start]


def check(crate):
    """Prints every circle of `crate`; returns whether there was one."""
    edges = crate.edges()
    by_parent = {}
    for parent, source, target in edges:
        by_parent.setdefault(parent, {}).setdefault(source, set()).add(target)
    found = False
    for parent, successors in sorted(by_parent.items()):
        nodes = set(successors) | {t for ts in successors.values() for t in ts}
        for members in strongly_connected(nodes, successors):
            found = True
            circle = circle_through(min(members), members, successors)
            scope = "".join(f"{name}::" for name in ("crate",) + parent)
            message = f"architecture: modules of {crate.root} import each other in a circle: "
            message += " → ".join(scope + name for name in circle)
            if len(members) > len(circle) - 1:
                message += f" (and all of {', '.join(sorted(members))} are tangled)"
            print(message, file=sys.stderr)
            for source, target in zip(circle, circle[1:]):
                file, line, path = edges[(parent, source, target)]
                print(
                    f"    {source} → {target}: {file}:{line} names crate::{'::'.join(path)}",
                    file=sys.stderr,
                )
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crates", nargs="+", type=Path)
    args = parser.parse_args()
    failed = False
    for root in args.crates:
        if check(Crate(root)):
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
