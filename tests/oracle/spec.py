#!/usr/bin/env python3
"""Our own generator and oracle for the SPEC.md benchmark workloads, used by tests/pipelines.rs.

This is an independent implementation written from the text of SPEC.md alone (the
workloads "sensor" and "shipments", transform A "resample" and transform B "dates"); it
shares no code with any other generator or oracle, so the tests need nothing outside this
checkout. Standard library plus pyarrow (to read the Parquet file back).

    spec.py gen --workload {sensor,shipments} --rows N --out DIR [--seed S]
        writes DIR/{workload}_{N//1000}k.csv, deterministic for a seed, and prints how
        many of each edge case it holds (it fails if a file of 5,000 rows or more misses one).
    spec.py verify --workload {sensor,shipments} INPUT_CSV OUTPUT_PARQUET
        recomputes the expected output in pure Python, compares it value by value with the
        Parquet file, prints a JSON report with "verdict": "OK" or "MISMATCH" (and the first
        differences), and exits 0 only on OK.
"""
import argparse
import calendar
import datetime
import gzip
import json
import math
import os
import re
import sys

import pyarrow as pa
import pyarrow.parquet as pq

# ---------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------

# Below this many rows a file may be too small to hold every edge case, so gen does not
# insist on them.
COVERAGE_MIN_ROWS = 5_000

SENSORS = 500
# The SPEC's example timestamp is on 2024-03-01; all sensors start in its first minute.
SENSOR_EPOCH = calendar.timegm((2024, 3, 1, 0, 0, 0))

CARRIERS = ["DHL", "UPS", "FedEx", "Royal Mail", "DPD", "GLS", "TNT", "USPS"]
STATUSES = ["created", "picked_up", "in_transit", "out_for_delivery", "delivered", "returned"]
# Six years of true shipment dates, so valid leap days (2020-02-29, 2024-02-29) occur.
FIRST_SHIP_DAY = datetime.date(2019, 1, 1)
SHIP_DAYS = (datetime.date(2024, 12, 31) - FIRST_SHIP_DAY).days + 1
LEAP_DAYS = [datetime.date(2020, 2, 29), datetime.date(2024, 2, 29)]


def hundredths(q):
    """Fixed-point text without float rounding (and never `-0.00`)."""
    sign = "-" if q < 0 else ""
    return f"{sign}{abs(q) // 100}.{abs(q) % 100:02d}"


