"""The installed version of the studio, which the CLI shares.

Kept out of `cli/__init__.py`: an editable install made before `cli/` had an `__init__.py` imports
`cli` as a namespace package, which never runs it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ml-studio")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0.0.0+unknown"
