"""An Iceberg REST catalog server for the tests: the REST spec's table endpoints over
pyiceberg's SQL catalog (SQLite), so every create, load and commit is checked and applied
by pyiceberg's own implementation of the spec, independent of Sluice.

  rest_catalog.py PORT WAREHOUSE_DIR     serves http://127.0.0.1:PORT until killed
"""
import sys

from flask import Flask, jsonify, request
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (CommitFailedException, NamespaceAlreadyExistsError,
                                  NoSuchTableError, TableAlreadyExistsError)
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import CommitTableRequest

port, warehouse = int(sys.argv[1]), sys.argv[2]
catalog = SqlCatalog("rest", uri=f"sqlite:///{warehouse}/catalog.db", warehouse=f"file://{warehouse}")
app = Flask(__name__)


def error(code, kind, message):
    return jsonify({"error": {"message": message, "type": kind, "code": code}}), code


def loaded(table):
    return jsonify({"metadata-location": table.metadata_location,
                    "metadata": table.metadata.model_dump(by_alias=True, exclude_none=True, mode="json")})


@app.get("/v1/config")
def config():
    return jsonify({"defaults": {}, "overrides": {}})


@app.post("/v1/namespaces")
def create_namespace():
    namespace = tuple(request.json["namespace"])
    try:
        catalog.create_namespace(namespace)
    except NamespaceAlreadyExistsError:
        return error(409, "AlreadyExistsException", "namespace exists")
    return jsonify({"namespace": list(namespace), "properties": {}})


@app.post("/v1/namespaces/<namespace>/tables")
def create_table(namespace):
    body = request.json
    try:
        table = catalog.create_table(
            (namespace, body["name"]),
            schema=Schema.model_validate(body["schema"]),
            location=body.get("location"),
            partition_spec=PartitionSpec.model_validate(body.get("partition-spec") or {"spec-id": 0, "fields": []}),
            properties=body.get("properties", {}),
        )
    except TableAlreadyExistsError:
        return error(409, "AlreadyExistsException", "table exists")
    return loaded(table)


@app.get("/v1/namespaces/<namespace>/tables/<name>")
def load_table(namespace, name):
    try:
        return loaded(catalog.load_table((namespace, name)))
    except NoSuchTableError:
        return error(404, "NoSuchTableException", f"no table {namespace}.{name}")


@app.post("/v1/namespaces/<namespace>/tables/<name>")
def commit_table(namespace, name):
    commit = CommitTableRequest.model_validate(request.json)
    try:
        table = catalog.load_table((namespace, name))
        response = catalog.commit_table(table, commit.requirements, commit.updates)
    except NoSuchTableError:
        return error(404, "NoSuchTableException", f"no table {namespace}.{name}")
    except CommitFailedException as e:
        return error(409, "CommitFailedException", str(e))
    return jsonify({"metadata-location": response.metadata_location,
                    "metadata": response.metadata.model_dump(by_alias=True, exclude_none=True, mode="json")})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=port)
