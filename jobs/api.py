"""REST API for jobs, in the shape of Azure ML's: /jobs, /jobs/<name>, cancel, files, log."""

import base64
import json
from datetime import datetime
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from core.json_bodies import JSONParser
from workspaces.access import WorkspaceAPIView
from workspaces.downloads import file_response, folder_zip_response
from workspaces.paths import clean_path, join
from workspaces.roles import Perm
from workspaces.storage import datastore_storage, is_folder, list_folder

from . import selectors, services
from .joblog import read_log
from .models import JobLogChunk
from .serializers import (
    JobDetailSerializer,
    JobFileSerializer,
    JobListQuerySerializer,
    JobPageSerializer,
    JobSubmitJsonSerializer,
)

MAX_SPEC_BYTES = 256 * 1024
STD_LOG = "user_logs/std_log.txt"
# Sorts on columns that are never NULL can page with a cursor (keyset); the others page by offset.
KEYSET_SORTS = {"created", "-created", "name", "-name", "status", "-status", "display_name", "-display_name"}
PATH_PARAM = OpenApiParameter(
    "path", str, description="Path in the job's folder, e.g. `outputs` or `user_logs/std_log.txt`."
)
FROM_PARAM = OpenApiParameter("from", int, description="Byte offset to read the log from (the last `X-Next-Offset`).")

SUBMIT_MULTIPART = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {"type": "string", "description": "The Azure ML command job YAML (text, or a file part)."},
        "code": {
            "type": "string",
            "format": "binary",
            "description": "The folder the YAML's `code:` names, as a .zip or .tar.gz of its contents "
            "(paths relative to that folder). Required when the YAML has `code:`.",
        },
        "inputs.<name>": {
            "type": "string",
            "format": "binary",
            "description": "One part per input whose `path` is local: the file itself for `uri_file`, a .zip "
            "of the folder's contents for `uri_folder`/`mltable`. E.g. a part named `inputs.training_data`.",
        },
        "conda_file": {
            "type": "string",
            "description": "The content of the conda file an inline `environment:` names by a local path.",
        },
    },
}


def _page_value(job, field: str) -> str:
    value = getattr(job, field)
    return value.isoformat() if isinstance(value, datetime) else value