def iso_utc(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def poisson(rng, lam):
    """Knuth's method: exact and fast enough for the SPEC's lam <= 30."""
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def log_uniform_seconds(rng, low, high):
    """An integer duration in low..high whose logarithm is uniform (SPEC: 1..600 s)."""
    value = int(math.exp(rng.uniform(math.log(low), math.log(high + 1))))
    return min(max(value, low), high)


def sensor_rows(rng, rows):
    """Each sensor's back-to-back intervals, then all sensors interleaved by start time."""
    out = []
    for s in range(min(SENSORS, rows)):
        count = rows // SENSORS + (1 if s < rows % SENSORS else 0)
        start = SENSOR_EPOCH + rng.randrange(60)
        base = rng.randint(-1500, 3500)  # hundredths of a degree; some sensors below zero
        for _ in range(count):
            duration = log_uniform_seconds(rng, 1, 600)
            temp = "" if rng.random() < 0.02 else hundredths(base + rng.randint(-300, 300))
            reading_count = 1 + poisson(rng, duration / 20)
            out.append((start, f"S-{s:04d}", start + duration, temp, reading_count))
            start += duration + rng.randint(0, 30)  # gap >= 0 and duration >= 1: strictly rising
    out.sort(key=lambda r: (r[0], r[1]))  # global start_time order, ties by sensor id
    return out


def write_sensor(rng, rows, f):
    f.write("sensor_id,start_time,end_time,temperature_c,reading_count\n")
    for start, sensor, end, temp, count in sensor_rows(rng, rows):
        f.write(f"{sensor},{iso_utc(start)},{iso_utc(end)},{temp},{count}\n")


def render_date(rng, y, m, d, layout):
    """One zero-padded date in one of the SPEC's three layouts (values may be impossible)."""
    if layout == 0:
        return f"{y:04d}-{m:02d}-{d:02d}"
    if layout == 1:
        return f"{d:02d}/{m:02d}/{y:04d}"
    t = (rng.randrange(24), rng.randrange(60), rng.randrange(60))
    return f"{y:04d}-{m:02d}-{d:02d} {t[0]:02d}:{t[1]:02d}:{t[2]:02d}"


def impossible_date(rng):
    """(y, m, d) that no calendar has: the kinds SPEC.md lists, and a few more of the same sort."""
    y = rng.randint(2019, 2024)
    non_leap = rng.choice([2019, 2021, 2022, 2023])
    return rng.choice([
        (y, 2, 30), (y, 2, 31), (y, 4, 31), (y, 6, 31), (y, 9, 31), (y, 11, 31),
        (non_leap, 2, 29), (rng.choice([1900, 2100]), 2, 29),  # century years are not leap
        (y, 13, rng.randint(1, 28)), (y, 0, rng.randint(1, 28)),
        (y, rng.randint(1, 12), 0), (y, rng.randint(1, 12), 32),
        (0, rng.randint(1, 12), rng.randint(1, 28)),  # year 0000 is outside 0001..9999
    ])


def messy_date(rng, true):
    """A date field per SPEC.md's mix: 40/20/20 % the three layouts, then the bad values."""
    u = rng.random()
    if u < 0.80:
        layout = 0 if u < 0.40 else (1 if u < 0.60 else 2)
        return render_date(rng, true.year, true.month, true.day, layout)
    for limit, token in ((0.84, ""), (0.87, "NaN"), (0.90, "null"), (0.93, "0000-00-00")):
        if u < limit:
            return token
    if u < 0.96:
        # The sentinel, mostly as SPEC's `1900-01-01`; sometimes in the other layouts,
        # since the transform must treat it as NULL "in any format".
        return render_date(rng, 1900, 1, 1, rng.choice([0, 0, 1, 2]))
    return render_date(rng, *impossible_date(rng), rng.randrange(3))


def write_shipments(rng, rows, f):
    f.write("shipment_id,order_id,shipment_date,delivery_date,carrier,status,weight_kg\n")
    shipment_id, order_id, left_in_order = 100_000, 5_000, 0
    for i in range(rows):
        shipment_id += rng.randint(1, 3)
        if left_in_order == 0:  # a new order of 1..3 shipments
            order_id += rng.randint(1, 4)
            left_in_order = rng.randint(1, 3)
        left_in_order -= 1
        ship = FIRST_SHIP_DAY + datetime.timedelta(days=rng.randrange(SHIP_DAYS))
        if i % 97 == 0:  # valid leap days are rare at random; make sure some occur
            ship = LEAP_DAYS[(i // 97) % 2]
        delivery = ship + datetime.timedelta(days=rng.randint(0, 12))
        weight = rng.randint(100, 50_000)  # thousandths of a kg
        f.write(f"{shipment_id},{order_id},{messy_date(rng, ship)},{messy_date(rng, delivery)},"
                f"{rng.choice(CARRIERS)},{rng.choice(STATUSES)},{weight // 1000}.{weight % 1000:03d}\n")


def gen(args):
    import random  # only generation needs it
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{args.workload}_{args.rows // 1000}k.csv")
    with open(path, "w", encoding="ascii", newline="\n") as f:
        (write_sensor if args.workload == "sensor" else write_shipments)(rng, args.rows, f)
    counts = COVERAGE[args.workload](path)
    print(json.dumps({"file": path, "rows": args.rows, "edge_cases": counts}, indent=2))
    missing = [name for name, n in counts.items() if n == 0]
    if missing and args.rows >= COVERAGE_MIN_ROWS:
        sys.exit(f"gen: {path} has no {', '.join(missing)}")


# ---------------------------------------------------------------------------------------
# Reading the input (the SPEC's CSV: no quoting, `,` delimiter, `\n` line ends)
# ---------------------------------------------------------------------------------------

def csv_records(path, header):
    """Yields the fields of each data line; plain split is exact because SPEC rules out quoting."""
    opener = gzip.open if path.endswith(".gz") else open  # SPEC: `.gz` copies hold the same bytes
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        first = f.readline().rstrip("\n").split(",")
        if first != header:
            raise ValueError(f"header {first}, expected {header}")
        for number, line in enumerate(f, start=2):
            fields = line.rstrip("\n").split(",")
            if len(fields) != len(header):
                raise ValueError(f"line {number}: {len(fields)} fields, expected {len(header)}")
            yield fields


SENSOR_HEADER = ["sensor_id", "start_time", "end_time", "temperature_c", "reading_count"]
SHIPMENT_HEADER = ["shipment_id", "order_id", "shipment_date", "delivery_date", "carrier",
                   "status", "weight_kg"]

# ---------------------------------------------------------------------------------------
# Transform A: resample
# ---------------------------------------------------------------------------------------

UTC_SECOND = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


def epoch_seconds(text):
    """`YYYY-MM-DDTHH:MM:SSZ` to seconds since the epoch (a strict parse: the whole field)."""
    m = UTC_SECOND.fullmatch(text)
    if not m:
        raise ValueError(f"not a YYYY-MM-DDTHH:MM:SSZ timestamp: {text!r}")
    parts = [int(g) for g in m.groups()]
    return calendar.timegm(datetime.datetime(*parts).timetuple())


def resample_buckets(path):
    """(sensor_id, minute start in s) -> [non-NULL temperatures in input order, reading_count sum]."""
    buckets = {}
    for sensor, start, _end, temp, count in csv_records(path, SENSOR_HEADER):
        minute = epoch_seconds(start) // 60 * 60  # floor, also before 1970
        bucket = buckets.setdefault((sensor, minute), [[], 0])
        if temp != "":  # SPEC: an empty field is NULL
            bucket[0].append(float(temp))
        bucket[1] += int(count)
    return buckets


def expected_resample(path):
    """Columns of the expected output, sorted by sensor_id bytes then minute."""
    buckets = resample_buckets(path)
    cols = {name: [] for name, _ in RESAMPLE_SCHEMA}
    for sensor, minute in sorted(buckets, key=lambda k: (k[0].encode(), k[1])):
        temps, count = buckets[(sensor, minute)]
        cols["sensor_id"].append(sensor)
        cols["minute"].append(minute * 1_000_000)  # compared as TIMESTAMP(MICROS) integers
        cols["temperature_mean"].append(sum(temps) / len(temps) if temps else None)
        cols["temperature_min"].append(min(temps) if temps else None)
        cols["temperature_max"].append(max(temps) if temps else None)
        cols["reading_count_sum"].append(count)
    return cols


def sensor_coverage(path):
    """Edge cases of transform A a file holds (gen checks that none is missing)."""
    rows = [(r[0], epoch_seconds(r[1]), r[3]) for r in csv_records(path, SENSOR_HEADER)]
    buckets = {}  # (sensor, minute) -> [rows, NULL temperatures]
    for sensor, start, temp in rows:
        bucket = buckets.setdefault((sensor, start // 60 * 60), [0, 0])
        bucket[0] += 1
        bucket[1] += temp == ""
    starts = [start for _, start, _ in rows]
    return {
        "null_temperatures": sum(1 for *_, temp in rows if temp == ""),
        "buckets_all_null": sum(1 for n, nulls in buckets.values() if nulls == n),
        "buckets_mixing_null_and_values": sum(1 for n, nulls in buckets.values() if 0 < nulls < n),
        "buckets_with_3_or_more_rows": sum(1 for n, _ in buckets.values() if n >= 3),
        "negative_temperatures": sum(1 for *_, temp in rows if temp.startswith("-")),
        "start_on_minute_boundary": sum(1 for s in starts if s % 60 == 0),
        "start_time_ties_across_sensors": len(starts) - len(set(starts)),
        "rows_not_grouped_by_sensor": sum(1 for a, b in zip(rows, rows[1:]) if a[0] != b[0]),
    }


# ---------------------------------------------------------------------------------------
# Transform B: dates
# ---------------------------------------------------------------------------------------

# The three layouts of SPEC.md, matched against the whole field (no trimming). [0-9], not
# \d, which would also take non-ASCII digits. SPEC.md drops the time and only asks for a
# valid calendar date, so the time's digits are not range-checked (gen writes valid times,
# so a tool that also rejects `25:99:99` agrees on this data).
ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
DAY_FIRST = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
ISO_DATETIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) [0-9]{2}:[0-9]{2}:[0-9]{2}")
SENTINEL = datetime.date(1900, 1, 1)
EPOCH = datetime.date(1970, 1, 1)


def year_month_day(text):
    """(y, m, d) strings of a field in one of the three layouts, or None."""
    for pattern, order in ((ISO_DATE, (0, 1, 2)), (DAY_FIRST, (2, 1, 0)), (ISO_DATETIME, (0, 1, 2))):
        m = pattern.fullmatch(text)
        if m:
            return tuple(m.group(i + 1) for i in order)
    return None


def clean_date(text):
    """Days since 1970-01-01 (Arrow date32), or None for NULL, per SPEC.md transform B."""
    ymd = year_month_day(text)
    if ymd is None:
        return None  # empty, NaN, null, other text
    try:
        date = datetime.date(*(int(p) for p in ymd))  # proleptic Gregorian, years 1..9999
    except ValueError:
        return None  # 0000-00-00, 2021-02-30, month 13, day 00, ...
    return None if date == SENTINEL else (date - EPOCH).days


def expected_dates(path):
    """Columns of the expected output, in input row order."""
    names = [name for name, _ in DATES_SCHEMA]
    cols = {name: [] for name in names}
    for sid, oid, ship, delivery, carrier, status, weight in csv_records(path, SHIPMENT_HEADER):
        ship_day, delivery_day = clean_date(ship), clean_date(delivery)
        late = None if ship_day is None or delivery_day is None else delivery_day - ship_day > 5
        row = (int(sid), int(oid), ship_day, delivery_day, carrier, status, float(weight), late)
        for name, value in zip(names, row):
            cols[name].append(value)
    return cols


def field_kind(text):
    """Which of SPEC.md's renderings a date field is (for the coverage count)."""
    for pattern, kind in ((ISO_DATE, "iso"), (DAY_FIRST, "day_first"), (ISO_DATETIME, "datetime")):
        if pattern.fullmatch(text):
            ymd = year_month_day(text)
            if ymd == ("1900", "01", "01"):
                return f"sentinel_{kind}"
            if clean_date(text) is None:
                return f"impossible_{kind}"
            if (ymd[1], ymd[2]) == ("02", "29"):
                return f"leap_day_{kind}"
            return kind
    return {"": "empty", "NaN": "nan", "null": "null_text"}.get(text, "other_text")


SHIPMENT_KINDS = [
    "iso", "day_first", "datetime", "empty", "nan", "null_text", "impossible_iso",
    "impossible_day_first", "impossible_datetime", "sentinel_iso", "sentinel_day_first",
    "sentinel_datetime", "leap_day_iso", "leap_day_day_first", "leap_day_datetime", "zero_date",
]


def shipment_coverage(path):
    """Edge cases of transform B a file holds (gen checks that none is missing)."""
    counts = dict.fromkeys(SHIPMENT_KINDS + ["late_true", "late_false", "late_null",
                                             "late_boundary_5_days", "carrier_with_space"], 0)
    for row in csv_records(path, SHIPMENT_HEADER):
        for text in row[2:4]:
            kind = "zero_date" if text == "0000-00-00" else field_kind(text)
            counts[kind] = counts.get(kind, 0) + 1
        s, d = clean_date(row[2]), clean_date(row[3])
        late = None if s is None or d is None else d - s > 5
        counts[{True: "late_true", False: "late_false", None: "late_null"}[late]] += 1
        counts["late_boundary_5_days"] += int(late is not None and d - s == 5)
        counts["carrier_with_space"] += int(" " in row[4])
    return counts


# ---------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------

# Floats: SPEC.md allows means to differ by summation order only, "1e-9 relative"; the tiny
# absolute floor covers a mean whose true value is ~0, where a relative bound means nothing.
REL_TOL, ABS_TOL = 1e-9, 1e-12


def is_utf8(t):
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def is_utc_micros(t):
    return pa.types.is_timestamp(t) and t.unit == "us" and t.tz in ("UTC", "+00:00", "Etc/UTC")


# Output columns of SPEC.md, each with a check of its Arrow type and how it reads back.
RESAMPLE_SCHEMA = [
    ("sensor_id", is_utf8),
    ("minute", is_utc_micros),
    ("temperature_mean", pa.types.is_float64),
    ("temperature_min", pa.types.is_float64),
    ("temperature_max", pa.types.is_float64),
    ("reading_count_sum", pa.types.is_int64),
]
DATES_SCHEMA = [
    ("shipment_id", pa.types.is_int64),
    ("order_id", pa.types.is_int64),
    ("shipment_date", pa.types.is_date32),
    ("delivery_date", pa.types.is_date32),
    ("carrier", is_utf8),
    ("status", is_utf8),
    ("weight_kg", pa.types.is_float64),
    ("is_late", pa.types.is_boolean),
]


def actual_values(column):
    """A Parquet column as Python values; timestamps and dates as their integers (exact)."""
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.int64())
    elif pa.types.is_date32(column.type):
        column = column.cast(pa.int32())
    return column.to_pylist()


def same(expected, actual):
    if expected is None or actual is None:
        return expected is None and actual is None  # NULL positions are exact
    if isinstance(expected, float):
        return isinstance(actual, float) and math.isclose(expected, actual, rel_tol=REL_TOL,
                                                          abs_tol=ABS_TOL)
    return type(expected) is type(actual) and expected == actual


def schema_differences(table, schema):
    names = [f.name for f in table.schema]
    if names != [name for name, _ in schema]:
        return [{"schema": f"columns {names}, expected {[n for n, _ in schema]}"}]
    return [{"schema": f"column {name} is {table.schema.field(name).type}"}
            for name, check in schema if not check(table.schema.field(name).type)]


def compression_differences(path):
    """SPEC.md: the file is zstd-compressed (the level is not recorded in Parquet)."""
    meta = pq.ParquetFile(path).metadata
    codecs = {meta.row_group(i).column(j).compression
              for i in range(meta.num_row_groups) for j in range(meta.num_columns)}
    return [] if codecs <= {"ZSTD"} else [{"compression": sorted(codecs)}]


def shown(value, arrow_type):
    """A compared integer as the reader knows it: dates and timestamps in ISO form."""
    if value is None:
        return None
    if pa.types.is_date32(arrow_type):
        return (EPOCH + datetime.timedelta(days=value)).isoformat()
    if pa.types.is_timestamp(arrow_type):
        return iso_utc(value // 1_000_000)
    return value


def value_differences(expected, table, schema, limit):
    """The first `limit` differing cells, and how many differ in all."""
    found, total = [], 0
    for name, _ in schema:
        want, got = expected[name], actual_values(table.column(name))
        arrow_type = table.schema.field(name).type
        for row, (e, a) in enumerate(zip(want, got)):
            if not same(e, a):
                total += 1
                if len(found) < limit:
                    found.append({"row": row, "column": name, "expected": shown(e, arrow_type),
                                  "actual": shown(a, arrow_type)})
    return found, total


def checksums(cols, workload):
    """Key aggregates, printed for both sides so a reader sees what kind of difference it is."""
    nulls = {name: sum(1 for v in values if v is None) for name, values in cols.items()}
    if workload == "sensor":
        return {"rows": len(cols["sensor_id"]), "reading_count_sum": sum(cols["reading_count_sum"]),
                "null_means": nulls["temperature_mean"]}
    late = cols["is_late"]
    return {"rows": len(late), "null_shipment_date": nulls["shipment_date"],
            "null_delivery_date": nulls["delivery_date"], "late_true": late.count(True),
            "late_false": late.count(False), "late_null": nulls["is_late"]}


def verify(args, limit=10):
    schema = RESAMPLE_SCHEMA if args.workload == "sensor" else DATES_SCHEMA
    expected = (expected_resample if args.workload == "sensor" else expected_dates)(args.input)
    table = pq.read_table(args.output)
    bad_schema = schema_differences(table, schema)
    problems = bad_schema + compression_differences(args.output)
    rows = len(expected[schema[0][0]])
    if table.num_rows != rows:
        problems.append({"rows": f"{table.num_rows}, expected {rows}"})
    cells, total, actual = [], 0, None
    if not bad_schema:  # values are only comparable when the columns are the right ones
        cells, total = value_differences(expected, table, schema, limit)
        actual = checksums({n: actual_values(table.column(n)) for n, _ in schema}, args.workload)
    report = {
        "workload": args.workload, "input": args.input, "output": args.output,
        "verdict": "OK" if not problems and not total else "MISMATCH",
        "problems": problems, "differing_cells": total, "first_differences": cells,
        "expected_checksums": checksums(expected, args.workload), "actual_checksums": actual,
    }
    print(json.dumps(report, indent=2, default=str))
    return 0 if report["verdict"] == "OK" else 1


COVERAGE = {"sensor": sensor_coverage, "shipments": shipment_coverage}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gen", help="write a workload CSV")
    g.add_argument("--workload", choices=["sensor", "shipments"], required=True)
    g.add_argument("--rows", type=int, required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--seed", type=int, default=42)
    v = sub.add_parser("verify", help="check a transform output against the oracle")
    v.add_argument("--workload", choices=["sensor", "shipments"], required=True)
    v.add_argument("input")
    v.add_argument("output")
    args = parser.parse_args(argv)
    if args.command == "gen":
        gen(args)
        return 0
    return verify(args)


if __name__ == "__main__":
    sys.exit(main())
