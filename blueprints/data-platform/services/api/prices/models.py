from django.db import models


class Price(models.Model):
    """One end-of-day closing price; the lake holds the same rows, one CSV object per day."""

    symbol = models.CharField(max_length=16)
    day = models.DateField()
    close = models.DecimalField(max_digits=12, decimal_places=4)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "symbol"]
        constraints = [models.UniqueConstraint(fields=["symbol", "day"], name="price_symbol_day")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.day}: {self.close}"

    def as_dict(self) -> dict:
        return {"symbol": self.symbol, "day": self.day.isoformat(), "close": str(self.close)}
