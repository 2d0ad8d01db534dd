from django.contrib import admin

from prices.models import Price


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ["symbol", "day", "close", "updated_at"]
    list_filter = ["symbol"]
    date_hierarchy = "day"
    search_fields = ["symbol"]
