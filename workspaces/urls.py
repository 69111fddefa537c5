from django.urls import path

from . import views

urlpatterns = [
    path("", views.workspace_list, name="workspace_list"),
    path("<str:workspace>/", views.workspace_home, name="workspace_home"),
    path("<str:workspace>/settings/", views.workspace_settings, name="workspace_settings"),
    path("<str:workspace>/members/", views.member_list, name="member_list"),
    path("<str:workspace>/members/<str:username>/", views.member_update, name="member_update"),
    path("<str:workspace>/datastores/", views.datastore_list, name="datastore_list"),
    path("<str:workspace>/datastores/new/", views.datastore_register, name="datastore_register"),
    path("<str:workspace>/datastores/<str:datastore>/", views.datastore_detail, name="datastore_detail"),
    path("<str:workspace>/datastores/<str:datastore>/upload", views.datastore_upload, name="datastore_upload"),
    path("<str:workspace>/datastores/<str:datastore>/download", views.datastore_download, name="datastore_download"),
    path("<str:workspace>/datastores/<str:datastore>/preview", views.datastore_preview, name="datastore_preview"),
    path(
        "<str:workspace>/datastores/<str:datastore>/delete", views.datastore_delete_path, name="datastore_delete_path"
    ),
    path(
        "<str:workspace>/datastores/<str:datastore>/unregister", views.datastore_unregister, name="datastore_unregister"
    ),
]
