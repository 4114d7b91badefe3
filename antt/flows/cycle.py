"""`run_cycle`: one reporting cycle as a Prefect flow, one task per stage."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from antt import pipeline
from antt.pipeline import RunContext


@task(name="read", cache_policy=NO_CACHE)
def read(source: str, ctx: RunContext):
    with ctx.stage("read"):
        return pipeline.read_source(source, ctx)


@task(name="normalize", cache_policy=NO_CACHE)
def normalize(raw, ctx: RunContext):
    with ctx.stage("normalize"):
        return pipeline.normalize_stage(raw, ctx)


@task(name="validate", cache_policy=NO_CACHE)
def validate(subs, header, raw, ctx: RunContext):
    with ctx.stage("validate"):
        return pipeline.validate_stage(subs, header, raw, ctx)


@task(name="score-and-rank", cache_policy=NO_CACHE)
def score(subs, issues, ctx: RunContext):
    with ctx.stage("score_rank"):
        return pipeline.score_stage(subs, issues, ctx)


@task(name="write-outputs", cache_policy=NO_CACHE)
def write(results, raw, archived, ctx: RunContext):
    return pipeline.write_stage(results, raw, archived, ctx)


@flow(name="run-cycle", flow_run_name="{cycle}", validate_parameters=True)
def run_cycle(cycle: str, source: str, schools: str | None = None, config: str | None = None,
              out: str = "out") -> dict:
    """Read the responses, validate, score, rank and write `<out>/<cycle>/`. Returns the folder and stage timings."""
    ctx = pipeline.open_run(cycle, schools, config, out)
    raw, archived = read(source, ctx)
    subs, header = normalize(raw, ctx)
    issues = validate(subs, header, raw, ctx)
    results = score(subs, issues, ctx)
    folder = write(results, raw, archived, ctx)
    return {"folder": str(folder), "timings": ctx.timings, "input_sha256": archived.sha256}
