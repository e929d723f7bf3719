"""No code path in ``src/`` can execute code hidden in data: no pickle (or its relatives), no
``torch.load`` without ``weights_only=True``, no ``numpy.load`` with pickles allowed, no ``eval`` or
``exec`` builtin. Checked on the syntax tree, so docstrings that mention pickle do not count."""

from __future__ import annotations

import ast
from pathlib import Path

import bricobot

SRC = Path(bricobot.__file__).resolve().parent
UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "shelve",
    "marshal",
    "joblib",
}
UNSAFE_BUILTINS = {"eval", "exec"}


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def problems_in(source: str, where: str) -> list[str]:
    """Every unsafe use in one module's source, as ``file:line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            found += [
                f"{where}:{node.lineno}: imports {n}"
                for n in names
                if n.split(".")[0] in UNSAFE_MODULES
            ]
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if isinstance(node.func, ast.Name) and name in UNSAFE_BUILTINS:
            found.append(f"{where}:{node.lineno}: calls the {name}() builtin")
        if name.endswith("torch.load"):
            weights_only = _keyword(node, "weights_only")
            if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                found.append(f"{where}:{node.lineno}: torch.load without weights_only=True")
        if name in ("np.load", "numpy.load"):
            allow = _keyword(node, "allow_pickle")
            if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                found.append(f"{where}:{node.lineno}: numpy.load with allow_pickle")
        if name in ("builtins.eval", "builtins.exec"):
            found.append(f"{where}:{node.lineno}: calls {name}")
    return found


def test_the_scanner_finds_what_it_looks_for() -> None:
    bad = (
        "import pickle\nfrom dill import loads\nimport torch\nx = eval('1')\n"
        "torch.load('f')\ntorch.load('f', weights_only=False)\nimport numpy as np\n"
        "np.load('f', allow_pickle=True)\nexec('y = 1')\nimport builtins\nbuiltins.eval('2')\n"
    )
    found = problems_in(bad, "bad.py")
    assert len(found) == 8, found
    good = (
        '"""Nothing is pickled."""\nimport torch\nmodel.eval()\npolicy.eval()\n'
        "torch.load('f', weights_only=True)\nimport numpy as np\nnp.load('f', allow_pickle=False)\n"
    )
    assert problems_in(good, "good.py") == []


def test_src_has_no_pickle_unsafe_torch_load_or_eval() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50 and (SRC / "runtime" / "remote" / "wire.py") in files
    found = [p for path in files for p in problems_in(path.read_text(), str(path.relative_to(SRC)))]
    assert found == []
