"""Reads a Parquet file with pyarrow (an independent reader) and prints it as JSON:
{"schema": [[name, type, nullable]], "rows": [[...]], "metadata": {key: value}, "num_row_groups": n,
"codecs": [...], "logical_types": [...]}. Dates and timestamps print as ISO strings and decimals as
their exact text, so tests compare exact values."""
import datetime
import decimal
import json
import sys

import pyarrow.parquet as pq


def plain(v):
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, decimal.Decimal):
        return str(v)  # exact, digit for digit
    return v


def main(path):
    pf = pq.ParquetFile(path)
    table = pf.read()
    rows = [[plain(v) for v in row.values()] for row in table.to_pylist()]
    meta = {k.decode(): v.decode() for k, v in (pf.metadata.metadata or {}).items() if k != b"ARROW:schema"}
    codecs = sorted({pf.metadata.row_group(i).column(j).compression
                     for i in range(pf.metadata.num_row_groups) for j in range(pf.metadata.num_columns)})
    print(json.dumps({
        "schema": [[f.name, str(f.type), f.nullable] for f in table.schema],
        "rows": rows,
        "metadata": meta,
        "num_row_groups": pf.metadata.num_row_groups,
        "codecs": codecs,
        "logical_types": [str(pf.schema.column(i).logical_type) for i in range(pf.metadata.num_columns)],
    }))


if __name__ == "__main__":
    main(sys.argv[1])
