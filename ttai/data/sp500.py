r"""The S&P 500 constituents behind the `sp500` watchlist (sp500.csv beside this file).

The file starts with `# key: value` lines: `as_of` (the day the list was
taken), `source`, `license` and `refresh`; then CSV rows `symbol,name,sector`
in the source's order (alphabetical by company).

Refresh it (the index changes a few times a quarter):

    git clone --depth 1 https://github.com/datasets/s-and-p-500-companies /tmp/sp
    git -C /tmp/sp log -1 --format='%H %cs'     # the commit and its date
    .venv/bin/python -m ttai.data.sp500 import /tmp/sp/data/constituents.csv --as-of DATE \
        --source "https://github.com/datasets/s-and-p-500-companies data/constituents.csv \
at commit HASH (DATE), scraped by that project from Wikipedia's List of S&P 500 companies"

`import` checks every ticker against the project's symbol rule, refuses
duplicates and a list far from 500 names, and rewrites sp500.csv. A watchlist
already seeded in a database is kept as the user may have edited it; delete it
(`starter.py watchlist remove sp500`) to have the next worker seed the new list.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from ttai.models.common import Symbol

PATH = Path(__file__).with_name("sp500.csv")
MIN_SIZE, MAX_SIZE = 490, 510  # 500 companies, a few with two share classes

_validate_symbol = TypeAdapter(Symbol).validate_python


@dataclass(frozen=True)
class Constituent:
    symbol: str
    name: str
    sector: str


@dataclass(frozen=True)
class ConstituentList:
    as_of: date
    source: str
    constituents: tuple[Constituent, ...]

    @property
    def symbols(self) -> list[str]:
        return [c.symbol for c in self.constituents]


def parse(text: str) -> ConstituentList:
    """Read sp500.csv's format; raise ValueError naming the first problem."""
    header: dict[str, str] = {}
    lines = text.splitlines()
    body_start = 0
    for number, line in enumerate(lines):
        if not line.startswith("#"):
            body_start = number
            break
        key, sep, value = line[1:].partition(":")
        if sep:
            header[key.strip()] = value.strip()
    for key in ("as_of", "source"):
        if not header.get(key):
            raise ValueError(f"sp500.csv: no '# {key}:' line")
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[body_start:]))))
    constituents = tuple(_constituent(row) for row in rows)
    _check(constituents)
    return ConstituentList(date.fromisoformat(header["as_of"]), header["source"], constituents)


def _constituent(row: dict[str, str]) -> Constituent:
    symbol = (row.get("symbol") or row.get("Symbol") or "").strip()
    try:
        _validate_symbol(symbol)
    except ValidationError as err:
        raise ValueError(f"invalid ticker {symbol!r} in the constituents") from err
    name = (row.get("name") or row.get("Security") or "").strip()
    sector = (row.get("sector") or row.get("GICS Sector") or "").strip()
    return Constituent(symbol, name, sector)


def _check(constituents: tuple[Constituent, ...]) -> None:
    symbols = [c.symbol for c in constituents]
    twice = sorted({s for s in symbols if symbols.count(s) > 1})
    if twice:
        raise ValueError(f"duplicate tickers in the constituents: {twice}")
    if not MIN_SIZE <= len(symbols) <= MAX_SIZE:
        raise ValueError(f"{len(symbols)} constituents: expected {MIN_SIZE}-{MAX_SIZE}")


@cache
def load() -> ConstituentList:
    return parse(PATH.read_text(encoding="utf-8"))


def sp500_symbols() -> list[str]:
    """The tickers of the shipped list, in its order."""
    return load().symbols


def render(constituents: ConstituentList, license_line: str) -> str:
    out = io.StringIO()
    out.write("# S&P 500 constituents: the `sp500` watchlist (ttai/data/sp500.py).\n")
    out.write(f"# as_of: {constituents.as_of.isoformat()}\n")
    out.write(f"# source: {constituents.source}\n")
    out.write(f"# license: {license_line}\n")
    out.write("# refresh: see ttai/data/sp500.py (python -m ttai.data.sp500 import ...)\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["symbol", "name", "sector"])
    for c in constituents.constituents:
        writer.writerow([c.symbol, c.name, c.sector])
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replace sp500.csv from a constituents CSV.")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="read a datasets/s-and-p-500-companies constituents.csv")
    imp.add_argument("csv", type=Path)
    imp.add_argument("--as-of", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    imp.add_argument("--source", required=True, help="where the file came from (URL, commit)")
    imp.add_argument(
        "--license", default="ODC-PDDL-1.0 (public domain dedication), as the source states"
    )
    sub.add_parser("show", help="print the shipped list's as-of date, source and size")
    args = parser.parse_args(argv)
    if args.command == "show":
        shipped = load()
        print(f"{len(shipped.symbols)} constituents as of {shipped.as_of}; {shipped.source}")
        return 0
    try:
        rows = list(csv.DictReader(io.StringIO(args.csv.read_text(encoding="utf-8"))))
        constituents = tuple(_constituent(row) for row in rows)
        _check(constituents)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if re.search(r"[\r\n]", args.source + args.license):
        print("error: --source and --license are one line each", file=sys.stderr)
        return 2
    result = ConstituentList(args.as_of, args.source, constituents)
    PATH.write_text(render(result, args.license), encoding="utf-8")
    print(f"wrote {PATH} ({len(constituents)} constituents as of {args.as_of})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
