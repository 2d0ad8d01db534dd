"""The lake: one CSV object per day under prices/day=YYYY-MM-DD/prices.csv in S3_BUCKET.

CSV rather than Parquet keeps the example's image small (no pyarrow); the layout is the one a
Parquet dataset would have, so swapping the format changes only encode() and decode().
"""

import csv
import datetime as dt
import io
from decimal import Decimal

import boto3
from botocore.config import Config
from django.conf import settings

PREFIX = "prices/"


def client():
    config = Config(
        # A job fails in seconds, not after botocore's default minute per attempt, when the lake
        # is unreachable: run-job.sh then reports the failure.
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
        # MinIO (S3_ENDPOINT_URL) serves buckets by path, not as bucket.host subdomains.
        s3={"addressing_style": "path"} if settings.S3_ENDPOINT_URL else None,
    )
    return boto3.client("s3", endpoint_url=settings.S3_ENDPOINT_URL, config=config)


def key_for(day: dt.date) -> str:
    return f"{PREFIX}day={day.isoformat()}/prices.csv"


def encode(rows: list[tuple[str, Decimal]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["symbol", "close"])
    writer.writerows((symbol, f"{close:.4f}") for symbol, close in sorted(rows))
    return out.getvalue().encode()


def decode(body: bytes) -> dict[str, Decimal]:
    return {row["symbol"]: Decimal(row["close"]) for row in csv.DictReader(io.StringIO(body.decode()))}


def write_day(s3, day: dt.date, rows: list[tuple[str, Decimal]]) -> str:
    key = key_for(day)
    s3.put_object(Bucket=settings.S3_BUCKET, Key=key, Body=encode(rows), ContentType="text/csv")
    return key


def read_day(s3, day: dt.date) -> dict[str, Decimal] | None:
    """The day's rows, or None when the lake has no object for it."""
    try:
        body = s3.get_object(Bucket=settings.S3_BUCKET, Key=key_for(day))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return decode(body)


def days(s3, since: dt.date) -> set[dt.date]:
    """The days from `since` on that have an object in the lake."""
    found = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.S3_BUCKET, Prefix=PREFIX):
        for item in page.get("Contents", []):
            part = item["Key"][len(PREFIX):].split("/", 1)[0]  # day=YYYY-MM-DD
            if part.startswith("day="):
                day = dt.date.fromisoformat(part[4:])
                if day >= since:
                    found.add(day)
    return found
