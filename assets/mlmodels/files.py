"""The files of a registered asset that lives in a datastore folder (a model's Artifacts, a
component's code snapshot): listing, previewing and downloading, with paths relative to that folder.

A relative path is cleaned with `clean_path` (a bad one is a ValidationError naming `path`); nothing
outside the asset's folder can be named.
"""

from dataclasses import dataclass

from django.http import Http404

from assets.models import Model
from workspaces.downloads import file_response, folder_zip_response
from workspaces.models import Datastore
from workspaces.paths import clean_path, join
from workspaces.preview import Preview, preview_file
from workspaces.storage import Entry, datastore_storage, is_folder, list_folder


@dataclass(frozen=True)
class AssetFiles:
    datastore: Datastore
    root: str  # the asset's file or folder inside the datastore
    zip_name: str  # the name of the whole folder's zip download

    @property
    def storage(self):
        return datastore_storage(self.datastore)

    def _inside(self, relative: str) -> str:
        return join(self.root, clean_path(relative, field="path"))

    def entries(self, relative: str = "") -> list[Entry]:
        """What is directly inside `relative` (the asset's own folder by default); a one-file asset
        lists that file."""
        storage = self.storage
        if not is_folder(storage, self.root):
            if clean_path(relative, field="path"):
                raise Http404("A one-file asset has no folders.")
            name = self.root.rsplit("/", 1)[-1]
            size = storage.size(self.root) if storage.exists(self.root) else None
            return [Entry(name=name, path=name, is_folder=False, size=size)]
        path = self._inside(relative)
        if not is_folder(storage, path):
            raise Http404(f"No folder {relative!r} here.")
        skip = len(self.root) + 1
        return [
            Entry(name=e.name, path=e.path[skip:], is_folder=e.is_folder, size=e.size, modified=e.modified)
            for e in list_folder(storage, path)
        ]

    def file_path(self, relative: str) -> str:
        """The datastore path of the file `relative`; 404 for a folder or nothing."""
        storage = self.storage
        relative = clean_path(relative, field="path")
        if not is_folder(storage, self.root):
            if relative not in ("", self.root.rsplit("/", 1)[-1]):
                raise Http404("No such file.")
            return self.root
        path = join(self.root, relative)
        if not relative or is_folder(storage, path) or not storage.exists(path):
            raise Http404("No such file.")
        return path

    def preview(self, relative: str) -> Preview:
        return preview_file(self.storage, self.file_path(relative))

    def download(self, relative: str = ""):
        """A file as an attachment; a folder (the whole asset by default) as a zip."""
        relative = clean_path(relative, field="path")
        storage = self.storage
        if is_folder(storage, self.root):
            path = join(self.root, relative)
            if is_folder(storage, path):
                return folder_zip_response(
                    storage, path, name=relative.rsplit("/", 1)[-1] if relative else self.zip_name
                )
        return file_response(storage, self.file_path(relative))


def model_files(model: Model) -> AssetFiles:
    return AssetFiles(datastore=model.datastore, root=model.path, zip_name=f"{model.name}-{model.version}")
