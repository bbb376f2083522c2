"""report.html: one self-contained page (no network, no scripts) a reporter can share.

Every string that came from media, metadata, transcripts or subtitles is untrusted and
goes through ``esc``; links are only ever http(s) or file URLs built here.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# No scripts, no network: the page can only use its own inline styles.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d1d1f;padding:0 1rem}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
.tp{border:1px solid #ddd;border-radius:6px;padding:.8rem 1rem;margin:1rem 0}
.tp h3{margin:.2rem 0 .4rem;font-size:1.1rem}.meta{color:#555;font-size:.9rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border-bottom:1px solid #eee;padding:.3rem .4rem;text-align:left;vertical-align:top}
.rel-verbatim{color:#a00}.rel-translation{color:#06c}.rel-paraphrase{color:#870}
.parts span{display:inline-block;margin-right:.8rem}.failed td{color:#a00}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _link(href: str | None, text: str) -> str:
    if not href or not href.startswith(("http://", "https://", "file://")):
        return esc(text)
    return f'<a href="{esc(href)}" rel="noopener noreferrer">{esc(text)}</a>'


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def _member_row(member: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]], root: Path | None) -> str:
    entry = media.get(member["media_id"], {})
    href = member.get("url_at")
    if not href and root is not None and entry.get("path"):
        href = (root / entry["path"]).resolve().as_uri()
    when = f"{_clock(member['start_s'])}–{_clock(member['end_s'])}"
    relation = esc(member["relation"])
    return (
        f"<tr><td>{esc(member['text'])}</td><td>{esc(member['language'])}</td>"
        f'<td class="rel-{relation}">{relation} {member["similarity"]:.2f}</td>'
        f"<td>{esc(member['source'])}</td><td>{esc(entry.get('path'))}</td>"
        f"<td>{esc(entry.get('channel'))}</td><td>{esc(entry.get('published'))}</td>"
        f"<td>{_link(href, when)}</td></tr>"
    )


def render(findings: Mapping[str, Any], scan_root: str | None = None) -> str:
    """The report as a string of HTML."""
    root = Path(scan_root) if scan_root else None
    media = {m["id"]: m for m in findings["media"]}
    points = findings["talking_points"]
    failed = [m for m in findings["media"] if m["status"] == "failed"]
    ok = len(findings["media"]) - len(failed)
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>Chorus report</title><style>{_CSS}</style></head><body>",
        "<h1>Chorus: lines many voices repeat</h1>",
        f"<p class=meta>Generated {esc(findings['generated_at'])} · {ok} media read, "
        f"{len(failed)} failed · {len(points)} talking points · ASR "
        f"{esc(findings['settings'].get('asr_model'))} · embeddings "
        f"{esc(findings['settings'].get('embed_model'))}</p>",
        "<h2>Talking points, strongest evidence first</h2>",
    ]
    for tp in points:
        parts = "".join(f"<span>{esc(k)} {v:.2f}</span>" for k, v in tp.get("score_parts", {}).items())
        rows = "".join(_member_row(m, media, root) for m in tp["members"])
        out.append(
            f'<div class=tp id="{esc(tp["id"])}"><h3>#{tp["rank"]} “{esc(tp["label"])}”</h3>'
            f"<div class=meta>score {tp['score']:.3f} · {tp['n_media']} media · "
            f"{tp['n_channels']} channels · languages {esc(', '.join(tp['languages']))} · "
            f"first published {esc(tp['first_published'] or 'unknown')}</div>"
            f"<div class='meta parts'>{parts}</div>"
            "<table><tr><th>quote</th><th>lang</th><th>relation</th><th>source</th>"
            f"<th>media</th><th>channel</th><th>published</th><th>time</th></tr>{rows}</table></div>"
        )
    dups = [m for m in findings["media"] if m.get("duplicate_of")]
    if dups:
        out.append("<h2>Re-uploads of the same recording</h2>")
        out.append("<table><tr><th>media</th><th>channel</th><th>copy of</th></tr>")
        for m in dups:
            original = media.get(m["duplicate_of"], {})
            out.append(
                f"<tr><td>{esc(m['path'])}</td><td>{esc(m['channel'])}</td>"
                f"<td>{esc(original.get('path', m['duplicate_of']))}</td></tr>"
            )
        out.append("</table>")
    out.append(
        "<h2>Media</h2><table><tr><th>media</th><th>channel</th><th>published</th>"
        "<th>languages</th><th>status</th></tr>"
    )
    for m in findings["media"]:
        status = m["status"] if m["status"] == "ok" else f"failed: {m['error']}"
        css = " class=failed" if m["status"] == "failed" else ""
        out.append(
            f"<tr{css}><td>{_link(m.get('url'), m['path'])}</td><td>{esc(m['channel'])}</td>"
            f"<td>{esc(m['published'])}</td><td>{esc(', '.join(m['languages']))}</td>"
            f"<td>{esc(status)}</td></tr>"
        )
    out.append("</table></body></html>\n")
    return "\n".join(out)


def write_report(path: str | Path, findings: Mapping[str, Any], scan_root: str | None = None) -> None:
    Path(path).write_text(render(findings, scan_root), encoding="utf-8")
