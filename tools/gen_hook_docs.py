"""Generate docs/hooks.md, the hook reference, from tune-core/src/tune/hookspecs.py.

The hook specs' docstrings are the documentation; this script only lays them out. It reads
the source with ``ast`` (no import of tune needed) so it runs from a bare checkout.

    python tools/gen_hook_docs.py           # rewrite docs/hooks.md
    python tools/gen_hook_docs.py --check   # exit 1 if docs/hooks.md is out of date
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOOKSPECS = ROOT / "tune-core" / "src" / "tune" / "hookspecs.py"
OUTPUT = ROOT / "docs" / "hooks.md"

_RULE = re.compile(r"^#\s*-{10,}\s*$")
_FIELD = re.compile(r"^:(param|return|returns|raises)\s*([^:]*):\s*(.*)$")
_RST_LITERAL = re.compile(r"``([^`]+)``")


def _md(text: str) -> str:
    """reST inline literals (````x````) as Markdown code (```x```)."""
    return _RST_LITERAL.sub(r"`\1`", text)


def _prose_to_markdown(lines: list[str]) -> list[str]:
    """reST prose to Markdown: inline literals, and ``text::`` + indented block as a fence."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            out.append(_md(line.rstrip()[:-1]))
            block: list[str] = []
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            indent = min(len(b) - len(b.lstrip()) for b in block if b.strip()) if block else 0
            out += ["", "```python", *(b[indent:] for b in block), "```", ""]
            continue
        out.append(_md(line))
        i += 1
    return out


def _sections(lines: list[str]) -> list[tuple[int, str, str]]:
    """``(line number, title, description)`` of each ``# ---- / # Title / # ----`` banner."""
    sections = []
    i = 0
    while i < len(lines):
        if _RULE.match(lines[i].strip()):
            j = i + 1
            body = []
            while j < len(lines) and lines[j].lstrip().startswith("#") and not _RULE.match(
                lines[j].strip()
            ):
                body.append(lines[j].strip().lstrip("#").strip())
                j += 1
            if j < len(lines) and _RULE.match(lines[j].strip()) and body:
                sections.append((i + 1, body[0], " ".join(body[1:])))
                i = j + 1
                continue
        i += 1
    return sections


def _hookspec_options(func: ast.FunctionDef) -> dict[str, object] | None:
    """The keyword options of the ``@hookspec`` decorator, or ``None`` if not a hook spec."""
    for decorator in func.decorator_list:
        if isinstance(decorator, ast.Name) and decorator.id == "hookspec":
            return {}
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Name)
            and decorator.func.id == "hookspec"
        ):
            return {kw.arg: ast.literal_eval(kw.value) for kw in decorator.keywords if kw.arg}
    return None


def _render_docstring(doc: str) -> list[str]:
    """Prose paragraphs as is; ``:param x:`` fields as a list; ``:return:`` as a line."""
    prose: list[str] = []
    fields: list[list[str]] = []  # each a one-item list so continuation lines can extend it
    returns: list[list[str]] = []
    current: list[str] | None = None
    for line in doc.splitlines():
        match = _FIELD.match(line.strip())
        if match:
            field, name, text = match.groups()
            if field == "param":
                current = [f"- `{name.strip()}`: {text}"]
                fields.append(current)
            elif field in ("return", "returns"):
                current = [f"**Returns:** {text}"]
                returns.append(current)
            else:
                current = [f"- raises `{name.strip()}`: {text}"]
                fields.append(current)
        elif current is not None and line.startswith(" ") and line.strip():
            current[0] += " " + line.strip()
        else:
            current = None
            prose.append(line)
    while prose and not prose[-1].strip():
        prose.pop()
    out = _prose_to_markdown(prose)
    while out and not out[-1].strip():
        out.pop()
    if fields:
        out += ["", "Parameters:", ""] + [_md(item[0]) for item in fields]
    for item in returns:
        out += ["", _md(item[0])]
    out.append("")
    return out


def render(source: str | None = None) -> str:
    """The full text of docs/hooks.md for the given hookspecs source (default: the file)."""
    if source is None:
        source = HOOKSPECS.read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    sections = _sections(lines)
    module_doc = inspect.cleandoc(ast.get_docstring(tree) or "")

    out = [
        "<!-- Generated by tools/gen_hook_docs.py from tune-core/src/tune/hookspecs.py."
        " Do not edit; run `python tools/gen_hook_docs.py`. -->",
        "",
        "# Hook reference",
        "",
        *_prose_to_markdown(module_doc.splitlines()),
        "",
        "Implement a hook with the `tune.hookimpl` marker (`from tune.plugins import hookimpl`)."
        " Plugin modules announced through the `tune.plugins` entry point group implement the"
        " registration hooks; searchers, schedulers, stoppers and callbacks implement the"
        " experiment hooks through their base classes, which translate them to Ray Tune's"
        " method names.",
    ]
    specs = [
        (node, options)
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and (options := _hookspec_options(node)) is not None
    ]
    out += ["", "## Contents", ""]
    for title, members in _group(specs, sections):
        anchor = re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")
        names = ", ".join(f"[`{node.name}`](#{node.name})" for node, _ in members)
        out.append(f"- [{title}](#{anchor}): {names}")
    for title, members in _group(specs, sections):
        description = next((d for _, t, d in sections if t == title), "")
        out += ["", f"## {title}", ""]
        if description:
            out += [description, ""]
        for node, options in members:
            args = ast.unparse(node.args)
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            out += [f"### `{node.name}`", "", "```python", f"def {node.name}({args}){returns}"]
            out += ["```", ""]
            flags = []
            if options.get("firstresult"):
                flags.append("first result wins (`firstresult=True`)")
            if options.get("historic"):
                flags.append("historic")
            if flags:
                out += ["*" + "; ".join(flags) + "*", ""]
            out += _render_docstring(inspect.cleandoc(ast.get_docstring(node) or ""))
    return "\n".join(out).rstrip() + "\n"


def _group(specs: list, sections: list[tuple[int, str, str]]) -> list[tuple[str, list]]:
    groups: dict[str, list] = {}
    for node, options in specs:
        title = "Hooks"
        for line_no, section_title, _ in sections:
            if line_no < node.lineno:
                title = section_title
        groups.setdefault(title, []).append((node, options))
    return list(groups.items())


def hook_names(source: str | None = None) -> list[str]:
    """Names of every hook spec in the hookspecs source."""
    if source is None:
        source = HOOKSPECS.read_text(encoding="utf-8")
    tree = ast.parse(source)
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and _hookspec_options(node) is not None
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(
                f"{args.output} is out of date; run: python tools/gen_hook_docs.py",
                file=sys.stderr,
            )
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
