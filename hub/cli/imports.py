"""`hub import`: import a connection's orders now, with live progress and a summary."""

from __future__ import annotations

import click

from core.storage.orders import PageCounts
from core.usecases.imports import run_import
from hub.cli.base import ID, Runtime, end_status_line, status_line, with_runtime


@click.command("import")
@click.option("--connection", "connection_id", type=ID, required=True, help="Connection id.")
@with_runtime
async def import_orders(rt: Runtime, connection_id: int) -> None:
    """Import the connection's new and changed orders."""

    def progress(totals: PageCounts, pages: int) -> None:
        status_line(
            f"page {pages}: {totals.new} new, {totals.updated} updated, {totals.unchanged} unchanged, "
            f"{sum(totals.skipped.values())} skipped"
        )

    try:
        run = await run_import(rt, connection_id, progress=progress)
    finally:
        end_status_line()
    click.echo(
        f"Import {run.id} {run.state}: {run.new} new, {run.updated} updated, {run.unchanged} unchanged, "
        f"{run.skipped_total} skipped ({run.pages} pages)."
    )
    for reason, count in sorted(run.skipped.items(), key=lambda item: -item[1]):
        click.echo(f"  skipped {count:>5}  {reason}")
