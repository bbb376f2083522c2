"""report.html: one self-contained page (no network, no scripts) a reporter can publish from.

Every string that came from media, metadata, transcripts or subtitles is untrusted and goes
through ``esc``; links are only ever http(s) URLs from the data or file URLs built here; a
Content-Security-Policy forbids scripts, so even a mistake here cannot run one. Fields that
later issues add to findings.json (``scripts``, ``subtitle_mismatches``) are rendered when
present and simply left out when not.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from analyzer.report.findings import url_at
from analyzer.report.plots import PlotOptions, channel_of, network_svg, script_of_points, timeline_svg

# No scripts, no network, no forms, no base rewriting: only the page's own inline styles
# and SVG, and data: images.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:76rem;color:#1d1d1f;padding:0 1rem}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
a{color:#0b5cad}nav a{margin-right:1rem}
.meta{color:#555;font-size:.9rem}.note{background:#f6f6f8;padding:.6rem .9rem;border-radius:6px}
.tp{border:1px solid #ddd;border-radius:6px;padding:.8rem 1rem;margin:1.2rem 0;break-inside:avoid}
.tp h3{margin:.2rem 0 .4rem;font-size:1.15rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border-bottom:1px solid #eee;padding:.3rem .4rem;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}
th{background:#fafafa}td.num,th.num{text-align:right;white-space:nowrap}
.members td.quote{width:36%}.quote{max-width:34rem}.when{white-space:nowrap}
td.src,td.path{max-width:13rem;overflow-wrap:anywhere}td.src small{color:#666}
.rel-verbatim{color:#a00}.rel-translation{color:#06c}.rel-paraphrase{color:#870}
.parts{display:flex;flex-wrap:wrap;gap:.3rem 1.4rem;margin:.4rem 0 .6rem;font-size:.85rem}
.part{display:flex;align-items:center;gap:.4rem}
.bar{display:inline-block;width:5rem;height:.55rem;background:#e8e8ee;border-radius:3px;overflow:hidden}
.bar i{display:block;height:100%;background:#4c6a92}
mark{background:#ffe58a;padding:0 1px}
.failed td{color:#a00}.swatch{display:inline-block;width:.8rem;height:.8rem;margin:0 .25rem 0 .6rem;
vertical-align:middle;border-radius:2px}
figure.plot{margin:1rem 0}figure.plot svg{border:1px solid #e3e3e8;border-radius:6px;font:12px system-ui}
figure.plot svg text{fill:#1d1d1f}figure.plot svg .tick{fill:#666;font-size:11px}
figcaption{color:#555;font-size:.85rem;margin-top:.3rem}
.matrix td.hit{text-align:center;color:#0b5cad;font-weight:bold}.matrix th.tpcol{text-align:center}
@media print{nav{display:none}.tp{border-color:#999}a{color:inherit}}
"""
_PARTS = ("breadth", "tightness", "specificity", "timing", "accounts", "subtitles")
_PART_HELP = {
    "breadth": "distinct media and channels, re-uploads counted once",
    "tightness": "how close the members are to each other (verbatim is tightest)",
    "specificity": "content words; greetings and sign-offs score low",
    "timing": "uploads bunched within days",
    "accounts": "how likely the handles end in random characters (a character model of ordinary names)",
    "subtitles": "share of media whose subtitle file is copied from another's over different speech",
}
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class ReportOptions:
    """How much of a large corpus the page shows; findings.json and exports keep everything."""

    max_points: int = 300  # talking points with their evidence tables
    open_members: int = 24  # member rows shown before the rest fold into a <details>
    max_members: int = 200  # member rows per talking point at all (the page must stay shareable)
    plots: PlotOptions = field(default_factory=PlotOptions)


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: object, default: float = 0.0) -> float:
    """A number from findings (which may be hand-edited), never a string that reaches HTML."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def safe_href(href: object) -> str | None:
    """Only http(s) and file URLs survive: ``javascript:``, ``data:`` and the rest are dropped."""
    if not isinstance(href, str):
        return None
    if href.startswith(("http://", "https://", "file://")) and not any(c in href for c in "\r\n\t"):
        return href
    return None


def _link(href: object, text: str) -> str:
    target = safe_href(href)
    if target is None:
        return esc(text)
    return f'<a href="{esc(target)}" rel="noopener noreferrer">{esc(text)}</a>'


def _clock(seconds: object) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(_num(seconds), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def _local_href(root: Path | None, entry: Mapping[str, Any], start_s: object = None) -> str | None:
    """A file URL for a scanned media item, at a time (media fragment ``#t=``) when given."""
    path = entry.get("path")
    if root is None or not path:
        return None
    uri = (root / str(path)).absolute().as_uri()  # not resolve(): a symlink loop would raise
    return uri if start_s is None else f"{uri}#t={_num(start_s):.1f}"


def _url_at_s(entry: Mapping[str, Any], start_s: object) -> str | None:
    url = entry.get("url")
    return url_at(url, int(_num(start_s) * 1000)) if isinstance(url, str) else None


def _time_link(
    url_at: object, entry: Mapping[str, Any], root: Path | None, start_s: object, end_s: object
) -> str:
    when = f"{_clock(start_s)}–{_clock(end_s)}"
    href = safe_href(url_at) or _local_href(root, entry, start_s)
    return _link(href, when)


@lru_cache(maxsize=4096)
def highlight_changes(text: str, reference: str) -> str:
    """Escaped ``text`` with the words that differ from ``reference`` marked.

    Only for texts that mostly share words with the reference: a translation would be
    marked end to end, which tells the reader nothing.
    """
    tokens = _WORD.findall(text.lower())
    ref = _WORD.findall(reference.lower())
    matcher = difflib.SequenceMatcher(a=ref, b=tokens, autojunk=False)
    if not tokens or matcher.ratio() < 0.5:
        return esc(text)
    same = {j for block in matcher.get_matching_blocks() for j in range(block.b, block.b + block.size)}
    out: list[str] = []
    cursor = 0
    for k, match in enumerate(_WORD.finditer(text)):
        out.append(esc(text[cursor : match.start()]))
        word = esc(match.group(0))
        out.append(word if k in same else f"<mark>{word}</mark>")
        cursor = match.end()
    out.append(esc(text[cursor:]))
    return "".join(out)


def _source_cell(member: Mapping[str, Any]) -> str:
    """Where a quote was read: speech (ASR), a subtitle file or stream, or OCR of the picture."""
    source = str(member.get("source") or "")
    track = str(member.get("track") or "")
    if source == "asr":
        return "speech (ASR)"
    kind, _, name = track.partition(":")
    if source == "ocr":
        read_from = f"subtitle stream {esc(name)}" if kind == "stream" else "the picture"
        return f"OCR<br><small>{read_from}</small>"
    if source != "subtitle" or not track:
        return esc(source)
    if kind == "stream":
        return f"subtitle stream {esc(name)}"
    return f"subtitle file<br><small>{esc(name or track)}</small>"


def _date_path(entry: Mapping[str, Any]) -> tuple[str, str]:
    """Sort key: publish date (unknown last), then path, so evidence reads oldest first."""
    return (str(entry.get("published") or "9999"), str(entry.get("path") or ""))


def _member_key(member: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]]) -> tuple[str, str, float]:
    return (*_date_path(media.get(member["media_id"], {})), _num(member.get("start_s")))


