"""The read API: JSON only, no templates."""

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from prices.models import Price


@require_GET
def index(request: HttpRequest) -> JsonResponse:
    """Where things are, as the client must ask for them: reverse() includes the mount prefix
    (FORCE_SCRIPT_NAME), and the host and scheme are the proxy's (X-Forwarded-*)."""
    return JsonResponse(
        {
            "latest": request.build_absolute_uri(reverse("prices:latest")),
            "history": request.build_absolute_uri(reverse("prices:history", args=["SYMBOL"])),
            "admin": request.build_absolute_uri(reverse("admin:index")),
        }
    )


@require_GET
def latest(request: HttpRequest) -> JsonResponse:
    """The most recent day's close of every symbol."""
    newest = Price.objects.order_by("-day").values_list("day", flat=True).first()
    rows = Price.objects.filter(day=newest).order_by("symbol") if newest else Price.objects.none()
    return JsonResponse({"day": newest.isoformat() if newest else None,
                         "items": [row.as_dict() for row in rows]})


@require_GET
def history(request: HttpRequest, symbol: str) -> JsonResponse:
    """Up to 90 days of one symbol, newest first."""
    rows = list(Price.objects.filter(symbol=symbol.upper()).order_by("-day")[:90])
    if not rows:
        return JsonResponse({"error": f"no prices for {symbol.upper()}"}, status=404)
    return JsonResponse({"symbol": symbol.upper(), "items": [row.as_dict() for row in rows]})
