from django.urls import include, path

from accounts import api as accounts_api
from accounts import views as accounts_views
from jobs import streams as jobs_streams
from workspaces import api as workspaces_api

from . import views

api_v1 = [
    path("schema", views.SchemaView.as_view(), name="api_schema"),
    path("docs", views.DocsView.as_view(url_name="api_schema"), name="api_docs"),
    path("tokens", accounts_api.TokenListApi.as_view(), name="api_tokens"),
    path("tokens/<int:token_id>", accounts_api.TokenDetailApi.as_view(), name="api_token"),
    path("users", accounts_api.UserListApi.as_view(), name="api_users"),
    path("workspaces", workspaces_api.WorkspaceListApi.as_view(), name="api_workspaces"),
    path("workspaces/<str:workspace>", workspaces_api.WorkspaceDetailApi.as_view(), name="api_workspace"),
    path("workspaces/<str:workspace>/datastores", workspaces_api.DatastoreListApi.as_view(), name="api_datastores"),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>",
        workspaces_api.DatastoreDetailApi.as_view(),
        name="api_datastore",
    ),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>/files",
        workspaces_api.DatastoreFilesApi.as_view(),
        name="api_datastore_files",
    ),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>/files/content",
        workspaces_api.DatastoreFileContentApi.as_view(),
        name="api_datastore_file_content",
    ),
    path("workspaces/<str:workspace>/members", workspaces_api.MemberListApi.as_view(), name="api_members"),
    path(
        "workspaces/<str:workspace>/members/<str:username>", workspaces_api.MemberDetailApi.as_view(), name="api_member"
    ),
    # Assets: /data, /environments, /models, /components (each kind's api_urls.py).
    path("workspaces/<str:workspace>/", include("assets.data.api_urls")),
    path("workspaces/<str:workspace>/", include("assets.environments.api_urls")),
    path("workspaces/<str:workspace>/", include("assets.mlmodels.api_urls")),
    path("workspaces/<str:workspace>/", include("assets.components.api_urls")),
    path("workspaces/<str:workspace>/jobs/<str:name>/stream", jobs_streams.job_stream_api, name="api_job_stream"),
    path("workspaces/<str:workspace>/", include("jobs.api_urls")),
    path("workspaces/<str:workspace>/", include("compute.api_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", accounts_views.login, name="login"),
    path("accounts/logout/", accounts_views.logout, name="logout"),
    path("accounts/tokens/", accounts_views.token_list, name="token_list"),
    path("accounts/tokens/<int:token_id>/revoke", accounts_views.token_revoke, name="token_revoke"),
    path("accounts/users/", accounts_views.user_list, name="user_list"),
    path("workspaces/<str:workspace>/data/", include("assets.data.urls")),
    path("workspaces/<str:workspace>/environments/", include("assets.environments.urls")),
    path("workspaces/<str:workspace>/models/", include("assets.mlmodels.urls")),
    path("workspaces/<str:workspace>/components/", include("assets.components.urls")),
    path("workspaces/<str:workspace>/jobs/", include("jobs.urls")),
    path("workspaces/<str:workspace>/compute/", include("compute.urls")),
    path("workspaces/", include("workspaces.urls")),
    path("api/v1/", include(api_v1)),
    path("", include("tracking.urls")),
]
