"""`python -m audit` (console script `audit`): explain and check the system from its topics.

Reads only: every command assigns partitions at explicit offsets and never joins a
consumer group. Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from audit.options import FORMAT_OPTION, TIME
from audit.output import emit
from audit.reader import TopicUnavailable, WindowReader
from audit.settings import AuditSettings
from audit.trail import TrailBuilder, from_ms, ms
from audit.window import SETTLE, SKEW, Window, in_window, read_trails, replay_row, totals
from schemas.base import utc_now


@contextmanager
def progress_bar(label: str) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(on_total, advance) for WindowReader.read: a bar on stderr, finished on exit."""
    state: dict[str, Any] = {"bar": None}

    def on_total(total: int) -> None:
        state["bar"] = click.progressbar(
            length=max(total, 1), label=label, file=sys.stderr, show_pos=True
        ).__enter__()

    def advance(n: int) -> None:
        if state["bar"] is not None:
            state["bar"].update(n)

    try:
        yield on_total, advance
    finally:
        bar = state["bar"]
        if bar is not None:
            bar.update(max(bar.length - bar.pos, 0))
            bar.__exit__(None, None, None)


class Context:
    def __init__(self) -> None:
        self.settings = AuditSettings()
        self.topics = self.settings.infra.topics
        infra = self.settings.infra
        self.reader = WindowReader(
            bootstrap_servers=infra.kafka_bootstrap_servers, security=infra.kafka_security
        )

    def trails(self, window: Window, settle: timedelta = SETTLE) -> TrailBuilder:
        with progress_bar("reading topics") as (on_total, advance):
            try:
                return read_trails(
                    self.reader,
                    self.topics,
                    window,
                    settle=settle,
                    on_total=on_total,
                    progress=advance,
                )
            except TopicUnavailable as err:
                raise click.ClickException(f"cannot read the topics: {err}") from err


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Explain and check what the orchestrator did, from the Kafka topics alone.

    Settings from the environment: KAFKA_BOOTSTRAP_SERVERS, TOPIC_NAMESPACE, REDIS_URL,
    CATALOGUE_PATH. TIME is ISO 8601 (UTC when no offset), Unix time, or an age like 15m.
    """


@cli.command()
@click.argument("analysis_id")
@click.option("--since", type=TIME, help="Where to look for an id without a time in it.")
@FORMAT_OPTION
@pass_context
def show(ctx: Context, analysis_id: str, since: datetime | None, fmt: str) -> None:
    """The whole trail of one analysis: query, classification, route, every attempt, the
    answer, the confidence breakdown, the feedback."""
    from audit.show import render, trail_document
    from strategist.analysis.ids import created_ms

    created = created_ms(analysis_id)
    if created is None and since is None:
        raise click.UsageError(f"{analysis_id} carries no time; give --since")
    start = from_ms(created) if created is not None else since
    assert start is not None
    builder = ctx.trails(Window(start - SKEW, utc_now()), settle=timedelta(0))
    trail = builder.trails.get(analysis_id)
    if trail is None:
        raise click.ClickException(f"no event of analysis {analysis_id} on the topics")
    document = trail_document(trail)
    if fmt == "table":
        render(document, sys.stdout)
    else:
        emit("json", [document], key="analyses")


@cli.command()
@click.option("--since", type=TIME, required=True, help="Start of the window.")
@click.option("--until", type=TIME, help="End of the window (default: now).")
@click.option("--campaign", help="Only this campaign's analyses.")
@FORMAT_OPTION
@pass_context
def replay(
    ctx: Context, since: datetime, until: datetime | None, campaign: str | None, fmt: str
) -> None:
    """Every analysis that started in the window, one row each, with totals."""
    window = Window(since, until or utc_now())
    rows = [replay_row(t) for t in in_window(ctx.trails(window), window, campaign)]
    emit(fmt, rows, totals(rows), key="analyses")  # type: ignore[arg-type]


@cli.command()
@click.option("--since", type=TIME, required=True, help="Start of the window.")
@click.option("--until", type=TIME, help="End of the window (default: now).")
@click.option(
    "--grace",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds a query may go unanswered before it counts as missing its response.",
)
@FORMAT_OPTION
@pass_context
def verify(ctx: Context, since: datetime, until: datetime | None, grace: float, fmt: str) -> None:
    """Gaps: queries with no response, responses with no query, attempts billed but not
    used, dead letters. Exit code 1 when any is found."""
    from audit.verify import find_gaps

    window = Window(since, until or utc_now())
    builder = ctx.trails(window)
    findings = find_gaps(builder, window, now=utc_now(), grace=timedelta(seconds=grace))
    rows = [f.row() for f in findings]
    counts: dict[str, Any] = {"analyses checked": len(in_window(builder, window))}
    for row in rows:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    emit(fmt, rows, counts, key="findings")  # type: ignore[arg-type]
    sys.exit(1 if findings else 0)


@cli.command()
@click.option("--since", type=TIME, required=True, help="Start of the window.")
@click.option("--until", type=TIME, help="End of the window (default: now).")
@click.option(
    "--router",
    "router_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A learned router artifact (services/classifier) to re-decide the queries with.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON policy over the recorded tier probabilities (see audit/whatif.py).",
)
@FORMAT_OPTION
@pass_context
def whatif(
    ctx: Context,
    since: datetime,
    until: datetime | None,
    router_path: Path | None,
    policy_path: Path | None,
    fmt: str,
) -> None:
    """Re-decide the recorded queries with another router or policy: routes changed,
    estimated cost and expected accuracy (estimates, and labelled so)."""
    from audit.whatif import Policy, policy_decider, router_decider, what_if
    from providers.catalogue import Catalogue

    if (router_path is None) == (policy_path is None):
        raise click.UsageError("give exactly one of --router or --policy")
    try:
        policy = Policy.load(policy_path) if policy_path else Policy()
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--policy") from err
    if router_path is not None:
        try:
            decide, version = router_decider(router_path, policy.tier_models)
        except ImportError as err:
            raise click.ClickException(f"no learned router in this tree: {err}") from err
        except Exception as err:  # the router's own ArtifactError / EmbedderError
            raise click.ClickException(f"cannot load {router_path}: {err}") from err
        label = f"router {router_path} ({version})"
    else:
        decide, label = policy_decider(policy), f"policy {policy.name} ({policy_path})"
    window = Window(since, until or utc_now())
    trails = in_window(ctx.trails(window), window)
    catalogue = Catalogue.load(ctx.settings.catalogue_path)
    result = what_if(trails, decide, policy, catalogue)
    emit(fmt, result.rows, {"decided by": label, **result.summary}, key="analyses")  # type: ignore[arg-type]


@cli.command()
@click.option("--rebuild", is_flag=True, help="Replace the scorer's Redis counts with these.")
@FORMAT_OPTION
@pass_context
def accuracy(ctx: Context, rebuild: bool, fmt: str) -> None:
    """Graded outcomes per provider, model and analysis type, read from the whole feedback
    topic, with the Beta posterior the scorer's historical accuracy uses."""
    from audit.accuracy import accuracy_rows, rebuild_counts
    from schemas.feedback import FeedbackGiven
    from services.common.redis_client import sync_redis
    from services.common.redis_keys import RedisKeys

    with progress_bar("reading feedback") as (on_total, advance):
        try:
            records = ctx.reader.read(
                [ctx.topics.feedback], 0, ms(utc_now() + SKEW), on_total=on_total, progress=advance
            )
        except TopicUnavailable as err:
            raise click.ClickException(f"cannot read the feedback topic: {err}") from err
    events = [FeedbackGiven.from_bytes(r.value) for r in records if r.value is not None]
    summary: dict[str, Any] = {"feedback events": len(events)}
    if rebuild:
        infra = ctx.settings.infra
        client = sync_redis(infra.redis_url, concurrency=1, socket_timeout_s=5.0)
        summary["counted into redis"] = rebuild_counts(
            client, RedisKeys(infra.topic_namespace), events
        )
    emit(fmt, accuracy_rows(events), summary, key="accuracy")  # type: ignore[arg-type]