def _member_row(
    member: Mapping[str, Any], label: str, media: Mapping[str, Mapping[str, Any]], root: Path | None
) -> str:
    entry = media.get(member["media_id"], {})
    relation = esc(member.get("relation"))
    text = str(member.get("text") or "")
    quote = highlight_changes(text, label) if member.get("relation") != "translation" else esc(text)
    duplicate = " (re-upload)" if entry.get("duplicate_of") else ""
    name = str(entry.get("path") or member["media_id"])
    when = _time_link(member.get("url_at"), entry, root, member.get("start_s"), member.get("end_s"))
    return (
        f"<tr><td class=quote>{quote}</td><td>{esc(member.get('language'))}</td>"
        f'<td class="rel-{relation}">{relation} {_num(member.get("similarity")):.2f}</td>'
        f"<td class=src>{_source_cell(member)}</td>"
        f"<td class=path>{_link(entry.get('url'), name)}{duplicate}</td>"
        f"<td>{esc(member.get('channel') or channel_of(entry))}</td>"
        f"<td class=when>{esc(member.get('published') or entry.get('published'))}</td>"
        f"<td class=when>{when}</td></tr>"
    )


def _score_parts(tp: Mapping[str, Any]) -> str:
    parts = tp.get("score_parts") or {}
    cells = []
    for name in _PARTS:
        if name not in parts:
            continue
        value = max(0.0, min(1.0, _num(parts[name])))
        cells.append(
            f'<span class=part title="{esc(_PART_HELP[name])}">{name} '
            f'<span class=bar><i style="width:{value * 100:.0f}%"></i></span> {value:.2f}</span>'
        )
    return f"<div class=parts>{''.join(cells)}</div>" if cells else ""


