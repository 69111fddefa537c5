"""From what a person writes (a conda file, a pip requirements list) to the resolved spec a build
is keyed by: a Python version and normalized, sorted pip requirements.

Two specs that differ only in comments, whitespace, order, case or `_`/`-` in names resolve to
the same spec and therefore the same hash, so they share one build.
"""

import dataclasses
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

STUDIO_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

# conda package name -> PyPI name, where the two differ.
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "py-lightgbm": "lightgbm",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "numpy-base": "numpy",
    "pytables": "tables",
    "msgpack-python": "msgpack",
    "python-graphviz": "graphviz",
    "ruamel_yaml": "ruamel.yaml",
    "python-kubernetes": "kubernetes",
    "pyqt": "pyqt5",
    "tensorflow-gpu": "tensorflow",
}
# Conda packages that a virtualenv brings itself.
CONDA_DROPPED = {"python", "pip", "setuptools", "wheel"}
_CONDA_SPEC = re.compile(r"^(?:(?P<channel>[\w.\-/]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(?P<rest>.*)$")
_VERSION = re.compile(r"^[0-9][0-9A-Za-z.*+!_-]*$")


@dataclass(frozen=True)
class ResolvedSpec:
    python: str
    requirements: tuple[str, ...]
    # PyPI name -> the conda name it came from (for error messages; not part of the hash).
    from_conda: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # Whose build this is: "" for the studio's curated environments, a workspace's id otherwise.
    # A build runs the packages' own code (setup.py) with write access to its package cache, so
    # builds (and caches) are shared only within a scope: no workspace's build feeds another's.
    scope: str = ""

    @property
    def hash(self) -> str:
        fields = {"python": self.python, "requirements": list(self.requirements)}
        if self.scope:
            fields["scope"] = self.scope
        canonical = json.dumps(fields, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def as_dict(self) -> dict:
        data = {"python": self.python, "requirements": list(self.requirements), "from_conda": self.from_conda}
        if self.scope:
            data["scope"] = self.scope
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ResolvedSpec":
        return cls(
            python=data["python"],
            requirements=tuple(data.get("requirements", ())),
            from_conda=dict(data.get("from_conda", {})),
            scope=data.get("scope", ""),
        )

    def scoped(self, scope: str) -> "ResolvedSpec":
        return dataclasses.replace(self, scope=scope)

    @property
    def requirements_text(self) -> str:
        return "".join(f"{line}\n" for line in self.requirements)


def normalize_requirement(text: str) -> str:
    """One PEP 508 requirement in a canonical form: 'Scikit_Learn >= 1.5' -> 'scikit-learn>=1.5'."""
    requirement = Requirement(text)
    name = canonicalize_name(requirement.name)
    extras = f"[{','.join(sorted(canonicalize_name(e) for e in requirement.extras))}]" if requirement.extras else ""
    if requirement.url:
        if not requirement.url.startswith("https://"):
            raise InvalidRequirement("only https:// URLs may be given as a direct reference")
        out = f"{name}{extras} @ {requirement.url}"
    else:
        out = f"{name}{extras}{requirement.specifier}"
    if requirement.marker:
        out += f"; {requirement.marker}"
    return out


def parse_pip_requirements(text: str, *, field: str = "pip_requirements", where: str = "line") -> list[str]:
    """requirements.txt lines -> normalized requirements. Comments and blank lines are dropped;
    pip options (-r, -e, --index-url, ...) are refused, since a build installs only from the
    studio's package index."""
    errors, out = [], []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-"):
            errors.append(f"{where} {number}: pip option {line.split()[0]!r} is not supported; list packages only.")
            continue
        try:
            out.append(normalize_requirement(line))
        except InvalidRequirement as exc:
            errors.append(f"{where} {number}: {line!r} is not a valid requirement ({exc}).")
    if errors:
        raise ValidationError({field: errors})
    return out


def _conda_version(version: str, *, entry: str) -> str:
    """A conda version constraint as a PEP 440 specifier: '=1.5.1' -> '==1.5.1', '=1.5' -> '==1.5.*'."""
    version = version.strip()
    if not version:
        return ""
    if "|" in version:
        raise ValueError(f"{entry!r}: alternatives ('|') cannot be installed from PyPI; pick one version.")
    if version.startswith(("==", ">=", "<=", "!=", "~=", ">", "<")):
        return version.replace(" ", "")
    if version.startswith("="):
        version = version[1:]
    if not _VERSION.match(version):
        raise ValueError(f"{entry!r}: {version!r} is not a version.")
    if "*" in version:
        return f"=={version}"
    # conda: 'numpy=1.26' means any 1.26.x; a full version (three parts or more) is exact.
    if version.count(".") >= 2:
        return f"=={version}"
    return f"=={version}.*"


def _split_conda_entry(entry: str) -> tuple[str, str]:
    """'conda-forge::numpy=1.26.4=py311h64a7726_0' -> ('numpy', '=1.26.4'); build strings dropped."""
    match = _CONDA_SPEC.match(entry.strip())
    if not match:
        raise ValueError(f"{entry!r} is not a conda package spec.")
    name, rest = match["name"], match["rest"].strip()
    if "[" in rest:
        raise ValueError(f"{entry!r}: bracket options are not supported; write name=version.")
    if rest.startswith("=") and not rest.startswith("=="):
        # name=version[=build]
        parts = rest[1:].split("=")
        return name, "=" + parts[0]
    if " " in rest and not rest.startswith(("=", ">", "<", "!", "~")):
        # name version [build]
        return name, "=" + rest.split()[0]
    if rest.startswith("==") and "=" in rest[2:]:
        return name, rest.split("=")[0] + "==" + rest[2:].split("=")[0]
    return name, rest.split()[0] if rest else ""


def _python_from_conda(version: str, *, entry: str) -> str:
    """'=3.11' or '=3.11.4' -> '3.11'; a range ('>=3.9') is kept for uv to match against the local Pythons."""
    version = version.strip()
    exact = version.lstrip("=")
    if version and (version.startswith("=") or _VERSION.match(version)) and _VERSION.match(exact):
        parts = exact.replace("*", "").strip(".").split(".")
        if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
            raise ValueError(f"{entry!r}: give the Python version as major.minor, e.g. python=3.11.")
        return f"{parts[0]}.{parts[1]}"
    if not version:
        return STUDIO_PYTHON
    return version.replace(" ", "")


def load_conda_yaml(text: str, *, field: str = "conda_file") -> dict:
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ValidationError({field: f"is not valid YAML{where}: {getattr(exc, 'problem', exc)}"})
    if not isinstance(data, dict):
        raise ValidationError({field: "must be a conda environment file: a mapping with a 'dependencies' list."})
    return data


def resolve_conda(conda: dict, *, field: str = "conda_file") -> ResolvedSpec:
    """A conda environment (as a dict) -> the resolved spec. conda packages are mapped to their PyPI
    names (pytorch -> torch, ...); `pip:` entries are taken as they are."""
    dependencies = conda.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise ValidationError({field: "dependencies: must be a list."})
    python, requirements, from_conda, errors = STUDIO_PYTHON, [], {}, []
    for index, entry in enumerate(dependencies):
        where = f"dependencies[{index}]"
        if isinstance(entry, dict):
            unknown = set(entry) - {"pip"}
            if unknown:
                errors.append(f"{where}: only a 'pip' list may appear as a mapping, not {', '.join(sorted(unknown))}.")
                continue
            pip = entry.get("pip") or []
            if not isinstance(pip, list) or not all(isinstance(item, str) for item in pip):
                errors.append(f"{where}.pip: must be a list of requirements.")
                continue
            try:
                requirements += parse_pip_requirements("\n".join(pip), field=field, where=f"{where}.pip item")
            except ValidationError as exc:
                errors += exc.message_dict[field]
            continue
        if not isinstance(entry, str | int | float):
            errors.append(f"{where}: must be a package spec such as numpy=1.26.")
            continue
        entry = str(entry)
        try:
            conda_name, version = _split_conda_entry(entry)
            key = conda_name.lower()
            if key == "python":
                python = _python_from_conda(version, entry=entry)
                continue
            if key in CONDA_DROPPED:
                continue
            pypi_name = canonicalize_name(CONDA_TO_PYPI.get(key, key))
            requirement = normalize_requirement(pypi_name + _conda_version(version, entry=entry))
        except (ValueError, InvalidRequirement) as exc:
            errors.append(f"{where}: {exc}")
            continue
        requirements.append(requirement)
        from_conda[pypi_name] = conda_name
    if errors:
        raise ValidationError({field: errors})
    return ResolvedSpec(python=python, requirements=tuple(sorted(set(requirements))), from_conda=from_conda)


def resolve_pip(text: str, *, python: str = "", field: str = "pip_requirements") -> ResolvedSpec:
    requirements = parse_pip_requirements(text, field=field)
    return ResolvedSpec(python=python or STUDIO_PYTHON, requirements=tuple(sorted(set(requirements))))