@cli.command()
@click.option(
    "--min-graded",
    type=click.IntRange(min=1),
    help="Fewest graded answers to fit from (default: CALIBRATION_MIN_GRADED, 50).",
)
@click.option("--dry-run", is_flag=True, help="Print the fit; publish nothing.")
@FORMAT_OPTION
@pass_context
def calibrate(ctx: Context, min_graded: int | None, dry_run: bool, fmt: str) -> None:
    """Fit the confidence calibration from graded answers (responses joined with feedback)
    and publish it on the calibrations topic, where every scorer picks it up at once.

    Isotonic or Platt, whichever has the lower cross-validated log loss; the identity
    (and why) below the minimum number of graded answers."""
    from audit.calibrate import (
        CalibrationNotPublished,
        calibration_report,
        publish_calibration,
        read_graded,
    )
    from core.calibration import fit_calibration

    with progress_bar("reading responses and feedback") as (on_total, advance):
        try:
            graded = read_graded(
                ctx.reader, ctx.topics, ms(utc_now() + SKEW), on_total=on_total, progress=advance
            )
        except TopicUnavailable as err:
            raise click.ClickException(f"cannot read the topics: {err}") from err
    minimum = min_graded or ctx.settings.calibration_min_graded
    calibration = fit_calibration(graded, min_graded=minimum)
    rows, summary = calibration_report(calibration)
    if dry_run:
        summary["published"] = "no (dry run)"
    else:
        try:
            summary["published"] = publish_calibration(ctx.settings.infra, calibration)
        except CalibrationNotPublished as err:
            raise click.ClickException(f"calibration not published: {err}") from err
    emit(fmt, rows, summary, key="points")  # type: ignore[arg-type]


