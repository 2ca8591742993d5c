#!/usr/bin/env python3
"""Approve Order: the command process of the Sample service.

Reads the fss command document on stdin and answers {"outputs": {...}} on stdout.
An order id starting with "reject" fails the execution: the last stderr line is the
message the caller sees.
"""
import datetime
import json
import sys

call = json.load(sys.stdin)
order_id = call["inputs"].get("Order Id")
region = call["properties"].get("Region") or "any region"
if str(order_id).startswith("reject"):
    print(f"order {order_id} cannot be approved", file=sys.stderr)
    sys.exit(1)
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
json.dump({"outputs": {
    "Approved At": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "Message": f"order {order_id} approved for {region} (execution {call['executionId']})",
}}, sys.stdout)
