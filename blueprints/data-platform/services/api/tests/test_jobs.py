import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command

from prices import lake
from prices.management.commands.reconcile import divergent_rows
from prices.models import Price


class FakeS3:
    """The four calls prices.lake makes, on a dict."""

    class exceptions:  # noqa: N801 (boto3's spelling)
        class NoSuchKey(Exception):
            pass

    def __init__(self):
        self.objects = {}

    def put_object(self, Bucket, Key, Body, **_):  # noqa: N803
        self.objects[Key] = Body

    def get_object(self, Bucket, Key):  # noqa: N803
        if Key not in self.objects:
            raise self.exceptions.NoSuchKey(Key)
        body = self.objects[Key]
        return {"Body": type("Body", (), {"read": lambda self: body})()}

    def get_paginator(self, _name):
        objects = self.objects
        return type("Paginator", (), {"paginate": lambda self, **_: [{"Contents": [{"Key": k} for k in objects]}]})()


@pytest.fixture
def s3(monkeypatch):
    fake = FakeS3()
    monkeypatch.setattr(lake, "client", lambda: fake)
    return fake


@pytest.mark.django_db
def test_ingest_writes_the_database_and_the_lake(s3, capsys):
    call_command("ingest_prices", "--day", "2025-01-02")
    call_command("ingest_prices", "--day", "2025-01-02")  # idempotent
    assert Price.objects.filter(day=dt.date(2025, 1, 2)).count() == 5
    assert lake.read_day(s3, dt.date(2025, 1, 2)) == {
        p.symbol: p.close for p in Price.objects.filter(day=dt.date(2025, 1, 2))
    }


@pytest.mark.django_db
def test_reconcile_counts_divergent_rows(s3, capsys):
    call_command("ingest_prices")
    call_command("reconcile")
    assert "prices: 0 divergent rows" in capsys.readouterr().out
    Price.objects.filter(symbol="SAP").update(close=Decimal("1"))
    Price.objects.filter(symbol="AAPL").delete()
    call_command("reconcile")
    assert "prices: 2 divergent rows" in capsys.readouterr().out


def test_divergent_rows():
    assert divergent_rows({"A": 1, "B": 2}, {"A": 1, "B": 3, "C": 4}) == 2
    assert divergent_rows({"A": 1}, None) == 1
