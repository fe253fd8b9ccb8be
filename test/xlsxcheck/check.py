#!/usr/bin/python3
"""Read a keyrotor XLSX report as openpyxl's read-only mode does and compare
it with the JSON report of the same run.

    /usr/bin/python3 test/xlsxcheck/check.py REPORT.xlsx REPORT.json

Read-only mode trusts each sheet's declared used range (<dimension ref>):
rows and columns outside it are not read, and missing ones inside it are
padded. So every sheet is read twice: once through the declared range,
where header cells, row counts and each row's identifying cells must match
the JSON; and once with the declared range reset, where the cells actually
present must span exactly the declared range.

The checker is independent of the Go code that wrote the report: it knows
the workbook's layout (sheet names, header titles, which rows each sheet
lists) from this file alone, and reads the JSON with Python's json module.

Exit status: 0 when the workbook agrees with the JSON; 1 with each problem
on stderr when not; 2 for bad usage or unreadable input; 3 when openpyxl
cannot be imported (Debian: apt-get install python3-openpyxl).
"""

import json
import sys

try:
    import openpyxl
    from openpyxl.cell.read_only import ReadOnlyCell
    from openpyxl.utils import get_column_letter
except ImportError as e:  # the Go side tells "absent" from "failed" by this status
    print(f"check.py: cannot import openpyxl under {sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)

SHEETS = ["Summary", "Accounts", "Keys", "Actions", "Errors", "Notifications"]

KEY_TITLES = [
    "Account ID", "Account name", "User", "Access key ID", "Status", "Created (UTC)",
    "Age (days)", "Last used (UTC)", "Last used service", "Last used region", "Findings",
    "Exempt", "Exempt reason", "Planned action", "Action", "Result", "Reason",
    "Reason code", "Fix", "New access key ID", "Secret name", "Rotation state",
]
ACTION_TITLES = [
    "Account ID", "Account name", "User", "Access key ID", "Age (days)", "Findings",
    "Planned action", "Action", "Result", "Reason", "Reason code", "Fix", "New access key ID",
    "Secret name", "Rotation state",
]
HEADERS = {
    "Accounts": ["Account ID", "Account name", "OU", "Status", "Users", "Keys", "Findings",
                 "Compliance %", "Error"],
    "Keys": KEY_TITLES,
    "Actions": ACTION_TITLES,
    "Errors": ["Kind", "Account ID", "Account name", "User", "Access key ID", "Action", "Error"],
    "Notifications": ["Account ID", "User", "Access key ID", "Event", "To", "Subject", "Result",
                      "Error"],
}

# Summary: the compliance-by-account table's header row and its columns.
SUMMARY_TABLE_HEADER_ROW = 4
SUMMARY_TABLE = ["Account ID", "Account name", "Status", "Keys", "Findings", "Compliance %"]
SUMMARY_TABLE_FIRST_COL = 4  # D


def text(v):
    """A cell or JSON value as the text a person sees; blank is ''."""
    return "" if v is None else str(v)


def pct(v):
    """A compliance figure as a person reads it: one decimal, or n/a where
    the JSON has null (an account whose keys were not seen)."""
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    return f"{float(v):.1f}"


def is_action(k):
    if k.get("action"):
        return True
    return k.get("planned_action", "") not in ("", "none", "exempt")


def expected_rows(rep):
    """For each data sheet: (identifying header titles, one tuple per row)."""
    keys = rep.get("keys") or []
    accounts = rep.get("accounts") or []
    notes = rep.get("notifications") or []
    key_id = lambda k: (k["account_id"], k["user"], k["access_key_id"])
    return {
        "Accounts": (["Account ID", "Status", "Keys", "Compliance %"],
                     [(a["account_id"], a["status"], a["keys"], pct(a.get("compliance_pct")))
                      for a in accounts]),
        "Keys": (["Account ID", "User", "Access key ID"], [key_id(k) for k in keys]),
        "Actions": (["Account ID", "User", "Access key ID"],
                    [key_id(k) for k in keys if is_action(k)]),
        "Errors": (["Kind", "Account ID", "Access key ID"],
                   [("account", a["account_id"], None) for a in accounts if a["status"] == "error"]
                   + [("key", k["account_id"], k["access_key_id"]) for k in keys
                      if k.get("result") == "failed"]),
        "Notifications": (["Account ID", "User", "Access key ID", "Event", "Result"],
                          [(n["account_id"], n.get("user"), n.get("access_key_id"), n["event"],
                            n["result"]) for n in notes]),
    }


def cell_text(title, v):
    """A cell's value as text, compliance figures as pct() words them."""
    return pct(v) if title == "Compliance %" else text(v)


def declared(ws):
    if ws.max_row is None or ws.max_column is None:
        return "no used range"
    return f"A1:{get_column_letter(ws.max_column)}{ws.max_row}"


def check_data_sheet(ws, header, ident, want, problems):
    """Reads ws through its declared range, as a read-only consumer would."""
    name = ws.title
    if ws.max_column != len(header):
        problems.append(f"{name}: declared range {declared(ws)} has {ws.max_column} columns, "
                        f"want {len(header)}")
    cols = [header.index(t) for t in ident]
    n = 0
    for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
        if n == 1:
            if list(row) != header:
                problems.append(f"{name}: header {list(row)}, want {header}")
            continue
        i = n - 2
        if i >= len(want):
            continue  # counted below
        got = tuple(cell_text(t, row[c]) if c < len(row) else "" for t, c in zip(ident, cols))
        exp = tuple(text(v) for v in want[i])
        if got != exp:
            problems.append(f"{name}: row {n} {dict(zip(ident, got))}, JSON has {dict(zip(ident, exp))}")
            return  # one misaligned row misaligns every later one
    if n != 1 + len(want):
        problems.append(f"{name}: {n} rows read through the declared range {declared(ws)}, "
                        f"want {1 + len(want)} (header + {len(want)} in the JSON)")


def check_summary(ws, rep, problems):
    """The totals and the compliance table, through the declared range."""
    accounts = rep.get("accounts") or []
    summary = rep.get("summary") or {}
    rows = list(ws.iter_rows(values_only=True))  # a few dozen rows
    pairs = {text(r[0]): r[1] for r in rows if len(r) >= 2 and r[0] is not None}
    for label, field in [("Keys", "keys"), ("Accounts failed", "accounts_failed"),
                         ("Accounts OK", "accounts_ok"), ("Users", "users"),
                         ("Accounts not seen", "accounts_unseen")]:
        if pairs.get(label) != summary.get(field):
            problems.append(f"Summary: {label!r} shows {pairs.get(label)!r}, JSON summary.{field} "
                            f"is {summary.get(field)!r}")
    got_pct, want_pct = pct(pairs.get("Compliance %")), pct(summary.get("compliance_pct"))
    if got_pct != want_pct:
        problems.append(f"Summary: 'Compliance %' shows {got_pct!r}, JSON summary.compliance_pct is {want_pct!r}")
    c0 = SUMMARY_TABLE_FIRST_COL - 1
    top = SUMMARY_TABLE_HEADER_ROW - 1
    table = [r[c0:c0 + len(SUMMARY_TABLE)] for r in rows[top:top + 1 + len(accounts)]]
    if not table or list(table[0]) != SUMMARY_TABLE:
        problems.append(f"Summary: table header {list(table[0]) if table else None}, "
                        f"want {SUMMARY_TABLE}")
        return
    last = len(SUMMARY_TABLE) - 1
    got = [(text(r[0]), pct(r[last])) if r else ("", "") for r in table[1:]]
    want = [(a["account_id"], pct(a.get("compliance_pct"))) for a in accounts]
    if got != want:
        problems.append(f"Summary: compliance table lists (account, compliance) {got}, JSON has {want}")


def check_extent(ws, problems):
    """The cells present must span exactly the declared range."""
    want = declared(ws)
    ws.reset_dimensions()
    max_row = max_col = 0
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c, ReadOnlyCell):
                max_row, max_col = max(max_row, c.row), max(max_col, c.column)
    got = f"A1:{get_column_letter(max_col)}{max_row}" if max_row else "no cells"
    if got != want:
        problems.append(f"{ws.title}: declared used range {want}, cells present span {got}")


def main(argv):
    if len(argv) != 3:
        print("usage: check.py REPORT.xlsx REPORT.json", file=sys.stderr)
        return 2
    xlsx_path, json_path = argv[1], argv[2]
    try:
        with open(json_path, encoding="utf-8") as f:
            rep = json.load(f)
        wb = openpyxl.load_workbook(xlsx_path, read_only=True)
    except Exception as e:  # not a zip, not a workbook, not JSON: all bad input
        print(f"check.py: read {xlsx_path} and {json_path}: {e}", file=sys.stderr)
        return 2
    problems = []
    try:
        if wb.sheetnames != SHEETS:
            problems.append(f"sheets {wb.sheetnames}, want {SHEETS}")
        want = expected_rows(rep)
        for name in wb.sheetnames:
            ws = wb[name]
            print(f"{name}: {declared(ws)}")
            if name == "Summary":
                check_summary(ws, rep, problems)
            elif name in HEADERS:
                ident, rows = want[name]
                check_data_sheet(ws, HEADERS[name], ident, rows, problems)
            check_extent(ws, problems)
    finally:
        wb.close()
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
