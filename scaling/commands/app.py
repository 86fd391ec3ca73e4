"""`scaling app`: start the live planner in the browser (needs the ``app`` extra). Dash is imported inside."""

from __future__ import annotations

from pathlib import Path

import click

from scaling.errors import ScalingError

LOOPBACK = "127.0.0.1"


@click.command("app")
@click.option(
    "--host",
    default=LOOPBACK,
    show_default=True,
    help="Address to listen on; the default is reachable from this machine only.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a web browser.")
@click.option(
    "--runs-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A sweep folder (with runs.csv) the runs view offers to fit.",
)
def app(host, port, no_browser, runs_dir):
    """A local web app: move a budget and watch the optimal model, its architecture, memory and cost follow.

    \b
    Plan view: every budget form of 'scaling plan', the optimal-zone chart, memory, layouts, comparisons;
      the page's link carries the plan with the CLI's flag names (/?gpus=256xH100&days=30&mfu=0.4).
    Memory view: 'scaling memory' for a preset or an uploaded config.json, with the layout search.
    Runs view: fit Approaches 2 and 3 to an uploaded runs table (or --runs-dir) and use the law in the plan.
    """
    import importlib.util

    if importlib.util.find_spec("dash") is None:
        raise ScalingError("scaling app needs Dash: pip install 'scaling[app]'")
    from scaling.app import create_app, free_port, serve

    application = create_app(runs_dir)
    port = port or free_port(host)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    click.echo(f"scaling app: {url}  (Ctrl+C to stop)")
    if host != LOOPBACK and host != "localhost":
        click.echo(f"warning: listening on {host}: other machines on the network can open the app", err=True)
    if not no_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    serve(application, host, port)


COMMANDS = [app]
