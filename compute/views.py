"""Compute clusters in the browser: the list with live nodes, create, scale settings, delete."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from core import sandbox
from core.forms import add_errors
from workspaces.access import workspace_view
from workspaces.roles import Perm

from . import selectors, services, workload
from .forms import COMMON_SIZES, ClusterForm, ScaleForm
from .models import NodeState

LIVE_TARGETS = ("clusters", "nodes")


def _cluster_or_404(access, name):
    cluster = selectors.cluster_by_name(workspace=access.workspace, name=name)
    if cluster is None:
        raise Http404("No such compute.")
    return cluster


def _node_counts(cluster) -> dict:
    counts = {state: 0 for state in NodeState.values}
    for node in cluster.nodes.all():
        counts[node.state] = counts.get(node.state, 0) + 1
    return counts


@workspace_view(read=Perm.COMPUTE_READ)
@vary_on_headers("HX-Request")
def compute_list(request, access):
    clusters = selectors.with_running_jobs(selectors.clusters_for_workspace(workspace=access.workspace))
    for cluster in clusters:
        cluster.counts = _node_counts(cluster)
        cluster.running_jobs = [node.job for node in cluster.nodes.all() if node.job]
    context = {
        "access": access,
        "clusters": clusters,
        "can_read_jobs": access.allows(Perm.JOBS_READ),
        "sandbox": sandbox.describe(),
        "allow_unsandboxed": settings.STUDIO_ALLOW_UNSANDBOXED,
    }
    template = (
        "compute/list.html#clusters" if request.htmx and request.htmx.target == "clusters" else "compute/list.html"
    )
    return render(request, template, context)


@workspace_view(read=Perm.COMPUTE_WRITE, write=Perm.COMPUTE_WRITE)
def compute_create(request, access):
    form = ClusterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            cluster = services.cluster_create(workspace=access.workspace, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Created compute cluster {cluster.name}.")
            return redirect("compute_detail", access.workspace.name, cluster.name)
    status = 400 if form.errors else 200
    context = {"access": access, "form": form, "sizes": COMMON_SIZES}
    return render(request, "compute/create.html", context, status=status)


@workspace_view(read=Perm.COMPUTE_READ, write=Perm.COMPUTE_WRITE)
@vary_on_headers("HX-Request")
def compute_detail(request, access, name):
    """The cluster with its nodes; POST changes its scale settings."""
    (cluster,) = selectors.with_running_jobs([_cluster_or_404(access, name)])
    form = ScaleForm(request.POST or None, initial=_scale_of(cluster))
    if request.method == "POST" and form.is_valid():
        try:
            services.cluster_update(cluster=cluster, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Saved the scale settings of {cluster.name}.")
            return redirect("compute_detail", access.workspace.name, cluster.name)
    cluster.counts = _node_counts(cluster)
    context = {
        "access": access,
        "cluster": cluster,
        "form": form,
        "can_write": access.allows(Perm.COMPUTE_WRITE),
        "can_read_jobs": access.allows(Perm.JOBS_READ),
        "active_jobs": workload.current().unfinished(cluster),
    }
    template = "compute/detail.html"
    if request.htmx and request.htmx.target == "nodes":
        template += "#nodes"
    return render(request, template, context, status=400 if form.errors else 200)


def _scale_of(cluster) -> dict:
    return {k: getattr(cluster, k) for k in ("min_instances", "max_instances", "idle_time_before_scale_down")}


@workspace_view(read=Perm.COMPUTE_WRITE, write=Perm.COMPUTE_WRITE)
@require_POST
def compute_delete(request, access, name):
    cluster = _cluster_or_404(access, name)
    try:
        services.cluster_delete(cluster=cluster)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("compute_detail", access.workspace.name, cluster.name)
    messages.success(request, f"Deleted compute cluster {cluster.name}.")
    return redirect("compute_list", access.workspace.name)
