"""Reads an Iceberg table with pyiceberg (an independent implementation) and prints it as
one JSON object: schema (id, name, type), partition spec, snapshots (their units and
operations), and every row, sorted. Used by tests/iceberg.rs.

  iceberg_read.py files TABLE_FOLDER          the newest metadata named by version-hint.text
  iceberg_read.py glue ENDPOINT DATABASE TABLE  the Glue catalog at ENDPOINT (moto); S3 there too
  iceberg_read.py rest URI NAMESPACE TABLE    an Iceberg REST catalog at URI
  iceberg_read.py parquet FILE...             plain Parquet files (pyarrow), rows only, alike
"""
import json
import os
import sys


def load():
    if sys.argv[1] == "files":
        from pyiceberg.table import StaticTable
        folder = sys.argv[2]
        version = open(os.path.join(folder, "metadata", "version-hint.text")).read().strip()
        return StaticTable.from_metadata(os.path.join(folder, "metadata", f"v{version}.metadata.json"))
    if sys.argv[1] == "rest":
        from pyiceberg.catalog.rest import RestCatalog
        uri, namespace, table = sys.argv[2:5]
        return RestCatalog("rest", uri=uri).load_table(f"{namespace}.{table}")
    from pyiceberg.catalog.glue import GlueCatalog
    endpoint, database, table = sys.argv[2:5]
    keys = {
        "access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
        "secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"],
        "region": "us-east-1",
    }
    props = {"glue.endpoint": endpoint, "s3.endpoint": endpoint, "s3.force-virtual-addressing": "false"}
    props.update({f"glue.{k}": v for k, v in keys.items()})
    props.update({f"s3.{k}": v for k, v in keys.items()})
    return GlueCatalog("glue", **props).load_table(f"{database}.{table}")


def plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return str(value)
    return value


if sys.argv[1] == "parquet":
    import pyarrow.parquet as pq
    rows = [{k: plain(v) for k, v in row.items()} for f in sys.argv[2:] for row in pq.read_table(f).to_pylist()]
    rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
    print(json.dumps({"rows": rows}))
    sys.exit(0)

table = load()
rows = [{k: plain(v) for k, v in row.items()} for row in table.scan().to_arrow().to_pylist()]
rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
print(json.dumps({
    "schema": [[f.field_id, f.name, str(f.field_type)] for f in table.schema().fields],
    "spec": [[f.name, str(f.transform)] for f in table.spec().fields],
    "snapshots": [
        {"unit": s.summary.additional_properties.get("sluice.unit"), "operation": str(s.summary.operation.value)}
        for s in table.metadata.snapshots
    ],
    "rows": rows,
}))
