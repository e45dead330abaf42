#!/usr/bin/env python3
"""Checks every .tf file under the given directories without Terraform:
each must parse (python-hcl2) and be laid out the way `terraform fmt` lays it
out: two-space indentation by nesting depth, no tabs or trailing spaces, and
the `=` of consecutive single-line attributes aligned one space after the
longest name (hclwrite's rule: a line that opens a multi-line value, a blank
line, a comment or a brace ends the run)."""

import re
import sys
from pathlib import Path

import hcl2

ATTRIBUTE = re.compile(r'^(\s*)([A-Za-z0-9_"\-./]+)(\s*)=(?!=)\s*(.*)$')
HEREDOC = re.compile(r'<<-?([A-Z_]+)\s*$')


def bracket_change(text):
    """Net opened brackets in `text`, ignoring what is inside string literals."""
    net, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "#":
            break
        elif ch in "([{":
            net += 1
        elif ch in ")]}":
            net -= 1
    return net


def style_problems(path):
    problems = []
    lines = path.read_text().split("\n")
    if lines and lines[-1] != "":
        problems.append(f"{path}: no newline at the end")
    # Like hclwrite: a line that opens brackets pushes ONE indent level however
    # many it opens (`jsonencode({`), and closing them pops it again.
    levels, heredoc, chain = [], None, []

    def close_chain():
        if len(chain) > 1:
            column = max(len(indent) + len(name) for _, indent, name, _ in chain) + 1
            for number, indent, name, gap in chain:
                if len(indent) + len(name) + len(gap) != column:
                    problems.append(f"{path}:{number}: '=' not aligned at column {column + 1} (terraform fmt)")
        elif chain and chain[0][3] != " ":
            problems.append(f"{path}:{chain[0][0]}: one space before '='")
        chain.clear()

    for number, line in enumerate(lines, 1):
        if heredoc:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if "\t" in line:
            problems.append(f"{path}:{number}: tab")
        if line != line.rstrip():
            problems.append(f"{path}:{number}: trailing whitespace")
        stripped = line.strip()
        if not stripped:
            close_chain()
            continue
        opens = bracket_change(stripped)
        expected = len(levels) - (1 if stripped[0] in ")]}" else 0)
        indent = len(line) - len(line.lstrip(" "))
        if indent != 2 * expected:
            problems.append(f"{path}:{number}: indented {indent}, expected {2 * expected}")
        match = ATTRIBUTE.match(line)
        if match and opens == 0 and not stripped.startswith("#"):
            chain.append((number, match.group(1), match.group(2), match.group(3)))
        else:
            close_chain()
        if opens > 0:
            levels.append(opens)
        closed = -opens
        while closed > 0 and levels:
            if closed < levels[-1]:
                levels[-1] -= closed
                closed = 0
            else:
                closed -= levels.pop()
        tail = HEREDOC.search(stripped)
        if tail:
            heredoc = tail.group(1)
    close_chain()
    return problems


def main(roots):
    files = sorted(p for root in roots for p in Path(root).rglob("*.tf") if ".terraform" not in p.parts)
    problems = []
    for path in files:
        try:
            with path.open() as handle:
                hcl2.load(handle)
        except Exception as err:  # the parser raises several types
            problems.append(f"{path}: does not parse: {err}")
            continue
        problems.extend(style_problems(path))
    for problem in problems:
        print(problem)
    print(f"{len(files)} Terraform files: {'ok' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["terraform"]))