def _talking_point(
    tp: Mapping[str, Any],
    media: Mapping[str, Mapping[str, Any]],
    root: Path | None,
    script: str | None,
    options: ReportOptions,
) -> str:
    label = str(tp.get("label") or "")
    members = sorted(tp.get("members", []), key=lambda m: _member_key(m, media))
    rows = [_member_row(m, label, media, root) for m in members[: options.max_members]]
    open_members = options.open_members
    head = (
        "<tr><th>quote</th><th>lang</th><th>relation</th><th>source</th><th>media</th><th>channel</th>"
        "<th>published</th><th>time</th></tr>"
    )
    table = f"<table class=members>{head}{''.join(rows[:open_members])}</table>"
    if len(rows) > open_members:
        table += (
            f"<details><summary>{len(rows) - open_members} more members</summary>"
            f"<table class=members>{head}{''.join(rows[open_members:])}</table></details>"
        )
    if len(members) > len(rows):
        table += (
            f"<p class=meta>{len(members) - len(rows)} more members are in findings.json and in "
            "`chorus export`.</p>"
        )
    in_script = f" · part of <a href='#{esc(script)}'>{esc(script)}</a>" if script else ""
    return (
        f'<div class=tp id="{esc(tp.get("id"))}"><h3>#{esc(tp.get("rank"))} “{esc(label)}”</h3>'
        f"<div class=meta>score <b>{_num(tp.get('score')):.3f}</b> · {esc(tp.get('n_media'))} media · "
        f"{esc(tp.get('n_channels'))} channels · languages {esc(', '.join(tp.get('languages') or []))} · "
        f"first published {esc(tp.get('first_published') or 'unknown')} · {esc(tp.get('id'))}"
        f"{in_script}</div>"
        f"{_score_parts(tp)}{table}</div>"
    )


