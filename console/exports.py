"""Any list of the console as CSV or XLSX: the same columns and rows the page shows.

Residents' texts end up in these files, so a cell that a spreadsheet would take for a formula
(starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is written as text: in CSV
with a leading apostrophe (the OWASP advice), in XLSX as an explicit string cell.
CSV is UTF-8 with a byte-order mark, which Excel needs to read Cyrillic.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value


def _csv_cell(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    for row in rows:
        w.writerow([_csv_cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "Лист") -> bytes:
    """One sheet: the header row in bold, then the rows. Written directly as SpreadsheetML (a zip of a
    few XML parts), not through openpyxl: openpyxl's write-only mode still spent ≈ 130 µs a row (0.4 s
    of CPU for 3,000 queue rows, most of an export request; issue 18, `bench/console_cpu.py`), this
    writer ≈ 10 µs. Every text is an inline string cell (`t="inlineStr"`) — never a formula, whatever
    it starts with; numbers are numbers; characters XML cannot carry (control characters a resident
    pasted) are dropped instead of failing the export."""
    out = [_SHEET_HEAD]
    out.append(_row(1, columns, ' s="1"'))
    for n, row in enumerate(rows, start=2):
        out.append(_row(n, row, ""))
    out.append(_SHEET_TAIL)
    sheet = "".join(out).encode("utf-8")
    name = escape(_XML_BAD.sub("", title)[:31] or "Лист", {'"': "&quot;"})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK.format(name=name))
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/styles.xml", _STYLES)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()


# ------------------------------------------------------------------ the SpreadsheetML parts
# characters XML 1.0 cannot carry: C0 controls but tab, newline, carriage return; lone surrogates
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_COLS: list[str] = []


def _col(i: int) -> str:
    """The column letters of the 0-based column `i` (A … Z, AA …), kept once computed."""
    while len(_COLS) <= i:
        n, name = len(_COLS) + 1, ""
        while n:
            n, r = divmod(n - 1, 26)
            name = chr(65 + r) + name
        _COLS.append(name)
    return _COLS[i]


def _row(n: int, values: Sequence[Any], style: str) -> str:
    cells = []
    for i, v in enumerate(values):
        v = _plain(v)
        ref = f"{_col(i)}{n}"
        if isinstance(v, bool):
            cells.append(f'<c r="{ref}"{style} t="b"><v>{int(v)}</v></c>')
        elif isinstance(v, int | float) and math.isfinite(v):
            cells.append(f'<c r="{ref}"{style}><v>{v!r}</v></c>')
        else:
            text = str(v)
            if text == "":
                continue
            text = escape(_XML_BAD.sub("", text))
            cells.append(f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
    return f'<row r="{n}">{"".join(cells)}</row>'


_NS = "http://schemas.openxmlformats.org"
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<worksheet xmlns="{_NS}/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Types xmlns="{_NS}/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_NS}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_NS}/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<workbook xmlns="{_NS}/spreadsheetml/2006/main" '
    f'xmlns:r="{_NS}/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_NS}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_NS}/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_NS}/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
# style 0: plain; style 1: bold (the header row)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_NS}/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