@cli.command()
def rebuild() -> None:
    """Drop and rebuild the decision-record tables (PostgreSQL, DATABASE_URL) from the
    topics; prints the row count of every table."""
    from pydantic import ValidationError

    try:
        from services.recorder.rebuild import RebuildError
        from services.recorder.rebuild import rebuild as rebuild_tables
        from services.recorder.settings import RecorderSettings
    except ImportError as err:
        raise click.ClickException(
            f"rebuild is not available: services.recorder.rebuild cannot be imported ({err})"
        ) from err
    try:
        settings = RecorderSettings()  # type: ignore[call-arg]  # from the environment
    except ValidationError as err:
        missing = ", ".join(str(e["loc"][0]) for e in err.errors())
        raise click.ClickException(
            f"recorder settings incomplete ({missing}): set DATABASE_URL "
            "(scripts/postgres.sh url prints the local one)"
        ) from err
    bars: dict[str, Any] = {}

    def progress(topic: str, done: int, total: int) -> None:
        bar = bars.get(topic)
        if bar is None:
            for other in bars.values():
                other.__exit__(None, None, None)
            bar = bars[topic] = click.progressbar(
                length=max(total, 1), label=topic, file=sys.stderr, show_pos=True
            ).__enter__()
        bar.update(done - bar.pos)

    try:
        counts = rebuild_tables(settings, progress=progress)
    except RebuildError as err:
        raise click.ClickException(f"rebuild stopped, tables left as they were: {err}") from err
    finally:
        for bar in bars.values():
            bar.__exit__(None, None, None)
    emit("table", [{"table": name, "rows": n} for name, n in counts.items()])


@cli.command("backfill-baseline")
@click.option("--campaign", help="Only this campaign's records.")
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
@FORMAT_OPTION
@pass_context
def backfill_baseline(ctx: Context, campaign: str | None, dry_run: bool, fmt: str) -> None:
    """Recompute the all-Gemini-2.5-Pro estimate (`baseline_cost_usd`) of the decision
    records (PostgreSQL, DATABASE_URL) with today's method; says how many it changed.
    Idempotent: a second run changes nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from audit.baseline_backfill import backfill_baselines
    from providers.catalogue import Catalogue
    from services.common.database import make_engine, sqlalchemy_url

    url = ctx.settings.infra.database_url
    if url is None:
        raise click.ClickException(
            "DATABASE_URL is not set (scripts/postgres.sh url prints the local one)")
    engine = make_engine(sqlalchemy_url(url.get_secret_value()), pool_size=1)
    try:
        report = backfill_baselines(
            engine, Catalogue.load(ctx.settings.catalogue_path), campaign=campaign,
            dry_run=dry_run)
    except SQLAlchemyError as err:
        raise click.ClickException(f"the decision records cannot be read: {err}") from err
    finally:
        engine.dispose()
    summary = {"campaign": campaign or "every campaign", "dry run": dry_run, **report.summary()}
    emit(fmt, [], summary, key="changed")  # type: ignore[arg-type]


def main() -> None:
    cli(prog_name="audit")


if __name__ == "__main__":
    main()
