"""Static inline SVG plots for report.html: who shares which lines, and when they appeared.

The report has a Content-Security-Policy that forbids scripts and network, so the plots are
plain SVG computed here: hover titles (``<title>``) are the only interaction, and every
string from the data is escaped. Both plots read findings.json (a Mapping), nothing else.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
NEUTRAL = "#4C6A92"


@dataclass(frozen=True)
class PlotOptions:
    """Sizes and caps of the two plots.

    Caps keep a report of thousands of channels readable (and its layout fast); the
    caption says how many were left out.
    """

    width: int = 960
    network_height: int = 560
    max_channels: int = 60
    max_timeline_points: int = 20
    layout_iterations: int = 400
    label_chars: int = 46


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _float(value: object) -> float:
    """A number from findings.json (which may be hand-edited); 0 when it is not one."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def channel_of(entry: Mapping[str, Any]) -> str:
    """The name a media item is published under: channel, else uploader, handle or path."""
    for key in ("channel", "uploader", "handle", "path"):
        value = entry.get(key)
        if value:
            return str(value)
    return str(entry.get("id", "?"))


def parse_day(value: object) -> date | None:
    """A publish date (``YYYY-MM-DD``, possibly followed by a time); None when unknown or bad."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def script_of_points(findings: Mapping[str, Any]) -> dict[str, str]:
    """Talking point id -> the id of the first script that lists it (empty when no scripts)."""
    owner: dict[str, str] = {}
    for script in findings.get("scripts") or []:
        for tp_id in script.get("talking_points") or []:
            owner.setdefault(str(tp_id), str(script.get("id")))
    return owner


def script_colours(findings: Mapping[str, Any]) -> dict[str, str]:
    scripts = [str(s.get("id")) for s in findings.get("scripts") or []]
    return {sid: PALETTE[i % len(PALETTE)] for i, sid in enumerate(scripts)}


# ---- network of channels ------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelGraph:
    """Channels (nodes) linked by the talking points they share, weighted by score."""

    names: tuple[str, ...]
    weight: tuple[float, ...]  # summed score of the shared talking points each channel carries
    points: tuple[tuple[int, ...], ...]  # ranks of those talking points, per channel
    colour_key: tuple[str | None, ...]  # script carrying most of a channel's weight
    edges: tuple[tuple[int, int, float, tuple[int, ...]], ...]  # i, j, summed score, ranks
    left_out: int  # channels beyond max_channels
    isolated: int  # channels that share no talking point with another


def channel_graph(findings: Mapping[str, Any], max_channels: int) -> ChannelGraph:
    """Build the graph; an edge's weight is the summed score of the lines both channels say.

    Weighting by score (not by count) keeps greetings and sign-offs, which link everyone
    but score near zero, from drawing a hairball over the scripted lines.
    """
    media = {m["id"]: m for m in findings.get("media", [])}
    owner = script_of_points(findings)
    node_w: dict[str, float] = {}
    node_pts: dict[str, list[int]] = {}
    node_scripts: dict[str, dict[str, float]] = {}
    everyone = {channel_of(m) for m in media.values() if m.get("status") == "ok"}
    shared: list[tuple[list[str], float, int]] = []  # channels, score, rank of each shared line
    for tp in findings.get("talking_points", []):
        channels = sorted(
            {channel_of(media[m["media_id"]]) for m in tp.get("members", []) if m["media_id"] in media}
        )
        if len(channels) < 2:
            continue
        score = max(_float(tp.get("score")), 1e-6)
        rank = int(_float(tp.get("rank")))
        shared.append((channels, score, rank))
        script = owner.get(str(tp.get("id")))
        for name in channels:
            node_w[name] = node_w.get(name, 0.0) + score
            node_pts.setdefault(name, []).append(rank)
            if script:
                per = node_scripts.setdefault(name, {})
                per[script] = per.get(script, 0.0) + score
    ranked = sorted(node_w, key=lambda n: (-node_w[n], n))
    kept = sorted(ranked[:max_channels])
    index = {name: i for i, name in enumerate(kept)}
    # Pairs only among the kept channels: a greeting said by thousands stays cheap.
    pair_w: dict[tuple[int, int], float] = {}
    pair_pts: dict[tuple[int, int], list[int]] = {}
    for channels, score, rank in shared:
        ids = [index[c] for c in channels if c in index]
        for k, a in enumerate(ids):
            for b in ids[k + 1 :]:
                pair_w[(a, b)] = pair_w.get((a, b), 0.0) + score
                pair_pts.setdefault((a, b), []).append(rank)
    edges = tuple((a, b, w, tuple(sorted(pair_pts[(a, b)]))) for (a, b), w in sorted(pair_w.items()))
    colour_key = tuple(
        max(node_scripts[n].items(), key=lambda kv: (kv[1], kv[0]))[0] if n in node_scripts else None
        for n in kept
    )
    return ChannelGraph(
        names=tuple(kept),
        weight=tuple(node_w[n] for n in kept),
        points=tuple(tuple(sorted(node_pts[n])) for n in kept),
        colour_key=colour_key,
        edges=edges,
        left_out=max(0, len(ranked) - len(kept)),
        isolated=len(everyone - set(node_w)),
    )


def force_layout(n: int, edges: Sequence[tuple[int, int, float]], iterations: int) -> np.ndarray:
    """Fruchterman-Reingold positions in [0, 1]^2, deterministic (starts on a circle).

    Attraction is scaled by edge weight, so channels that share strong lines sit together
    and a weak greeting link barely pulls.
    """
    if n == 0:
        return np.zeros((0, 2))
    if n == 1:
        return np.array([[0.5, 0.5]])
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    pos = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 0.5
    k = 1.0 / math.sqrt(n)
    heaviest = max((w for _, _, w in edges), default=1.0) or 1.0
    src = np.array([e[0] for e in edges], dtype=int)
    dst = np.array([e[1] for e in edges], dtype=int)
    # a floor keeps every linked channel near the others: weak links must not fling it to the rim
    wts = np.array([0.1 + 0.9 * e[2] / heaviest for e in edges], dtype=float)
    temperature = 0.1
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.linalg.norm(delta, axis=2) + 1e-9
        np.fill_diagonal(dist, 1.0)
        force = (delta / dist[..., None] * (k * k / dist)[..., None]).sum(axis=1)
        if len(edges):
            d = pos[src] - pos[dst]
            dl = np.linalg.norm(d, axis=1) + 1e-9
            pull = d / dl[:, None] * (dl * dl / k * wts)[:, None]
            np.add.at(force, src, -pull)
            np.add.at(force, dst, pull)
        force -= pos * 0.4  # a little gravity keeps disconnected parts on the canvas
        length = np.linalg.norm(force, axis=1) + 1e-9
        pos += force / length[:, None] * np.minimum(length, temperature)[:, None]
        temperature = max(0.002, temperature * 0.985)
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    flat = hi - lo < 1e-6  # e.g. two nodes on a line: centre that axis instead of pinning it to 0
    out = (pos - lo) / np.where(flat, 1.0, hi - lo)
    out[:, flat] = 0.5
    return out


def network_svg(findings: Mapping[str, Any], options: PlotOptions | None = None) -> str:
    """Channels as circles (size: summed score of the shared lines they say), linked by the
    talking points they share (width: summed score); colour: the script, when findings has
    ``scripts``. Returns an HTML fragment (figure with inline SVG and caption)."""
    options = options or PlotOptions()
    graph = channel_graph(findings, options.max_channels)
    if len(graph.names) < 2:
        return (
            "<figure class=plot id=network-plot><p class=meta>No two channels share a talking point, "
            "so there is no network to draw.</p></figure>"
        )
    width = options.width
    height = min(options.network_height, 160 + 40 * len(graph.names))  # a few channels need little room
    pad_x, pad_y = 150, 40
    pos = force_layout(len(graph.names), [(i, j, w) for i, j, w, _ in graph.edges], options.layout_iterations)
    xy = [(pad_x + x * (width - 2 * pad_x), pad_y + y * (height - 2 * pad_y)) for x, y in pos]
    colours = script_colours(findings)
    heaviest = max(w for _, _, w, _ in graph.edges)
    top_node = max(graph.weight)
    parts = [
        f'<svg class=network viewBox="0 0 {width} {height}" width="100%" role="img" '
        'aria-labelledby="network-title" xmlns="http://www.w3.org/2000/svg">',
        '<title id="network-title">Channels linked by the talking points they share</title>',
        f'<rect width="{width}" height="{height}" fill="#fbfbfd"/>',
        "<g class=edges>",
    ]
    for i, j, w, ranks in sorted(graph.edges, key=lambda e: e[2]):
        share = w / heaviest
        (x1, y1), (x2, y2) = xy[i], xy[j]
        which = ", ".join(f"#{r}" for r in ranks)
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#5b6b7f" '
            f'stroke-opacity="{0.12 + 0.6 * share:.2f}" stroke-width="{0.6 + 7 * share:.1f}">'
            f"<title>{_esc(graph.names[i])} — {_esc(graph.names[j])}: {len(ranks)} shared "
            f"talking point(s) {which}</title></line>"
        )
    parts.append("</g><g class=nodes>")
    for i, name in enumerate(graph.names):
        x, y = xy[i]
        r = 5 + 11 * math.sqrt(graph.weight[i] / top_node)
        key = graph.colour_key[i]
        fill = colours.get(key, NEUTRAL) if key else NEUTRAL
        anchor, dx = ("end", -r - 4) if x > width / 2 else ("start", r + 4)
        said = ", ".join(f"#{p}" for p in graph.points[i][:12])
        more = "…" if len(graph.points[i]) > 12 else ""
        parts.append(
            f'<g class=node><circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" '
            f'stroke="#fff" stroke-width="1.5"><title>{_esc(name)}: says {len(graph.points[i])} '
            f"shared talking point(s) {said}{more}</title></circle>"
            f'<text x="{x + dx:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}">'
            f"{_esc(_short(name, 28))}</text></g>"
        )
    parts.append("</g></svg>")
    caption = [
        f"{len(graph.names)} channels that share at least one talking point. Line width: the summed "
        "score of the talking points two channels both say (greetings score near zero and "
        "barely show); circle size: the same for one channel. Hover for names and ranks."
    ]
    if colours:
        caption.append(
            "Colour: script — "
            + ", ".join(
                f'<span class=swatch style="background:{c}"></span>{_esc(sid)}' for sid, c in colours.items()
            )
            + "."
        )
    if graph.left_out:
        caption.append(f"{graph.left_out} more channels with weaker links are not drawn.")
    if graph.isolated:
        caption.append(f"{graph.isolated} channel(s) share no talking point and are not drawn.")
    return (
        "<figure class=plot id=network-plot>"
        + "".join(parts)
        + f"<figcaption>{' '.join(caption)}</figcaption></figure>"
    )


# ---- timeline of talking points -------------------------------------------------------------


def _ticks(first: date, last: date, limit: int) -> list[date]:
    days = (last - first).days
    step = max(1, math.ceil(days / max(1, limit)))
    for nice in (1, 2, 7, 14, 30, 61, 91, 182, 365, 730):
        if nice >= step:
            step = nice
            break
    return [first + timedelta(days=d) for d in range(0, days + 1, step)]


@dataclass(frozen=True)
class TimeAxis:
    """A date axis with breaks: long empty stretches collapse to a fixed-width gap.

    Boilerplate lines seen a year earlier would otherwise squeeze a campaign's few days
    into a sliver at one end.
    """

    pieces: tuple[tuple[date, date, float, float], ...]  # first, last day, x0, x1

    @classmethod
    def fit(cls, days: Sequence[date], x0: float, x1: float, break_px: float = 26) -> TimeAxis:
        ordered = sorted(set(days))
        span = (ordered[-1] - ordered[0]).days
        gap_limit = max(14, span // 4)
        runs: list[list[date]] = [[ordered[0]]]
        for day in ordered[1:]:
            if (day - runs[-1][-1]).days > gap_limit:
                runs.append([day])
            else:
                runs[-1].append(day)
        spans = [(run[0] - timedelta(days=1), run[-1] + timedelta(days=1)) for run in runs]
        lengths = [(b - a).days for a, b in spans]
        usable = (x1 - x0) - break_px * (len(spans) - 1)
        pieces, x = [], x0
        for (a, b), length in zip(spans, lengths, strict=True):
            w = usable * length / sum(lengths)
            pieces.append((a, b, x, x + w))
            x += w + break_px
        return cls(tuple(pieces))

    def x(self, day: date) -> float:
        for a, b, x0, x1 in self.pieces:
            if a <= day <= b:
                return x0 + (x1 - x0) * (day - a).days / max(1, (b - a).days)
        raise ValueError(f"{day} is outside the axis")

    def ticks(self, px_per_label: float = 95) -> list[date]:
        out: list[date] = []
        for a, b, x0, x1 in self.pieces:
            fits = int((x1 - x0) // px_per_label)
            first, last = a + timedelta(days=1), b - timedelta(days=1)  # the real days, not the padding
            out.extend(_ticks(first, last, fits) if fits >= 2 else [first + (last - first) // 2])
        return out

    def breaks(self) -> list[float]:
        return [(self.pieces[i][3] + self.pieces[i + 1][2]) / 2 for i in range(len(self.pieces) - 1)]


def timeline_svg(findings: Mapping[str, Any], options: PlotOptions | None = None) -> str:
    """One row per ranked talking point, a dot per publish day (size: media that day), the
    first day ringed as the likely origin. Returns an HTML fragment."""
    options = options or PlotOptions()
    media = {m["id"]: m for m in findings.get("media", [])}
    colours = script_colours(findings)
    owner = script_of_points(findings)
    rows: list[tuple[Mapping[str, Any], dict[date, list[str]]]] = []
    undated = 0
    for tp in findings.get("talking_points", [])[: options.max_timeline_points]:
        days: dict[date, list[str]] = {}
        seen: set[str] = set()
        for member in tp.get("members", []):
            entry = media.get(member["media_id"])
            if entry is None or member["media_id"] in seen:
                continue
            seen.add(member["media_id"])
            day = parse_day(entry.get("published"))
            if day is None:
                continue
            days.setdefault(day, []).append(channel_of(entry))
        if days:
            rows.append((tp, days))
        else:
            undated += 1
    if not rows:
        return (
            "<figure class=plot id=timeline-plot><p class=meta>No publish dates are known for the "
            "talking points' media, so there is no timeline to draw.</p></figure>"
        )
    width, label_w, row_h, top = options.width, 360, 26, 34
    height = top + row_h * len(rows) + 16
    axis = TimeAxis.fit([d for _, days in rows for d in days], label_w + 10, width - 30)
    x_of = axis.x

    parts = [
        f'<svg class=timeline viewBox="0 0 {width} {height}" width="100%" role="img" '
        'aria-labelledby="timeline-title" xmlns="http://www.w3.org/2000/svg">',
        '<title id="timeline-title">When each talking point was published</title>',
        f'<rect width="{width}" height="{height}" fill="#fbfbfd"/>',
    ]
    for x in axis.breaks():
        parts.append(
            f'<rect class=break x="{x - 9:.1f}" y="{top - 6}" width="18" height="{height - top - 4}" '
            'fill="#fff" stroke="#c9c9d1" stroke-dasharray="3 3"><title>time left out: no media '
            "published in between</title></rect>"
        )
    for tick in axis.ticks():
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 10}" stroke="#e3e3e8"/>'
            f'<text class=tick x="{x:.1f}" y="{top - 12}" text-anchor="middle">{tick.isoformat()}</text>'
        )
    for n, (tp, days) in enumerate(rows):
        y = top + row_h * n + row_h / 2
        colour = colours.get(owner.get(str(tp.get("id")), ""), NEUTRAL)
        label = f"#{tp.get('rank')} {tp.get('label', '')}"
        parts.append(
            f'<g class=row><a href="#{_esc(tp.get("id"))}"><text x="4" y="{y + 4:.1f}">'
            f"{_esc(_short(label, options.label_chars))}<title>{_esc(label)}</title></text></a>"
        )
        ordered = sorted(days)
        if len(ordered) > 1:
            parts.append(
                f'<line x1="{x_of(ordered[0]):.1f}" y1="{y:.1f}" x2="{x_of(ordered[-1]):.1f}" '
                f'y2="{y:.1f}" stroke="{colour}" stroke-opacity="0.35" stroke-width="2"/>'
            )
        for k, day in enumerate(ordered):
            names = days[day]
            r = 3.5 + 2.2 * math.sqrt(len(names))
            ring = ' stroke="#111" stroke-width="2"' if k == 0 else ' stroke="#fff" stroke-width="1"'
            who = ", ".join(sorted(set(names)))
            origin = " (first)" if k == 0 else ""
            parts.append(
                f'<circle cx="{x_of(day):.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}"{ring}>'
                f"<title>{day.isoformat()}{origin}: {len(names)} media — {_esc(who)}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    caption = (
        "Each row is a talking point in rank order; each dot a publish day, sized by the number "
        "of media published that day; the ringed dot is the first day seen, the likely origin. "
        "Hover for dates and channels."
    )
    if axis.breaks():
        caption += " Dashed gaps: long stretches with no publication, left out of the time axis."
    if undated:
        caption += f" {undated} talking point(s) without any known publish date are not drawn."
    return (
        "<figure class=plot id=timeline-plot>"
        + "".join(parts)
        + f"<figcaption>{caption}</figcaption></figure>"
    )
