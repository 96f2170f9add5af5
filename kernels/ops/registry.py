"""Registries: each maps an op's configuration name to its definition and its integer code.

The kernels branch on the codes; the grid schema's allowed values, the docs' lists and the tests'
parametrisations read ``names()``. A code never changes once given (result directories and
generated kernels name ops by it); a new op takes the next free one.
"""
from __future__ import annotations


class Registry:
    """Name -> op (a class of static methods and attributes), each with a stable ``code``."""

    def __init__(self, what: str):
        self.what = what
        self._ops: dict[str, type] = {}

    def register(self, name: str, code: int):
        def add(op):
            if name in self._ops or code in (o.code for o in self._ops.values()):
                raise ValueError(f"{self.what} {name!r} / code {code} registered twice")
            op.name, op.code = name, code
            self._ops[name] = op
            return op
        return add

    def names(self) -> tuple[str, ...]:
        return tuple(self._ops)

    def ops(self) -> tuple[type, ...]:
        return tuple(self._ops.values())

    def __getitem__(self, name: str):
        try:
            return self._ops[name]
        except KeyError:
            raise ValueError(f"unknown {self.what} {name!r}; choose one of: {', '.join(self._ops)}") from None

    def code(self, name: str) -> int:
        return self[name].code

    def by_code(self, code: int):
        for op in self._ops.values():
            if op.code == code:
                return op
        raise KeyError(code)

    def codes(self) -> dict[str, int]:
        return {n: op.code for n, op in self._ops.items()}

    def __contains__(self, name) -> bool:
        return name in self._ops

    def __iter__(self):
        return iter(self._ops)
