"""What makes a module a valid automation (automation.md): it compiles and defines the entry coroutine."""

from __future__ import annotations

import ast

ENTRY_POINTS = ("run", "automation")


class InvalidCode(ValueError):
    """The code cannot be saved; the message says what to fix."""


def check_code(code: str) -> str:
    """Return the entry point's name, or raise `InvalidCode` saying what is wrong."""
    try:
        tree = ast.parse(code, filename="automation.py")
        compile(tree, "automation.py", "exec")
    except SyntaxError as exc:
        raise InvalidCode(f"code does not compile: {exc.msg} (line {exc.lineno})") from None
    defined = {node.name for node in tree.body if isinstance(node, ast.AsyncFunctionDef)}
    for name in ENTRY_POINTS:
        if name in defined:
            return name
    plain = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    if plain & set(ENTRY_POINTS):
        raise InvalidCode("the entry point must be a coroutine: write `async def run(page, params, ctx):`")
    raise InvalidCode(
        "code must define `async def run(page, params, ctx)` "
        "(or Intuned's `async def automation(page, params, **kwargs)`)"
    )
