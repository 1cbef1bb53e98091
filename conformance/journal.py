"""The run's journal: ``rows.jsonl`` beside ``report.json``, one JSON object per line, appended as
rows finish, so that an interrupted run loses nothing and ``trainspec run --resume`` finishes it.

Line 1 is ``{"header": {...}}``: the settings of the run (what ``--resume`` must reuse). Then
``{"row": {...}}`` for every row as it finishes (a row's identity is its key: spec ID, backend,
implementation, device, dtype; a later line with the same key replaces an earlier one) and
``{"backends": {...}}`` with what each backend reported. Every line is flushed when written; a
last line cut short by a crash is ignored when the journal is read.

:func:`check_report_folder` is run before anything else: a run never overwrites a report unless
asked to (``--force``), and an unwritable folder is found before the first row, not after the last.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from trainspec.conformance.runner import Row, RowKey, row_key

__all__ = ["JOURNAL", "Journal", "ReportFolderError", "check_report_folder", "read_journal"]

JOURNAL = "rows.jsonl"
#: what a run writes into its report folder (``--force`` removes these, and nothing else)
REPORT_FILES = ("report.json", "report.md", JOURNAL)


class ReportFolderError(ValueError):
    """The report folder cannot be used as asked (the message says why and what to do)."""


def check_report_folder(folder: str | Path, *, force: bool, resume: bool) -> Path:
    r"""Check that ``folder`` can take this run's report, before the first row is measured.

    * ``resume``: the folder must hold the journal of an earlier run;
    * otherwise it must hold no report (``report.json``, ``report.md``, ``rows.jsonl``), unless
      ``force`` (they are then removed);
    * it must be a directory this process can write (created if missing).

    Raises :class:`ReportFolderError`."""
    d = Path(folder)
    if d.exists() and not d.is_dir():
        raise ReportFolderError(f"--report {d}: exists and is not a folder")
    if resume:
        if not (d / JOURNAL).is_file():
            raise ReportFolderError(
                f"--resume: {d / JOURNAL} does not exist; there is no run to finish in {d}"
            )
    else:
        present = [n for n in REPORT_FILES if (d / n).exists()]
        if present and not force:
            raise ReportFolderError(
                f"--report {d}: already holds a report ({', '.join(present)}); pass --force to "
                "overwrite it, --resume to finish an interrupted run, or choose another folder"
            )
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=d, prefix=".trainspec-write-test-"):
            pass
    except OSError as exc:
        raise ReportFolderError(f"--report {d}: cannot write there: {exc}") from None
    if force and not resume:
        for n in REPORT_FILES:
            if (d / n).exists():
                (d / n).unlink()
    return d


class Journal:
    """An open journal (append-only); see the module docstring."""

    def __init__(self, path: Path, stream: IO[str]) -> None:
        self.path, self._stream = path, stream

    @classmethod
    def create(cls, folder: str | Path, header: dict[str, Any]) -> Journal:
        """A new journal in ``folder`` that starts with ``header``."""
        path = Path(folder) / JOURNAL
        j = cls(path, path.open("w", encoding="utf-8"))
        j._write({"header": header})
        return j

    @classmethod
    def append_to(cls, folder: str | Path) -> Journal:
        """The journal of ``folder``, opened to append (``--resume``)."""
        path = Path(folder) / JOURNAL
        text = path.read_text(encoding="utf-8")
        stream = path.open("a", encoding="utf-8")
        if text and not text.endswith("\n"):  # a line cut short: start on a fresh one
            stream.write("\n")
        return cls(path, stream)

    def row(self, row: Row) -> None:
        self._write({"row": row.to_json()})

    def backends(self, info: dict[str, Any]) -> None:
        self._write({"backends": info})

    def close(self) -> None:
        self._stream.close()

    def _write(self, obj: dict[str, Any]) -> None:
        self._stream.write(json.dumps(obj, default=_json_default) + "\n")
        self._stream.flush()
        os.fsync(self._stream.fileno())


def read_journal(
    folder: str | Path,
) -> tuple[dict[str, Any], dict[RowKey, Row], dict[str, Any]]:
    """``(header, rows by key, backends)`` of the journal in ``folder``."""
    path = Path(folder) / JOURNAL
    lines = path.read_text(encoding="utf-8").splitlines()
    header: dict[str, Any] | None = None
    rows: dict[RowKey, Row] = {}
    backends: dict[str, Any] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines):  # cut short by a crash while it was written
                continue
            raise ValueError(f"{path}:{n}: not a journal line") from None
        if "header" in obj:
            header = obj["header"]
        elif "row" in obj:
            rows[row_key(obj["row"])] = Row.from_json(obj["row"])
        elif "backends" in obj:
            backends.update(obj["backends"])
    if header is None:
        raise ValueError(f"{path}: has no header line; it is not a trainspec journal")
    return header, rows, backends


def _json_default(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.floating | np.integer):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
