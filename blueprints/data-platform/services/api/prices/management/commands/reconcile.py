"""python manage.py reconcile: counts the rows on which the lake and the database disagree.

The count goes to the Pushgateway as data_platform_divergence_rows{dataset="prices"}, which the
DataDivergence alert watches. It is pushed with POST under job="reconcile", the group run-job.sh
pushes the job's outcome to: POST replaces only the metrics it sends, so the two pushes leave
each other's gauges alone (a PUT would delete run-job.sh's last-success time).
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

from prices import lake
from prices.models import Price

log = logging.getLogger(__name__)

DATASET = "prices"


def divergent_rows(db: dict[str, object], stored: dict[str, object] | None) -> int:
    """Rows missing on either side, or with a different close."""
    stored = stored or {}
    return sum(1 for symbol in db.keys() | stored.keys() if db.get(symbol) != stored.get(symbol))


class Command(BaseCommand):
    help = "Compares the lake with the database and records the divergences."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="how many recent days to compare")

    def handle(self, *args, **options):
        since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=options["days"] - 1)
        s3 = lake.client()
        try:
            lake_days = lake.days(s3, since)
            db_days = set(Price.objects.filter(day__gte=since).values_list("day", flat=True))
            divergent = 0
            for day in sorted(lake_days | db_days):
                in_db = {p.symbol: p.close for p in Price.objects.filter(day=day)}
                count = divergent_rows(in_db, lake.read_day(s3, day))
                if count:
                    log.warning("%s: %d rows differ between the lake and the database", day, count)
                divergent += count
        except Exception as error:
            raise CommandError(f"could not compare the lake with the database: {error}") from error

        self.stdout.write(f"{DATASET}: {divergent} divergent rows since {since}")
        if settings.PUSHGATEWAY_URL:
            registry = CollectorRegistry()
            gauge = Gauge("data_platform_divergence_rows", "Rows on which the lake and the database disagree.",
                          ["dataset"], registry=registry)
            gauge.labels(dataset=DATASET).set(divergent)
            try:
                pushadd_to_gateway(settings.PUSHGATEWAY_URL, job="reconcile", registry=registry, timeout=10)
            except OSError as error:
                # Without the gauge the alert cannot fire: fail, and JobFailed fires instead.
                raise CommandError(f"could not push to {settings.PUSHGATEWAY_URL}: {error}") from error
