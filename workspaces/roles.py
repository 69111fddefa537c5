"""Azure ML's built-in workspace roles and what each may do."""

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    CONTRIBUTOR = "contributor", "Contributor"
    DATA_SCIENTIST = "data_scientist", "AzureML Data Scientist"
    COMPUTE_OPERATOR = "compute_operator", "AzureML Compute Operator"
    READER = "reader", "Reader"


class Perm(StrEnum):
    READ = "workspace.read"  # see the workspace itself
    DATA_READ = "data.read"  # browse datastores and assets, read tracking
    DATA_WRITE = "data.write"  # upload, create assets, log to tracking
    JOBS_READ = "jobs.read"  # see jobs, their logs and outputs
    JOBS_WRITE = "jobs.write"  # submit and cancel jobs
    DATASTORE_WRITE = "datastore.write"  # register/remove datastores
    COMPUTE_READ = "compute.read"
    COMPUTE_WRITE = "compute.write"  # create/delete compute
    SETTINGS_WRITE = "workspace.settings"
    MEMBERS_MANAGE = "workspace.members"
    CREDENTIALS_READ = "datastore.credentials"


_ALL = frozenset(Perm)
_CONTRIBUTOR = _ALL - {Perm.MEMBERS_MANAGE}
ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.OWNER: _ALL,
    Role.CONTRIBUTOR: _CONTRIBUTOR,
    Role.DATA_SCIENTIST: _CONTRIBUTOR - {Perm.COMPUTE_WRITE, Perm.SETTINGS_WRITE},
    Role.COMPUTE_OPERATOR: frozenset({Perm.READ, Perm.COMPUTE_READ, Perm.COMPUTE_WRITE}),
    Role.READER: frozenset({Perm.READ, Perm.DATA_READ, Perm.JOBS_READ, Perm.COMPUTE_READ}),
}
# A job's own token (MLFLOW_TRACKING_TOKEN): its workspace's data and tracking, at most what its
# submitter may; never members, settings, credentials, compute, tokens or jobs (its own run is
# reached through tracking, which checks that the run is the job's own).
JOB_TOKEN_PERMISSIONS = frozenset({Perm.READ, Perm.DATA_READ, Perm.DATA_WRITE})


def role_allows(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(role, frozenset())
