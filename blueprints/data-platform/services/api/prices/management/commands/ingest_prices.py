"""python manage.py ingest_prices: today's closing prices into PostgreSQL and the lake.

The example has no market-data vendor to call: the prices are made up, deterministically from
the symbol and the day, so that a re-run writes the same rows (the job is idempotent, as a
scheduled job retried after a timeout must be).
"""

import datetime as dt
import hashlib
import logging
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from prices import lake
from prices.models import Price

log = logging.getLogger(__name__)

SYMBOLS = ["AAPL", "ASML", "MSFT", "NVDA", "SAP"]


def quote(symbol: str, day: dt.date) -> Decimal:
    digest = hashlib.sha256(f"{symbol}:{day.isoformat()}".encode()).digest()
    cents = 5_000 + int.from_bytes(digest[:4], "big") % 45_000  # 50.00 .. 499.99
    return Decimal(cents) / 100


class Command(BaseCommand):
    help = "Writes the day's closing prices to the database and the lake."

    def add_arguments(self, parser):
        parser.add_argument("--day", type=dt.date.fromisoformat, help="YYYY-MM-DD (default: today, UTC)")

    def handle(self, *args, **options):
        day = options["day"] or dt.datetime.now(dt.UTC).date()
        rows = [(symbol, quote(symbol, day)) for symbol in SYMBOLS]

        with transaction.atomic():
            for symbol, close in rows:
                Price.objects.update_or_create(symbol=symbol, day=day, defaults={"close": close})

        try:
            key = lake.write_day(lake.client(), day, rows)
        except Exception as error:  # botocore's errors share no useful base class
            # The database has the rows and the lake does not: reconcile will report it, and the
            # non-zero exit makes run-job.sh report this run as failed.
            raise CommandError(f"could not write {day} to the lake: {error}") from error

        log.info("ingested %d prices for %s (lake object %s)", len(rows), day, key)
        self.stdout.write(f"ingested {len(rows)} prices for {day}")
