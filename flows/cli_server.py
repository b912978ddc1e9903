"""The commands that serve: ``labelaudit reports serve``, ``labelaudit serve`` (deployments) and the
``labelaudit server`` group (a long-lived local Prefect server)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from labelaudit.flows.cli_common import ReportsOption, app, fail, reports_app, say_slow, settings_for


@reports_app.command("serve")
def reports_serve(
    host: Annotated[str, typer.Option(help="Loopback address to listen on (others are refused)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8765,
    reports: ReportsOption = None,
) -> None:
    """Serve the local reports folder over HTTP, for the links in Prefect artifacts.

    Only loopback addresses are served (the reports hold the audited data): `--host 0.0.0.0` exits 2 with a
    one-line error. To share reports, publish them to a web server (`base_url` in labelaudit.toml).

    Example: labelaudit reports serve --port 8765
    """
    from labelaudit.errors import LabelAuditError
    from labelaudit.report import serve_reports

    settings = settings_for(reports_dir=reports)
    try:
        server = serve_reports(Path(settings.reports_dir), host=host, port=port)
    except (LabelAuditError, ValueError, OSError) as exc:  # a non-loopback host, no folder, a taken port
        fail(exc)
    typer.echo(f"serving {settings.reports_dir} at http://{host}:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()


@app.command()
def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="Project config listing the datasets")] = Path(
        "labelaudit.toml"
    ),
    limit: Annotated[int | None, typer.Option(help="Most flow runs executed at once (default: no limit)")] = None,
    poll_seconds: Annotated[float, typer.Option(help="How often to ask the server for runs to start")] = 2.0,
    reports_port: Annotated[
        int, typer.Option(help="Serve the local reports folder on 127.0.0.1 at this port for the UI's links; 0: don't")
    ] = 8765,
) -> None:
    """Register the config's deployments with the Prefect server and run what is triggered, until Ctrl-C.

    Start `labelaudit server start` first (or your own Prefect server, with PREFECT_API_URL); without either, a
    temporary server is started that stops with this command. Then open http://127.0.0.1:4200, pick a
    `<dataset>-audit` deployment and press Run.

    Example: labelaudit serve --config labelaudit.toml --limit 2
    """
    from labelaudit.project_config import load_project_config

    project = load_project_config(config)
    from labelaudit.flows.prefect_api import PrefectApi, PrefectServerError

    with PrefectApi(on_slow=say_slow) as api:
        if api.kind == "temporary":
            typer.secho(
                "warning: no Prefect server is configured: the deployments go to a temporary server that stops "
                "with this command. Run `labelaudit server start` (or set PREFECT_API_URL) to keep them.",
                fg=typer.colors.YELLOW,
                err=True,
            )
        _publish_reports_for_links(project, reports_port)
        from labelaudit.flows.deployments import serve_project

        try:
            api.ready()
        except PrefectServerError as exc:
            fail(exc)
        serve_project(config, limit=limit, poll_seconds=poll_seconds)


server_app = typer.Typer(
    help="A long-lived local Prefect server (API and UI) that audits use instead of a temporary one.",
    no_args_is_help=True,
)
app.add_typer(server_app, name="server")


@server_app.command("start")
def server_start(port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 4200) -> None:
    """Start Prefect's server in the background; later commands without PREFECT_API_URL use it.

    Its UI lists every audit run from the command line; it runs until `labelaudit server stop`.

    Example: labelaudit server start --port 4200
    """
    from labelaudit.flows.local_server import start_local_server
    from labelaudit.flows.prefect_api import PrefectServerError

    try:
        api_url = start_local_server(port)
    except PrefectServerError as exc:
        fail(exc)
    typer.echo(f"Prefect server running: UI {api_url.removesuffix('/api')}, API {api_url}")
    typer.echo("audits without PREFECT_API_URL now use it; stop it with: labelaudit server stop")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the server started by `labelaudit server start`.

    Example: labelaudit server stop
    """
    from labelaudit.flows.local_server import stop_local_server

    typer.echo("stopped the Prefect server" if stop_local_server() else "no labelaudit Prefect server was running")


@server_app.command("status")
def server_status() -> None:
    """Say which Prefect API the next audit would use. Exit status 0 if a server answers, 1 if not.

    Example: labelaudit server status
    """
    from labelaudit.flows.prefect_api import is_healthy, running_local_server

    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        state = "answers" if is_healthy(configured) else "does not answer"
        typer.echo(f"PREFECT_API_URL={configured} ({state})")
        raise typer.Exit(0 if state == "answers" else 1)
    local = running_local_server()
    if local:
        typer.echo(f"labelaudit server running at {local}")
        return
    typer.echo("no server: each audit starts a temporary Prefect API server and stops it when it ends")
    raise typer.Exit(1)


def _publish_reports_for_links(project: Any, port: int) -> None:
    """Give the report links in artifacts an http:// address: the config's base URL, or a local report server."""
    if project.project.report_base_url:
        os.environ["LABELAUDIT_REPORT_BASE_URL"] = project.project.report_base_url
        return
    reports = project.locations()["reports"] or settings_for().reports_dir
    if os.environ.get("LABELAUDIT_REPORT_BASE_URL") or port == 0 or "://" in str(reports):
        return
    from labelaudit.report import report_server_url, serve_reports

    Path(reports).mkdir(parents=True, exist_ok=True)
    try:
        server = serve_reports(Path(reports), host="127.0.0.1", port=port)
    except OSError as exc:  # e.g. the port is taken by `labelaudit reports serve`
        typer.secho(f"warning: not serving reports on port {port} ({exc}); links will be file:// URLs "
                    "unless LABELAUDIT_REPORT_BASE_URL is set", fg=typer.colors.YELLOW, err=True)  # fmt: skip
        return
    threading.Thread(target=server.serve_forever, name="labelaudit-reports", daemon=True).start()
    os.environ["LABELAUDIT_REPORT_BASE_URL"] = report_server_url(server)
    typer.echo(f"serving reports {reports} at {os.environ['LABELAUDIT_REPORT_BASE_URL']}")
