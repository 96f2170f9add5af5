"""The sequential stopping rule of a grid: ``seeds = {until = "resolved", ...}`` + ``[sweep.resolve]``.

Syntax (only in [sweep], not in a [[sweep.grids]] table)::

    [sweep]
    seeds = { until = "resolved", min = 200, max = 100000, step = 200 }
    [sweep.resolve]
    metric = "epoch_acc100"   # a milestone column (or its name, "acc100"), or "converged"
    at = 169                  # share rule: P(metric <= at); not with "converged" (its share is by train.epochs)
    halfwidth = 0.01          # share rule: stop when the 95% interval's half-width is <= this
    # median_halfwidth = 10   # median rule (instead of halfwidth): KM median interval, in epochs
    # conf = 0.95             # nominal level of the interval

Each cell (one combination of the swept axes) trains seeds ``0..min-1``, then blocks of
``step`` seeds in order, and is evaluated only at the boundaries ``n = min, min+step, ...,
max``; it stops at the first boundary where the rule holds, or at ``max``. The statistic and
its stopping criterion are in :mod:`results.sequential_stats`; the round loop is
:mod:`sweep.run.sequential`. The rule's settings never enter a run's ``run_id``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sweep.grid.locate import _Context, _short, _suggest
from sweep.grid.schema import MILESTONE_COLUMNS

SEED_KEYS = ("until", "min", "max", "step")
RESOLVE_KEYS = ("metric", "at", "halfwidth", "median_halfwidth", "conf")
METRICS = ("converged", *MILESTONE_COLUMNS.values())
DEFAULT_STEP = 200


@dataclass(frozen=True)
class StopRule:
    """A validated rule. ``kind`` is ``"share"`` (P(metric <= at), or the converged share when
    ``at`` is None) or ``"median"`` (Kaplan-Meier median of ``metric``); ``target`` is the
    half-width to reach (a probability, or epochs for the median)."""

    min: int
    max: int
    step: int
    metric: str
    kind: str
    target: float
    at: int | None = None
    conf: float = 0.95

    def boundaries(self):
        from results.sequential_stats import boundaries
        return boundaries(self.min, self.max, self.step)

    def describe(self) -> str:
        what = (f"median of {self.metric} to +/- {self.target:g} epochs" if self.kind == "median"
                else f"P({self.metric} <= {self.at}) to +/- {self.target:g}" if self.at is not None
                else f"share {self.metric} to +/- {self.target:g}")
        return (f"sequential seeds: each cell until its {100 * self.conf:g}% interval of {what}; "
                f"seeds 0..{self.min - 1}, then blocks of {self.step}, at most {self.max}")

    def canonical(self) -> dict:
        return asdict(self)


def is_sequential(seeds: Any) -> bool:
    return isinstance(seeds, dict) and "until" in seeds


def parse_seed_rule(v: dict, ctx: _Context, table: str) -> tuple[int, int, int]:
    """``{until = "resolved", min, max, step}`` -> ``(min, max, step)``."""
    for k in v:
        if k not in SEED_KEYS:
            raise ctx.error(f"seeds has an unknown key '{k}'{_suggest(k, list(SEED_KEYS))}; "
                            f"a sequential seeds table takes: {', '.join(SEED_KEYS)}", table, "seeds")
    if v["until"] != "resolved":
        raise ctx.error(f"seeds.until = {_short(v['until'])} is not allowed; the only choice is \"resolved\"",
                        table, "seeds")
    if "max" not in v:
        raise ctx.error("seeds = {until = \"resolved\", ...} needs max (the most seeds a cell may use), "
                        "e.g. max = 100000", table, "seeds")
    step = v.get("step", DEFAULT_STEP)
    for k, x in (("max", v["max"]), ("step", step), ("min", v.get("min", step))):
        if type(x) is not int or x < 1:
            raise ctx.error(f"seeds.{k} = {_short(x)} must be an integer >= 1", table, "seeds")
    lo, hi = v.get("min", step), v["max"]
    if lo > hi or hi > 2**63:
        given = f"seeds.min = {lo}" if "min" in v else (
            f"seeds.min is not set, so it is step = {lo}" + ("" if "step" in v else " (the default step)"))
        raise ctx.error(f"{given} and seeds.max = {hi}: need 1 <= min <= max <= 2**63", table, "seeds")
    return lo, hi, step


def parse_resolve(table_value: Any, seeds: tuple[int, int, int], ctx: _Context) -> StopRule:
    """Check ``[sweep.resolve]`` against its keys and build the :class:`StopRule`."""
    where = "sweep.resolve"
    if not isinstance(table_value, dict):
        raise ctx.error("seeds = {until = \"resolved\"} needs a [sweep.resolve] table saying what to resolve "
                        "(metric, at, halfwidth or median_halfwidth)", "sweep", "seeds")
    r = table_value
    for k, x in r.items():
        if k not in RESOLVE_KEYS:
            raise ctx.error(f"unknown key 'sweep.resolve.{k}' = {_short(x)}{_suggest(k, list(RESOLVE_KEYS))}; "
                            f"valid keys in [sweep.resolve]: {', '.join(RESOLVE_KEYS)}", where, k)
    metric = r.get("metric")
    metric = MILESTONE_COLUMNS.get(metric, metric)
    if metric not in METRICS:
        raise ctx.error(f"sweep.resolve.metric = {_short(r.get('metric'))} is not allowed; choose one of: "
                        f"{', '.join(METRICS)} (or a milestone name such as \"acc100\")", where, "metric")
    has_h, has_m = "halfwidth" in r, "median_halfwidth" in r
    if has_h == has_m:
        raise ctx.error("[sweep.resolve] needs exactly one of halfwidth (a share's interval, e.g. 0.01) "
                        "or median_halfwidth (the median's interval, in epochs)", where,
                        "median_halfwidth" if has_m else "metric")
    key = "halfwidth" if has_h else "median_halfwidth"
    target = r[key]
    if type(target) not in (int, float) or not (0 < target <= (0.5 if has_h else 1e9)):
        allowed = "a number in (0, 0.5]" if has_h else "a number of epochs > 0"
        raise ctx.error(f"sweep.resolve.{key} = {_short(target)} must be {allowed}", where, key)
    conf = r.get("conf", 0.95)
    if type(conf) is not float or not 0.5 <= conf < 1:
        raise ctx.error(f"sweep.resolve.conf = {_short(conf)} must be a number in [0.5, 1), e.g. 0.95", where, "conf")
    at = r.get("at")
    if has_m:
        if metric == "converged":
            raise ctx.error("sweep.resolve.median_halfwidth needs a milestone metric (e.g. \"epoch_acc100\"), "
                            "not \"converged\"", where, "metric")
        if at is not None:
            raise ctx.error(f"sweep.resolve.at = {_short(at)} applies only to halfwidth (P(metric <= at)); "
                            "the median rule takes no 'at'", where, "at")
        kind = "median"
    else:
        if metric == "converged" and at is not None:
            raise ctx.error(f"sweep.resolve.at = {_short(at)}: the converged share is by train.epochs; "
                            "for P(milestone <= at) name the milestone, e.g. metric = \"epoch_acc100\"", where, "at")
        if metric != "converged" and (type(at) is not int or at < 0):
            raise ctx.error(f"sweep.resolve.at = {_short(at)}: a share rule on {metric} needs at = an epoch "
                            "(integer >= 0): it resolves P(metric <= at)", where, "at")
        kind = "share"
    lo, hi, step = seeds
    return StopRule(min=lo, max=hi, step=step, metric=metric, kind=kind, target=float(target), at=at, conf=conf)


def check_rule_against_runs(rule: StopRule, values: dict[str, set], ctx: _Context) -> None:
    """The rule must be observable in every run: ``at`` within ``train.epochs``; with early stop
    the metric must be the main criterion's (other milestones stop being watched).

    values: key -> the set of values it takes over the grid (``train.epochs``,
    ``train.early_stop``, ``criteria.main``).
    """
    if rule.at is not None and min(values["train.epochs"]) < rule.at:
        raise ctx.error(f"sweep.resolve.at = {rule.at} is beyond train.epochs = {min(values['train.epochs'])}: "
                        f"P({rule.metric} <= {rule.at}) is not observed; set train.epochs >= {rule.at}",
                        "sweep.resolve", "at")
    if rule.metric != "converged" and True in values["train.early_stop"]:
        mains = {MILESTONE_COLUMNS[m] for m in values["criteria.main"]}
        if mains != {rule.metric}:
            raise ctx.error(f"sweep.resolve.metric = {rule.metric!r} with train.early_stop = true: runs stop at "
                            f"criteria.main ({', '.join(sorted(values['criteria.main']))}), so {rule.metric} would "
                            "be censored; resolve the main criterion's milestone or turn early_stop off",
                            "sweep.resolve", "metric")