def _summary(points: Sequence[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td class=num>{esc(tp.get('rank'))}</td><td class=num>{_num(tp.get('score')):.3f}</td>"
        f'<td><a href="#{esc(tp.get("id"))}">{esc(tp.get("label"))}</a></td>'
        f"<td class=num>{esc(tp.get('n_media'))}</td><td class=num>{esc(tp.get('n_channels'))}</td>"
        f"<td>{esc(', '.join(tp.get('languages') or []))}</td><td>{esc(tp.get('first_published'))}</td></tr>"
        for tp in points
    )
    return (
        "<table><tr><th class=num>rank</th><th class=num>score</th><th>line</th><th class=num>media</th>"
        f"<th class=num>channels</th><th>languages</th><th>first published</th></tr>{rows}</table>"
    )


def _scripts(
    findings: Mapping[str, Any],
    points: Mapping[str, Mapping[str, Any]],
    media: Mapping[str, Mapping[str, Any]],
) -> str:
    """Each script: its lines, and a media x line grid of who recites which."""
    out = []
    for script in findings.get("scripts") or []:
        tp_ids = [str(t) for t in script.get("talking_points") or [] if str(t) in points]
        media_ids = [str(m) for m in script.get("media") or []]
        said = {(m["media_id"], tp_id) for tp_id in tp_ids for m in points[tp_id].get("members", [])}
        head = "".join(
            f'<th class=tpcol title="{esc(points[t].get("label"))}"><a href="#{esc(t)}">'
            f"#{esc(points[t].get('rank'))}</a></th>"
            for t in tp_ids
        )
        ordered = sorted(media_ids, key=lambda i: _date_path(media.get(i, {})))
        rows = "".join(
            f"<tr><td>{esc(channel_of(media.get(mid, {'id': mid})))}</td>"
            f"<td>{esc(media.get(mid, {}).get('path') or mid)}</td>"
            f"<td class=when>{esc(media.get(mid, {}).get('published'))}</td>"
            + "".join(f"<td class=hit>{'●' if (mid, t) in said else ''}</td>" for t in tp_ids)
            + "</tr>"
            for mid in ordered
        )
        lines = "".join(
            f'<li><a href="#{esc(t)}">#{esc(points[t].get("rank"))}</a> {esc(points[t].get("label"))}</li>'
            for t in tp_ids
        )
        out.append(
            f'<div class=tp id="{esc(script.get("id"))}"><h3>{esc(script.get("id"))}: '
            f"{len(tp_ids)} lines, {len(media_ids)} media</h3><ol>{lines}</ol>"
            f"<table class=matrix><tr><th>channel</th><th>media</th><th>published</th>{head}</tr>"
            f"{rows}</table></div>"
        )
    if not out:
        return ""
    return (
        "<h2 id=scripts>Scripts: lines that travel together</h2><p class=meta>A script is several talking "
        "points said by the same media. ● marks who says which line.</p>" + "".join(out)
    )


def _mismatches(findings: Mapping[str, Any], root: Path | None) -> str:
    rows = []
    for entry in findings.get("media", []):
        for mm in entry.get("subtitle_mismatches") or []:
            track = {"source": "subtitle", "track": mm.get("track")}
            start, end = mm.get("start_s"), mm.get("end_s")
            when = _time_link(_url_at_s(entry, start), entry, root, start, end)
            rows.append(
                f"<tr><td>{_link(entry.get('url'), str(entry.get('path')))}</td>"
                f"<td>{esc(channel_of(entry))}</td><td>{_source_cell(track)}</td>"
                f"<td class=when>{when}</td>"
                f"<td class=quote>{esc(mm.get('subtitle_text'))}</td>"
                f"<td class=quote>{esc(mm.get('speech_text'))}</td>"
                f"<td class=num>{_num(mm.get('similarity')):.2f}</td></tr>"
            )
    if not rows:
        return ""
    return (
        "<h2 id=subtitle-mismatches>Subtitles that say something else than the speech</h2>"
        "<table><tr><th>media</th><th>channel</th><th>track</th><th>time</th><th>subtitles say</th>"
        f"<th>speech says</th><th class=num>similarity</th></tr>{''.join(rows)}</table>"
    )


def _subtitle_copies(findings: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]]) -> str:
    """Subtitle tracks that are (nearly) the same text on recordings whose speech differs."""
    rows = []
    for copy in findings.get("subtitle_copies") or []:
        who = "<br>".join(
            f"{esc(channel_of(media.get(str(m.get('media_id')), {'id': m.get('media_id')})))}: "
            f"{esc(media.get(str(m.get('media_id')), {}).get('path') or m.get('media_id'))} "
            f"<small>({_source_cell({'source': 'subtitle', 'track': m.get('track')})})</small>"
            for m in copy.get("members") or []
        )
        rows.append(
            f"<tr><td class=quote>{esc(copy.get('sample_text'))}</td><td>{who}</td>"
            f"<td class=num>{esc(copy.get('n_cues'))}</td>"
            f"<td class=num>{_num(copy.get('similarity')):.2f}</td>"
            f"<td class=num>{_num(copy.get('speech_similarity')):.2f}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<h2 id=subtitle-copies>The same subtitles over different speech</h2><p class=meta>Subtitle "
        "tracks that match each other while the recordings' speech does not: one text handed out to "
        "several speakers.</p><table><tr><th>first shared line</th><th>tracks</th><th class=num>cues</th>"
        f"<th class=num>text similarity</th><th class=num>speech similarity</th></tr>{''.join(rows)}</table>"
    )


