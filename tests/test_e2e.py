"""End to end on samples/ with the real models: every scripted line found, nothing else."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HELD_OUT, SAMPLES

pytestmark = pytest.mark.slow


def _file_of(path: str, truth: dict[str, Any]) -> str:
    for m in truth["media"]:
        if path.replace("\\", "/").endswith(m["file"]):
            return str(m["file"])
    raise AssertionError(f"{path} is not in samples/truth.json")


def _line_media(truth: dict[str, Any]) -> dict[str, set[str]]:
    """Script line -> the scanned files that recite it (re-uploads count as their original)."""
    recited: dict[str, set[str]] = defaultdict(set)
    for m in truth["media"]:
        if m["file"] == HELD_OUT or m["kind"] == "reupload":
            continue
        for u in m["utterances"]:
            if u["line"]:
                recited[u["line"]].add(m["file"])
    return recited


def _readable_in_english(file: str, truth: dict[str, Any]) -> bool:
    media = next(m for m in truth["media"] if m["file"] == file)
    return media["language"] == "en" or any(s["language"] == "en" for s in media["subtitles"])


def _overlap(member: dict[str, Any], utterance: dict[str, Any]) -> float:
    return min(member["end_s"], utterance["end_s"]) - max(member["start_s"], utterance["start_s"])


def _label_member(member: dict[str, Any], file: str, truth: dict[str, Any]) -> set[str]:
    """What the truth says was spoken where this member is: a line id, 'generic' or 'independent'.

    The utterance that overlaps the member most is the one it quotes (unpunctuated ASR may
    run two utterances together, then each counts).
    """
    media = next(m for m in truth["media"] if m["file"] == file)
    spans = [(_overlap(member, u), u["line"] or u["kind"]) for u in media["utterances"]]
    length = max(0.1, member["end_s"] - member["start_s"])
    return {label for overlap, label in spans if overlap > 0.3 * min(length, 2.0)}


def test_e2e_every_script_line_is_found_with_the_right_media(demo_scan, truth):
    findings = demo_scan["findings"]
    paths = {m["id"]: _file_of(m["path"], truth) for m in findings["media"]}
    for line, files in _line_media(truth).items():
        best = None
        for tp in findings["talking_points"]:
            labels = [_label_member(m, paths[m["media_id"]], truth) for m in tp["members"]]
            if sum(line in lab for lab in labels) > len(labels) / 2:
                best = tp
                break
        assert best is not None, f"script line {line} was not found"
        found = {paths[m["media_id"]] for m in best["members"]}
        # Whisper base hears espeak's English well, its French/German/Spanish voices badly
        # (MODELS.md): media in English or with English subtitles must all be found; the
        # others are held to three in four overall.
        must = {f for f in files if _readable_in_english(f, truth)}
        assert must <= found, f"{line}: missing media {must - found}"
        assert len(files & found) >= 0.75 * len(files), f"{line}: found only {files & found}"


def test_e2e_nothing_independent_or_generic_is_grouped_with_a_script(demo_scan, truth):
    findings = demo_scan["findings"]
    paths = {m["id"]: _file_of(m["path"], truth) for m in findings["media"]}
    for tp in findings["talking_points"]:
        labels = [_label_member(m, paths[m["media_id"]], truth) for m in tp["members"]]
        lines = {x for lab in labels for x in lab if x not in ("generic", "independent")}
        if not lines:
            continue
        assert len(lines) == 1, f"{tp['label']!r} mixes script lines {lines}"
        for member, lab in zip(tp["members"], labels, strict=True):
            assert lab & lines, f"{tp['label']!r} holds a non-script member: {member['text']!r} {lab}"


def test_e2e_script_lines_rank_above_generic_phrases(demo_scan, truth):
    findings = demo_scan["findings"]
    paths = {m["id"]: _file_of(m["path"], truth) for m in findings["media"]}
    script_ranks, generic_ranks = [], []
    for tp in findings["talking_points"]:
        labels = [_label_member(m, paths[m["media_id"]], truth) for m in tp["members"]]
        if all(lab <= {"generic"} for lab in labels):
            generic_ranks.append(tp["rank"])
        elif any(lab - {"generic", "independent"} for lab in labels):
            script_ranks.append(tp["rank"])
    n_lines = len(_line_media(truth))
    assert len(script_ranks) >= n_lines
    assert not generic_ranks or max(script_ranks[:n_lines]) < min(generic_ranks)


def test_e2e_findings_follow_the_contract(demo_scan, truth):
    findings = demo_scan["findings"]
    assert findings["schema"] == "chorus.findings/1"
    assert {"asr_model", "embed_model"} <= set(findings["settings"])
    media_keys = {
        "id",
        "path",
        "duration_s",
        "channel",
        "uploader",
        "published",
        "url",
        "languages",
        "duplicate_of",
        "status",
        "error",
    }
    for m in findings["media"]:
        assert media_keys <= set(m)
    failed = [m for m in findings["media"] if m["status"] == "failed"]
    expected = {m["file"] for m in truth["media"] if m["expect_failed"]}
    assert {_file_of(m["path"], truth) for m in failed} == expected
    assert all(m["error"] and "broken_clip.mp4" in m["error"] for m in failed)
    ranks = [tp["rank"] for tp in findings["talking_points"]]
    assert ranks == sorted(ranks) and ranks[0] == 1
    for tp in findings["talking_points"]:
        assert tp["n_media"] >= 2
        for member in tp["members"]:
            assert member["relation"] in ("verbatim", "paraphrase", "translation")
            assert member["source"] in ("asr", "subtitle")
            assert 0 <= member["start_s"] <= member["end_s"]
    assert (demo_scan["out"] / "report.html").stat().st_size > 1000


def test_e2e_reupload_is_marked_duplicate(demo_scan, truth):
    findings = demo_scan["findings"]
    by_file = {_file_of(m["path"], truth): m for m in findings["media"]}
    for m in truth["media"]:
        if m["duplicate_of"]:
            assert by_file[m["file"]]["duplicate_of"] == by_file[m["duplicate_of"]]["id"]


def test_e2e_translations_and_subtitles_join_their_line(demo_scan, truth):
    findings = demo_scan["findings"]
    relations = {m["relation"] for tp in findings["talking_points"] for m in tp["members"]}
    sources = {m["source"] for tp in findings["talking_points"] for m in tp["members"]}
    assert "translation" in relations
    assert "subtitle" in sources
    languages = {lang for tp in findings["talking_points"] for lang in tp["languages"]}
    assert {"en", "de", "es"} <= languages  # German and Spanish speech joins English lines
    # The French campaign video: Whisper base garbles espeak's French voice (MODELS.md), so
    # its English subtitle track is what carries its lines into the script's talking points.
    french = next(
        m
        for m in truth["media"]
        if m["language"] == "fr" and m["kind"] == "campaign" and not m["duplicate_of"]
    )
    media_id = {m["path"]: m["id"] for m in findings["media"]}
    french_id = next(i for path, i in media_id.items() if path.endswith(Path(french["file"]).name))
    in_scripts = {tp_id for script in findings["scripts"] for tp_id in script["talking_points"]}
    carried = {
        m["source"]
        for tp in findings["talking_points"]
        if tp["id"] in in_scripts
        for m in tp["members"]
        if m["media_id"] == french_id
    }
    assert "subtitle" in carried


def test_e2e_second_scan_does_no_model_work(demo_scan):
    from pipelines.scan import scan

    summary = scan(demo_scan["inputs"], demo_scan["out"], scan_root=str(SAMPLES))
    first = demo_scan["summary"]
    assert summary.n_processed == 0
    assert summary.n_reused == first.n_processed
    assert summary.n_embedded == 0
    assert [tp.label for tp in summary.talking_points] == [tp.label for tp in first.talking_points]


def test_e2e_check_finds_the_script_in_an_unseen_video(demo_scan, truth):
    from pipelines.check import check

    result = check(str(SAMPLES / HELD_OUT), str(demo_scan["out"] / "chorus.db"))
    held = next(m for m in truth["media"] if m["file"] == HELD_OUT)
    expected_lines = {u["line"] for u in held["utterances"] if u["line"]}
    findings = demo_scan["findings"]
    paths = {m["id"]: _file_of(m["path"], truth) for m in findings["media"]}
    found_lines = set()
    for match in result["matches"]:
        for other in match["also_said_by"]:
            found_lines |= _label_member(other, paths[other["media_id"]], truth) - {"generic", "independent"}
        assert match["also_said_by"], "a match must say who else says it"
    assert expected_lines <= found_lines


def test_e2e_cli_check_json(demo_scan):
    import json

    from typer.testing import CliRunner

    from analyzer.cli import app

    clip = SAMPLES / "videos" / "valleylife_93fj1_water_plant.mp4"
    result = CliRunner().invoke(
        app, ["check", str(clip), "--corpus", str(demo_scan["out"] / "chorus.db"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["media"]["path"].endswith("valleylife_93fj1_water_plant.mp4")
    labels = " ".join(m["label"] for m in data["matches"]).lower()
    assert "water plant" in labels and "school" in labels


def test_e2e_scripts_group_each_campaign(demo_scan, truth):
    findings = demo_scan["findings"]
    paths = {m["id"]: _file_of(m["path"], truth) for m in findings["media"]}
    tp_lines = {}
    for tp in findings["talking_points"]:
        labels = [_label_member(m, paths[m["media_id"]], truth) for m in tp["members"]]
        lines = {x for lab in labels for x in lab} - {"generic", "independent"}
        tp_lines[tp["id"]] = next(iter(lines)) if len(lines) == 1 else None
    campaigns = []
    for script in findings["scripts"]:
        lines = {tp_lines[t] for t in script["talking_points"]}
        assert None not in lines, f"{script['id']} holds a line that is no script line"
        campaigns.append({line[0] for line in lines})
    assert sorted(map(sorted, campaigns)) == [["A"], ["B"]]
