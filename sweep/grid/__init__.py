"""The grid file: its vocabulary (``schema``), parsing and validation (``load``, ``parse_axes``,
``validate``, ``checks``, ``locate``), axes and lazy expansion into runs (``axes``, ``expand``,
``groups``), the tasks' datasets (``tasks``), overrides (``overrides``), sequential-seed rules
(``stopping``), run identity (``hashing``, ``identity``) and the config columns (``columns``).

``load_grid(path, overrides) -> Grid`` is the entry point.
"""


def __getattr__(name):  # lazy: importing one grid module does not load them all
    if name in ("load_grid", "Grid"):
        from sweep.grid.load import load
        return getattr(load, name)
    raise AttributeError(name)