def _reupload_evidence(entry: Mapping[str, Any]) -> str:
    """What showed a re-upload: its audio fingerprint, its transcript, or identical bytes."""
    found = entry.get("duplicate_evidence")
    if not isinstance(found, Mapping):
        return ""
    said = []
    for by in found.get("by") or []:
        if by == "audio fingerprint" and found.get("bit_error_rate") is not None:
            said.append(
                f"audio fingerprint ({_num(found['bit_error_rate']) * 100:.1f} % bits differ over "
                f"{_num(found.get('overlap_s')):.0f} s, starting at "
                f"{_num(found.get('offset_s')):+.1f} s of the original)"
            )
        elif by == "transcript" and found.get("transcript_share") is not None:
            share = _num(found["transcript_share"]) * 100
            said.append(f"transcript ({share:.0f} % of sentences at the same times)")
        else:
            said.append(str(by))
    return esc("; ".join(said))


def _reuploads(findings: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]]) -> str:
    dups = [m for m in findings.get("media", []) if m.get("duplicate_of")]
    if not dups:
        return ""
    rows = []
    for m in dups:
        original = media.get(str(m["duplicate_of"]), {})
        rows.append(
            f"<tr><td>{_link(m.get('url'), str(m.get('path')))}</td><td>{esc(channel_of(m))}</td>"
            f"<td>{esc(m.get('published'))}</td>"
            f"<td>{_link(original.get('url'), str(original.get('path') or m['duplicate_of']))}</td>"
            f"<td>{esc(channel_of(original) if original else '')}</td>"
            f"<td>{esc(original.get('published'))}</td><td>{_reupload_evidence(m)}</td></tr>"
        )
    return (
        "<h2 id=reuploads>Re-uploads of the same recording</h2><p class=meta>Counted once in every "
        "score.</p><table><tr><th>media</th><th>channel</th><th>published</th><th>copy of</th>"
        f"<th>original channel</th><th>original published</th><th>evidence</th></tr>{''.join(rows)}</table>"
    )


def _failed(findings: Mapping[str, Any]) -> str:
    failed = [m for m in findings.get("media", []) if m.get("status") == "failed"]
    if not failed:
        return ""
    rows = "".join(
        f"<tr><td>{esc(m.get('path'))}</td><td>{esc(channel_of(m))}</td><td>{esc(m.get('error'))}</td></tr>"
        for m in failed
    )
    return (
        "<h2 id=failed>Media that could not be read</h2><table class=failed><tr><th>media</th>"
        f"<th>channel</th><th>reason</th></tr>{rows}</table>"
    )


def _media_table(
    findings: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]], root: Path | None
) -> str:
    rows = []
    for m in findings.get("media", []):
        status = "ok" if m.get("status") == "ok" else f"failed: {m.get('error')}"
        if m.get("duplicate_of"):
            original = media.get(str(m["duplicate_of"]), {})
            status += f" (re-upload of {original.get('path') or m['duplicate_of']})"
        css = " class=failed" if m.get("status") == "failed" else ""
        duration = "" if m.get("duration_s") is None else _clock(m.get("duration_s"))
        local = _local_href(root, m)
        file_link = f" ({_link(local, 'file')})" if local else ""
        rows.append(
            f"<tr{css}><td>{_link(m.get('url'), str(m.get('path')))}{file_link}</td>"
            f"<td>{esc(m.get('channel'))}</td><td>{esc(m.get('handle'))}</td>"
            f"<td class=when>{esc(m.get('published'))}</td><td class=num>{duration}</td>"
            f"<td>{esc(', '.join(m.get('languages') or []))}</td><td>{esc(status)}</td>"
            f"<td>{esc('; '.join(str(n) for n in m.get('notes') or []))}</td></tr>"
        )
    return (
        "<h2 id=media>All media</h2><table><tr><th>media</th><th>channel</th><th>handle</th>"
        "<th>published</th><th class=num>length</th><th>languages</th><th>status</th><th>notes</th></tr>"
        f"{''.join(rows)}</table>"
    )


