"""The clipprep version: one place, read by the package and by batch (its cache key and the Dask
workers' version check), so no module imports it back from the package ``__init__``."""

__version__ = "0.1.0"
