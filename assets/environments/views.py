from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from assets.models import BuildStatus, Environment, EnvironmentBuild
from assets.versioning import DuplicateVersion
from assets.versioning_views import archive_view
from core.forms import add_errors
from core.streams import ProducerState, async_guard, file_event_stream
from workspaces.access import workspace_view
from workspaces.downloads import StreamingFileResponse
from workspaces.roles import Perm
from workspaces.selectors import still_allowed

from . import envbuild, selectors, services
from .forms import EnvironmentForm
from .packages import STUDIO_PYTHON

TABS = ("overview", "log", "versions")
FINISHED = (BuildStatus.SUCCEEDED, BuildStatus.FAILED)


def _environment_or_404(access, name: str, version: str) -> Environment:
    environment = selectors.environment_get(workspace=access.workspace, name=name, version=version)
    if environment is None:
        raise Http404("No such environment.")
    return environment


@workspace_view(read=Perm.DATA_READ)
@vary_on_headers("HX-Request")
def environment_list(request, access):
    tab = "curated" if request.GET.get("tab") == "curated" else "custom"
    archived = request.GET.get("archived") == "1"
    if tab == "curated":
        rows = list(selectors.curated_environments().order_by("name"))
    else:
        rows = selectors.latest_versions(selectors.custom_environments(workspace=access.workspace, archived=archived))
    context = {
        "access": access,
        "tab": tab,
        "archived": archived,
        "rows": rows,
        "building": any(row.build and row.build.status not in FINISHED for row in rows),
    }
    template = "assets/environments/list.html"
    if request.htmx and request.htmx.target == "environments":
        template += "#table"
    return render(request, template, context)


@workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
def environment_create(request, access):
    form = EnvironmentForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["source"] == "yaml":
                environment = services.environment_create_from_yaml(
                    workspace=access.workspace,
                    user=request.user,
                    yaml_text=form.cleaned_data["yaml_text"],
                    conda_file=form.cleaned_data["yaml_conda_text"],
                    name=form.cleaned_data.get("name") or None,
                    version=form.cleaned_data.get("version") or None,
                )
            else:
                environment = services.environment_create(
                    workspace=access.workspace, user=request.user, **form.service_fields()
                )
        except ValidationError as exc:
            add_errors(form, _on_visible_fields(exc) if form.cleaned_data["source"] == "yaml" else exc)
        except DuplicateVersion as exc:
            form.add_error("version", str(exc.detail))
        else:
            messages.success(
                request, f"Created environment {environment.name}:{environment.version}; its image is building."
            )
            return redirect("environment_detail", access.workspace.name, environment.name, environment.version)
    status = 400 if form.errors else 200
    return render(request, "assets/environments/create.html", {"access": access, "form": form}, status=status)


def _on_visible_fields(exc: ValidationError) -> ValidationError:
    """Errors in an uploaded YAML belong to the upload (the other fields are hidden), named by field."""
    errors: dict[str, list[str]] = {}
    for field, texts in exc.message_dict.items():
        target = field if field in ("name", "version") else "yaml_file"
        prefix = "" if field in ("name", "version", "yaml", "__all__") else f"{field}: "
        errors.setdefault(target, []).extend(prefix + text for text in texts)
    return ValidationError(errors)


@workspace_view(read=Perm.DATA_READ)
@vary_on_headers("HX-Request")
def environment_detail(request, access, name, version):
    environment = _environment_or_404(access, name, version)
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "overview"
    build = environment.build
    context = {
        "access": access,
        "environment": environment,
        "build": build,
        "tab": tab,
        "studio_python": STUDIO_PYTHON,
        "can_write": access.allows(Perm.DATA_WRITE),
        "versions": selectors.environment_versions(workspace=access.workspace, name=name) if tab == "versions" else [],
        "installed": envbuild.installed_packages(build.spec_hash) if build and tab == "overview" else [],
    }
    template = "assets/environments/detail.html"
    if request.htmx and request.htmx.target == "tab-body":
        template += "#tab-body"
    return render(request, template, context)


@workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
@require_POST
def environment_build(request, access, name, version):
    """Build an environment that was never built (a curated one), or build a Failed one again."""
    environment = _environment_or_404(access, name, version)
    build = services.environment_build_start(environment=environment)
    queued = build.status == BuildStatus.NOT_STARTED
    messages.info(request, "The build is queued." if queued else f"The build is {build.get_status_display().lower()}.")
    return redirect_to_tab(access, environment, "log")


def tab_url(access, environment, tab: str = "overview") -> str:
    return reverse("environment_detail", args=[access.workspace.name, environment.name, environment.version]) + (
        f"?tab={tab}"
    )


def redirect_to_tab(access, environment, tab: str) -> HttpResponse:
    return redirect(tab_url(access, environment, tab))


environment_archive = archive_view(get_asset=_environment_or_404, detail_url=tab_url)


@workspace_view(read=Perm.DATA_READ)
def environment_build_log(request, access, name, version):
    """The whole build log as a text file."""
    environment = _environment_or_404(access, name, version)
    if environment.build is None or not envbuild.log_path(environment.build.spec_hash).exists():
        raise Http404("This environment has no build log yet.")
    path = envbuild.log_path(environment.build.spec_hash)
    response = StreamingFileResponse(
        open(path, "rb"),
        as_attachment=True,
        filename=f"{environment.name}-{environment.version}-build.log",  # noqa: SIM115
    )
    response["Content-Type"] = "text/plain; charset=utf-8"
    return response


def build_state(build_id: int) -> ProducerState:
    build = EnvironmentBuild.objects.filter(pk=build_id).values("status", "error").first() or {
        "status": BuildStatus.FAILED,
        "error": "The build is gone.",
    }
    return ProducerState(finished=build["status"] in FINISHED, status=build)


@async_guard(workspace_view(read=Perm.DATA_READ))
async def environment_build_log_events(request, access, name, version):
    """The build log as Server-Sent Events, live while the build runs (see studio/streams.py)."""
    environment = await selectors.environment_get_async(workspace=access.workspace, name=name, version=version)
    if environment is None or environment.build_id is None:
        raise Http404("This environment has no build yet.")
    build_id = environment.build_id
    return file_event_stream(
        request,
        path=envbuild.log_path(environment.build.spec_hash),
        poll=lambda: build_state(build_id),
        allowed=still_allowed(user=request.user, workspace=access.workspace.name, perm=Perm.DATA_READ),
    )
