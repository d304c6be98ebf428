#!/usr/bin/env python3
"""Writes through cairn's InfluxDB v2 API with the official client library, influxdb-client.

usage: run_influx.py URL CASES.json

Each case writes with a synchronous WriteApi to bucket `default`: action write_points sends
Point objects built from case["points"] ({measurement, tags, fields, time}), write_lines
sends case["lines"] as line-protocol records. Prints one JSON line per case:
{"case", "rows": [], "error": null} once the write is acknowledged, or the client's error
as {"sqlstate": "<HTTP status>", "message": "<the server's answer>"}.
"""
import datetime
import json
import sys

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException


def point(p):
    pt = Point(p["measurement"])
    for k, v in p.get("tags", {}).items():
        pt = pt.tag(k, v)
    for k, v in p["fields"].items():
        pt = pt.field(k, v)
    t = datetime.datetime.fromisoformat(p["time"])
    return pt.time(t, WritePrecision.NS)


def main():
    url, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        cases = json.load(f)
    # With no users configured cairn accepts loopback clients without credentials; the
    # library still sends its token header.
    with InfluxDBClient(url=url, token="cairn", org="cairn", timeout=30_000) as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        for case in cases:
            out = {"case": case["name"], "rows": [], "columns": None, "rowcount": None,
                   "error": None}
            try:
                if case["action"] == "write_points":
                    write.write(bucket="default", record=[point(p) for p in case["points"]])
                else:
                    write.write(bucket="default", record=case["lines"])
            except ApiException as e:
                out["rows"] = None
                out["error"] = {"sqlstate": str(e.status), "message": str(e.body)}
            except Exception as e:  # the case's answer, whatever it is
                out["rows"] = None
                out["error"] = {"sqlstate": None, "message": f"{type(e).__name__}: {e}"}
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