def _encode_cursor(sort: str, job) -> str:
    field = selectors.SORTS[sort].lstrip("-")
    raw = json.dumps([sort, _page_value(job, field), job.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after_cursor(jobs, sort: str, cursor: str):
    """The jobs after the one the cursor names, in the list's order (the sort, then newest pk)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, pk = json.loads(raw)
        if cursor_sort != sort or not isinstance(pk, int):
            raise ValueError
        order = selectors.SORTS[sort]
        field = order.lstrip("-")
        if field.endswith("_at"):
            value = datetime.fromisoformat(value)
    except (ValueError, TypeError, KeyError, RecursionError):
        raise ValidationError({"cursor": "Not a cursor of this list (sort and cursor must come from one next_link)."})
    beyond = f"{field}__lt" if order.startswith("-") else f"{field}__gt"
    return jobs.filter(Q(**{beyond: value}) | Q(**{field: value, "pk__lt": pk}))


def _page(request, jobs, query: dict) -> dict:
    """One page of `jobs` and the link to the next: a cursor (keyset) for sorts on columns that are never
    NULL, so a job created meanwhile shifts nothing, else `offset`."""
    sort, limit = query["sort"], query["limit"]
    if query.get("cursor"):
        if sort not in KEYSET_SORTS:
            raise ValidationError({"cursor": f"Sort {sort!r} pages with `offset`, not a cursor."})
        jobs = _after_cursor(jobs, sort, query["cursor"])
    offset = 0 if query.get("cursor") else query["offset"]
    rows = list(jobs[offset : offset + limit + 1])
    next_link = None
    if len(rows) > limit:
        rows = rows[:limit]
        params = {k: v for k, v in request.query_params.items() if k not in ("cursor", "offset")}
        if sort in KEYSET_SORTS:
            params["cursor"] = _encode_cursor(sort, rows[-1])
        else:
            params["offset"] = offset + limit
        next_link = request.build_absolute_uri(f"{request.path}?{urlencode(params)}")
    return {"value": rows, "next_link": next_link}


class _JobApi(WorkspaceAPIView):
    read_permission = Perm.JOBS_READ
    write_permission = Perm.JOBS_WRITE

    def get_job(self, name):
        job = selectors.job_by_name(workspace=self.access.workspace, name=name)
        if job is None:
            raise Http404(f"No job named {name!r} in {self.access.workspace.name}.")
        return job

    def detail(self, job):
        return JobDetailSerializer(self.get_job(job.name)).data


class JobListApi(_JobApi):
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(
        operation_id="workspaces_jobs_list", parameters=[JobListQuerySerializer], responses=JobPageSerializer
    )
    def get(self, request, workspace):
        """Jobs, newest first, a page at a time: follow `next_link` (a cursor, or `offset` for the duration sort)."""
        query = JobListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        jobs = selectors.jobs_for_workspace(
            workspace=self.access.workspace,
            status=q.get("status"),
            experiment=q.get("experiment"),
            compute=q.get("compute"),
            tag=q.get("tag"),
            search=q.get("search"),
            created_after=q.get("created_after"),
            created_before=q.get("created_before"),
            sort=q["sort"],
            include_archived=q["include_archived"],
        )
        return Response(JobPageSerializer(_page(request, jobs, q)).data)

    @extend_schema(
        request={"multipart/form-data": SUBMIT_MULTIPART, "application/json": JobSubmitJsonSerializer},
        responses={201: JobDetailSerializer},
        description=(
            "Submit a command job, as `az ml job create --file job.yml`. Send `multipart/form-data` with the "
            "part `spec` (the YAML), `code` (a .zip or .tar.gz of the `code:` folder's contents), one part "
            "`inputs.<name>` per input whose `path` is local (the file, or a .zip of the folder's contents) and "
            "`conda_file` (the content of a local conda file an inline environment names). A spec without local "
            'files can be sent as JSON: `{"spec": "<yaml>"}`. Any error in the spec answers 400 naming the field '
            "and its line, and nothing is created."
        ),
    )
    def post(self, request, workspace):
        """Submit a command job (Azure ML CLI v2 YAML) with its code and local inputs."""
        job = services.job_submit(workspace=self.access.workspace, user=request.user, **_submission(request))
        return Response(self.detail(job), status=status.HTTP_201_CREATED)


def _text_part(request, name: str) -> str | None:
    """A part sent as a form field or as a file, decoded as UTF-8."""
    upload = request.FILES.get(name)
    if upload is not None:
        if upload.size > MAX_SPEC_BYTES:
            raise ValidationError({name: f"Larger than {MAX_SPEC_BYTES // 1024} KB."})
        raw = upload.read()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError({name: "Not UTF-8 text."})
    value = request.data.get(name)
    return value if isinstance(value, str) else None


def _submission(request) -> dict:
    """job_submit's arguments from a multipart or JSON request."""
    if request.content_type.startswith("application/json"):
        body = JobSubmitJsonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return {"yaml_text": body.validated_data["spec"], "conda_file": body.validated_data.get("conda_file")}
    known = {"spec", "code", "conda_file"}
    unknown = sorted(
        k for k in set(request.data) | set(request.FILES) if k not in known and not k.startswith("inputs.")
    )
    if unknown:
        raise ValidationError({unknown[0]: "Unknown part; send spec, code, conda_file and inputs.<name>."})
    spec = _text_part(request, "spec")
    if not spec:
        raise ValidationError({"spec": "Send the job's YAML in the part `spec`."})
    if len(spec.encode()) > MAX_SPEC_BYTES:
        raise ValidationError({"spec": f"The YAML is larger than {MAX_SPEC_BYTES // 1024} KB."})
    inputs = {k.removeprefix("inputs."): f for k, f in request.FILES.items() if k.startswith("inputs.")}
    return {
        "yaml_text": spec,
        "code_archive": request.FILES.get("code"),
        "input_uploads": inputs,
        "conda_file": _text_part(request, "conda_file"),
    }


class JobDetailApi(_JobApi):
    @extend_schema(responses=JobDetailSerializer)
    def get(self, request, workspace, name):
        """The job: status and its timeline, inputs and outputs with their URIs, environment, compute, times."""
        return Response(JobDetailSerializer(self.get_job(name)).data)


class JobCancelApi(_JobApi):
    @extend_schema(request=None, responses=JobDetailSerializer)
    def post(self, request, workspace, name):
        """Cancel: a job not yet on a node ends Canceled at once; a running one goes CancelRequested and its
        node stops its processes."""
        job = services.job_cancel(job=self.get_job(name))
        return Response(self.detail(job))


class JobArchiveApi(_JobApi):
    @extend_schema(request=None, responses=JobDetailSerializer)
    def post(self, request, workspace, name):
        """Archive a job: hidden from the jobs list unless `include_archived`; nothing else changes."""
        return Response(self.detail(services.job_archive(job=self.get_job(name))))


class JobRestoreApi(_JobApi):
    @extend_schema(request=None, responses=JobDetailSerializer)
    def post(self, request, workspace, name):
        """Restore an archived job to the jobs list."""
        return Response(self.detail(services.job_restore(job=self.get_job(name))))


class JobLogApi(_JobApi):
    @extend_schema(
        parameters=[FROM_PARAM],
        responses={
            (200, "text/plain"): OpenApiResponse(
                description="The stored log from the offset (at most about 1 MB). Headers: `X-Next-Offset` "
                "(where to read on from), `X-Job-Status`, and `X-Log-Complete: true` once the job has ended "
                "and everything was read."
            )
        },
    )
    def get(self, request, workspace, name):
        """The job's log (user_logs/std_log.txt) as stored so far, from a byte offset: poll to follow it."""
        job = self.get_job(name)
        raw = request.query_params.get("from", "0")
        offset = int(raw) if raw.isdigit() else 0
        job_status = job.status  # read before the log: all written before the end is then in the read
        text, next_offset = read_log(job.pk, after=offset)
        complete = job.is_terminal and not JobLogChunk.objects.filter(job=job, offset__gte=next_offset).exists()
        response = HttpResponse(text, content_type="text/plain; charset=utf-8")
        response["X-Next-Offset"] = str(next_offset)
        response["X-Job-Status"] = job_status
        response["X-Log-Complete"] = "true" if complete else "false"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


def _job_storage(job):
    return datastore_storage(job.workspace.datastores.get(name="workspaceartifactstore"))


def _live_log(job, storage) -> bool:
    """Whether user_logs/std_log.txt exists only in the database yet (the job still runs)."""
    return job.log_size > 0 and not storage.exists(join(job.artifact_prefix, STD_LOG))


class JobFilesApi(_JobApi):
    @extend_schema(parameters=[PATH_PARAM], responses=JobFileSerializer(many=True))
    def get(self, request, workspace, name):
        """A folder of the job's outputs and logs: outputs/, logs/, user_logs/, system_logs/, code/."""
        job = self.get_job(name)
        path = clean_path(request.query_params.get("path", ""), field="path")
        storage = _job_storage(job)
        full = join(job.artifact_prefix, path)
        if not path or is_folder(storage, full):
            entries = [_relative(job, e) for e in list_folder(storage, full)]
        elif storage.exists(full):
            entries = [_relative(job, e) for e in list_folder(storage, full.rsplit("/", 1)[0]) if e.path == full]
        else:
            entries = []
        if _live_log(job, storage):  # user_logs/std_log.txt is still in the database only
            if path == "" and not any(e["name"] == "user_logs" for e in entries):
                entries.append({"name": "user_logs", "path": "user_logs", "is_folder": True})
            if path in ("user_logs", STD_LOG):
                entries.append({"name": "std_log.txt", "path": STD_LOG, "is_folder": False, "size": job.log_size})
        if path and not entries:
            raise Http404(f"Nothing at {path!r} in the files of {job.name}.")
        entries.sort(key=lambda e: (not e["is_folder"], e["name"]))
        return Response(JobFileSerializer([{"size": None, "modified": None, **e} for e in entries], many=True).data)


def _relative(job, entry) -> dict:
    return {**entry.__dict__, "path": entry.path[len(job.artifact_prefix) + 1 :]}


class JobFileContentApi(_JobApi):
    @extend_schema(parameters=[PATH_PARAM], responses={(200, "application/octet-stream"): bytes})
    def get(self, request, workspace, name):
        """Download a file of the job (an attachment), or a folder as a zip; the whole folder with no path."""
        job = self.get_job(name)
        path = clean_path(request.query_params.get("path", ""), field="path")
        storage = _job_storage(job)
        full = join(job.artifact_prefix, path)
        if path == STD_LOG and _live_log(job, storage):
            return _live_log_response(job)
        if is_folder(storage, full):
            return folder_zip_response(storage, full, name=path.rsplit("/", 1)[-1] or job.name)
        if not storage.exists(full):
            raise Http404(f"Nothing at {path!r} in the files of {job.name}.")
        return file_response(storage, full)


def _live_log_response(job) -> StreamingHttpResponse:
    """The log of a running job, from the database, as the file it becomes (read a part at a time)."""

    async def chunks():
        offset = 0
        while True:
            text, next_offset = await sync_to_async(read_log)(job.pk, after=offset)
            if next_offset == offset:
                return
            yield text.encode()
            offset = next_offset

    response = StreamingHttpResponse(chunks(), content_type="application/octet-stream")
    response["Content-Disposition"] = 'attachment; filename="std_log.txt"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
