from django.urls import path

from prices import views

app_name = "prices"

urlpatterns = [
    path("", views.index, name="index"),
    path("prices", views.latest, name="latest"),
    path("prices/<str:symbol>", views.history, name="history"),
]
