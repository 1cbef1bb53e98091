r"""The typed adapter contract, as an adapter author's type checker sees it.

mypy (``--strict``) checks two snippets against the installed ``trainspec``:
``snippets/typed_adapter.py``, one correctly typed ``run`` per kind in its kind's
``Implementation[CaseT, ResultT]``, must pass; ``snippets/wrong_activation_returns.py``, activation
implementations returning the wrong thing, must get exactly the errors its lines announce with
``# error: CODE`` (and no other).

Run by ``tox -e typecheck`` (mypy is not installed in the other environments).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="the typing tests run in tox -e typecheck")

SNIPPETS = Path(__file__).parent / "snippets"
MARK = re.compile(r"#\s*error:\s*([a-z-]+)")
REPORTED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")


def _mypy(*files: Path, cache: Path) -> tuple[str, int]:
    stdout, stderr, status = api.run(
        [*map(str, files), "--strict", "--cache-dir", str(cache), "--no-error-summary"]
    )
    assert not stderr, stderr
    return stdout, status


def _errors(stdout: str) -> dict[tuple[str, int], str]:
    out = {}
    for line in stdout.splitlines():
        m = REPORTED.match(line)
        if m:
            out[(Path(m["file"]).name, int(m["line"]))] = m["code"]
    return out


def _announced(path: Path) -> dict[tuple[str, int], str]:
    lines = path.read_text().splitlines()
    return {(path.name, i): m[1] for i, text in enumerate(lines, 1) if (m := MARK.search(text))}


def test_wrong_activation_returns_are_rejected_and_typed_runs_pass(tmp_path: Path) -> None:
    good, bad = SNIPPETS / "typed_adapter.py", SNIPPETS / "wrong_activation_returns.py"
    stdout, status = _mypy(good, bad, cache=tmp_path)
    expected = _announced(bad)
    assert len(expected) == 4 and set(expected.values()) == {
        "arg-type",
        "typeddict-item",
        "typeddict-unknown-key",
    }
    assert status == 1, stdout
    assert _errors(stdout) == expected, stdout
