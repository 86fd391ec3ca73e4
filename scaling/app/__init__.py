"""`scaling app`: the live planner in the browser (the ``app`` extra: ``pip install 'scaling[app]'``).

* ``views.py``: what each view computes, without Dash (fields in, library results out), and the URL's
  query string with the CLI's flag names;
* ``page.py``: the page's components (three views: plan, memory, runs and fits);
* ``callbacks.py``: the callbacks, plain functions of their inputs that the tests call directly.

The app serves every script and stylesheet itself (Dash's ``serve_locally``, no CDN), listens on the
loopback address unless told otherwise, accepts uploads as data only (at most `MAX_UPLOAD_BYTES`), and never
reads a server path the browser names: laws and models are catalog presets or uploaded files.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from scaling.app.views import MAX_UPLOAD_BYTES, Shelf

__all__ = ["MAX_UPLOAD_BYTES", "create_app", "free_port", "serve"]


def create_app(runs_dir: str | Path | None = None, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> Any:
    """The Dash app. ``runs_dir``: a sweep folder whose ``runs.csv`` the runs view offers to fit."""
    import dash

    from scaling.app import callbacks, page
    from scaling.catalog import accelerators
    from scaling.errors import ScalingError
    from scaling.laws import list_laws
    from scaling.model import presets

    folder = None
    if runs_dir is not None:
        folder = Path(runs_dir).expanduser().resolve()
        if not (folder / "runs.csv").is_file():
            raise ScalingError(
                f"invalid --runs-dir {str(runs_dir)!r}: expected a sweep folder holding runs.csv"
            )
    app = dash.Dash(
        __name__, title="scaling", serve_locally=True, update_title=None, suppress_callback_exceptions=False
    )
    app.index_string = page.index_string(app.index_string)
    app.server.config["MAX_CONTENT_LENGTH"] = int(max_upload_bytes * 1.4) + 65536  # base64 and the request
    shelf, configs = Shelf(), {}
    app.layout = page.layout(
        [law.name for law in list_laws()],
        [p.name for p in presets()],
        [a.name for a in accelerators()],
        str(folder) if folder else None,
    )
    callbacks.register(app, shelf, configs, folder)
    return app


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the operating system's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def serve(app: Any, host: str, port: int) -> None:
    """Serve until interrupted, with waitress (a WSGI server meant for this, in the ``app`` extra); Flask's
    own development server, which warns in red that it is one, only where waitress is not installed."""
    try:
        from waitress import serve as waitress_serve
    except ImportError:
        app.run(host=host, port=port, debug=False)
        return
    waitress_serve(app.server, host=host, port=port, threads=8, _quiet=True)
