"""Mounted at /workspaces/<workspace>/compute/ (studio/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.compute_list, name="compute_list"),
    path("new/", views.compute_create, name="compute_create"),
    path("<str:name>/", views.compute_detail, name="compute_detail"),
    path("<str:name>/delete", views.compute_delete, name="compute_delete"),
]