def render(
    findings: Mapping[str, Any], scan_root: str | None = None, options: ReportOptions | None = None
) -> str:
    """The report as a string of HTML; ``scan_root`` makes local file links (``file://...#t=``)."""
    options = options or ReportOptions()
    plots = options.plots
    root = Path(scan_root) if scan_root else None
    media = {m["id"]: m for m in findings.get("media", [])}
    points = list(findings.get("talking_points", []))
    by_id = {str(tp.get("id")): tp for tp in points}
    owner = script_of_points(findings)
    failed = sum(1 for m in media.values() if m.get("status") == "failed")
    settings = findings.get("settings") or {}
    nav = [("summary", "Summary"), ("plots", "Plots")]
    if findings.get("scripts"):
        nav.append(("scripts", "Scripts"))
    nav.append(("talking-points", "Talking points"))
    if any(m.get("subtitle_mismatches") for m in media.values()):
        nav.append(("subtitle-mismatches", "Subtitle mismatches"))
    if findings.get("subtitle_copies"):
        nav.append(("subtitle-copies", "Copied subtitles"))
    if any(m.get("duplicate_of") for m in media.values()):
        nav.append(("reuploads", "Re-uploads"))
    if failed:
        nav.append(("failed", "Failed media"))
    nav.append(("media", "All media"))
    parts_help = "; ".join(f"<b>{k}</b>: {esc(v)}" for k, v in _PART_HELP.items())
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Chorus report</title><style>{_CSS}</style></head><body>",
        "<h1>Chorus: lines many voices repeat</h1>",
        f"<p class=meta>Generated {esc(findings.get('generated_at'))} · {len(media) - failed} media read, "
        f"{failed} failed · {len(points)} talking points · ASR {esc(settings.get('asr_model'))} · "
        f"embeddings {esc(settings.get('embed_model'))}</p>",
        "<nav>" + "".join(f'<a href="#{k}">{v}</a>' for k, v in nav) + "</nav>",
        "<p class=note>A <b>talking point</b> is one line that several media say. Members are "
        "<span class=rel-verbatim>verbatim</span> (nearly the same words), "
        "<span class=rel-paraphrase>paraphrase</span> (same meaning, other words) or "
        "<span class=rel-translation>translation</span> (same meaning, another language). "
        f"The score (0–1) ranks evidence of a shared script; its parts: {parts_help}. "
        "In quotes, <mark>marked</mark> words differ from the talking point's label. "
        "Each time links to the source at that second, or to the local file.</p>",
        "<h2 id=summary>Talking points, strongest evidence first</h2>",
        _summary(points) if points else "<p>No talking point is shared by two or more media.</p>",
        "<h2 id=plots>Who says what, and when</h2>",
        network_svg(findings, plots),
        timeline_svg(findings, plots),
        _scripts(findings, by_id, media),
        "<h2 id=talking-points>The evidence, line by line</h2>",
    ]
    shown = points[: options.max_points]
    out.extend(_talking_point(tp, media, root, owner.get(str(tp.get("id"))), options) for tp in shown)
    if len(points) > len(shown):
        out.append(
            f"<p class=note>{len(points) - len(shown)} lower-ranked talking points are in the summary "
            "table and in findings.json, without their evidence here.</p>"
        )
    out.extend(
        [
            _mismatches(findings, root),
            _subtitle_copies(findings, media),
            _reuploads(findings, media),
            _failed(findings),
        ]
    )
    out.append(_media_table(findings, media, root))
    out.append(
        f"<p class=meta>Settings: {esc(', '.join(f'{k}={v}' for k, v in settings.items()))}. "
        f"Schema {esc(findings.get('schema'))}.</p></body></html>\n"
    )
    return "\n".join(part for part in out if part)


def write_report(path: str | Path, findings: Mapping[str, Any], scan_root: str | None = None) -> None:
    Path(path).write_text(render(findings, scan_root), encoding="utf-8")
