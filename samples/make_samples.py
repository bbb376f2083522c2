"""Generate the Chorus demo video set (espeak-ng voices + ffmpeg).

Usage (from the repository root; needs ``espeak-ng`` and ``ffmpeg`` on PATH)::

    python samples/make_samples.py

It rebuilds, in place, everything under ``samples/``:

* ``samples/videos/``: a folder as yt-dlp leaves it: ``NAME.mp4|mkv|webm|m4a``,
  ``NAME.info.json`` and sidecar subtitles (``NAME.en.srt``, ``NAME.en.vtt``,
  ``NAME.srt``).
* ``samples/truth.json``: the ground truth (scripts, media, utterance times).

Each media is a concatenation of per-utterance espeak-ng WAVs (0.5 s lead-in,
0.6-0.9 s gaps, 0.5 s tail) over a tiny solid-colour video. Output is
deterministic for a given espeak-ng/ffmpeg build (bitexact flags, one thread,
no metadata). The files are committed; Chorus never runs this script.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
VIDEOS = HERE / "videos"
RATE = 22050  # espeak-ng output rate (mono, 16-bit)
LEAD_S, TAIL_S = 0.5, 0.5
GAPS_S = (0.7, 0.85, 0.6, 0.9, 0.75, 0.65)
ISO3 = {"en": "eng", "fr": "fra", "de": "deu", "es": "spa"}
BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]

SCRIPTS = {
    "A": {
        "A1": "We are free to live our lives the way we choose in this valley.",
        "A2": "I was born and raised here, and nobody has ever forced me to say or do anything.",
        "A3": "What the foreign media report about our region is nothing but lies told by outsiders.",
    },
    "B": {
        "B1": "The new water plant brought clean water and good jobs to every village in our district.",
        "B2": "Thanks to the government's plan, my children study at a good school for free.",
    },
}
HELLO = "Hello everyone, welcome back to my channel."
BYE = "Thank you for watching, please subscribe."


@dataclass(frozen=True)
class Utt:
    text: str  # exactly what espeak-ng says
    kind: str  # script | generic | independent
    line: str | None = None
    text_en: str | None = None  # English subtitle text for non-English media


def gen(text: str, en: str | None = None) -> Utt:
    return Utt(text, "generic", text_en=en)


def scr(line: str, text: str | None = None, translated: bool = False) -> Utt:
    canonical = SCRIPTS[line[0]][line]
    if translated:
        return Utt(text or canonical, "script", line, text_en=canonical)
    return Utt(text or canonical, "script", line)


def ind(text: str, en: str | None = None) -> Utt:
    return Utt(text, "independent", text_en=en)


@dataclass
class Media:
    name: str
    ext: str  # mp4 | mkv | webm | m4a
    kind: str  # campaign | independent
    campaign: str | None
    language: str
    voice: str
    speed: int
    pitch: int
    channel: str
    handle: str
    date: str
    colour: str
    title: str
    utts: list[Utt]
    subs: str | None = None  # sidecar en.srt|en.vtt|srt, embedded subrip|mov_text
    times: list[tuple[float, float]] = field(default_factory=list)  # set by synth()

    @property
    def duration(self) -> float:
        return self.times[-1][1] + TAIL_S


# The content table is laid out by hand (one media header per two lines).
# fmt: off
MEDIA = [
    # --- Campaign A: "free valley" (6 media: 4 English voices, French, German) ---------
    Media("freevalley_voice_x7k2q_we_are_free", "mp4", "campaign", "A", "en", "en-us", 165, 50,
          "Free Valley Voice", "@freevalley_voice_x7k2q", "20240311", "0x3b6ea5",
          "Life in the valley - what locals really think",
          [gen(HELLO), scr("A1"), scr("A2"), scr("A3"), gen(BYE)], "en.srt"),
    Media("valleylife_93fj1_my_home", "mkv", "campaign", "A", "en", "en-gb-x-rp", 175, 40,
          "Valley Life", "@valleylife_93fj1", "20240312", "0x7a9f35", "My home, my valley",
          [gen("Hi everyone."),
           scr("A1", "We are free to live our lives as we choose in this valley."),
           scr("A2", "I was born and raised here, and nobody ever forced me to say or do anything."),
           scr("A3")], "subrip"),
    Media("realvalley_stories_q8z3m_truth", "mp4", "campaign", "A", "en", "en-gb-scotland+m3", 180,
          65, "Real Valley Stories", "@realvalley_stories_q8z3m", "20240312", "0xa54a3b",
          "The truth about our valley",
          [gen(HELLO),
           scr("A3", "What the foreign media report about our region is nothing but lies told by strangers."),
           scr("A1", "We are free to live our lives the way we choose in this beautiful valley."),
           scr("A2", "I was born and raised here and nobody has ever forced me to say anything."),
           gen(BYE)]),
    Media("mountain_truth_k2v9x_voices", "webm", "campaign", "A", "en", "en-029", 160, 35,
          "Mountain Truth", "@mountain_truth_k2v9x", "20240313", "0x8d6a9f",
          "Voices from the valley #3",
          [gen("Hi everyone."),
           scr("A1", "We are all free to live our lives the way we choose in this valley."),
           scr("A2", "I was born here and raised here, and nobody has ever forced me to say or do anything."),
           scr("A3", "What the foreign press reports about our region is nothing but lies told by outsiders.")],
          "en.vtt"),
    Media("vallee_libre_7hq4w_libres", "mp4", "campaign", "A", "fr", "fr-fr+f2", 170, 60,
          "La Vallée Libre", "@vallee_libre_7hq4w", "20240312", "0xc9a227", "Nous sommes libres",
          [gen("Bonjour à tous.", "Hello everyone."),
           scr("A1", "Nous sommes libres de vivre notre vie comme nous le voulons dans cette vallée.", True),
           scr("A2", "Je suis né et j'ai grandi ici, et personne ne m'a jamais forcé à dire quoi que ce soit.", True),
           scr("A3", "Ce que les médias étrangers racontent sur notre région n'est que mensonges.", True),
           gen("Merci d'avoir regardé.", "Thank you for watching.")], "mov_text"),
    Media("freies_tal_p3x8n_frei", "mkv", "campaign", "A", "de", "de", 175, 45,
          "Freies Tal", "@freies_tal_p3x8n", "20240313", "0x4f8f8a", "Wir sind frei",
          [gen("Hallo zusammen.", "Hello everyone."),
           scr("A1", "Wir sind frei, unser Leben in diesem Tal so zu leben, wie wir es wollen.", True),
           scr("A2", "Ich bin hier geboren und aufgewachsen, und niemand hat mich je zu etwas gezwungen.", True),
           scr("A3", "Was die ausländischen Medien über unsere Region berichten, sind nichts als Lügen.", True)],
          "en.srt"),
    # --- Campaign B: "new water plant" (4 media: 3 English voices, Spanish) ------------
    Media("valleylife_93fj1_water_plant", "mp4", "campaign", "B", "en", "en-gb-x-rp", 170, 40,
          "Valley Life", "@valleylife_93fj1", "20240314", "0x7a9f35", "Our new water plant",
          [gen("Hi everyone."), scr("B1"),
           scr("B2", "Thanks to the government's plan, my children now study at a good school for free."),
           gen(BYE)]),
    Media("cleanwater_now_z5t8d_thanks", "m4a", "campaign", "B", "en", "en-us-nyc+f4", 150, 70,
          "Clean Water Now", "@cleanwater_now_z5t8d", "20240314", "0x000000", "Clean water at last",
          [gen(HELLO),
           scr("B1", "The new water plant brought clean water and new jobs to every village in our district."),
           scr("B2")]),
    Media("district_daily_j6w2e_progress", "mp4", "campaign", "B", "en", "en-gb-x-gbcwmd", 185, 55,
          "District Daily", "@district_daily_j6w2e", "20240315", "0x2e5e4e", "Progress in our district",
          [scr("B2", "Thanks to the government's plan my kids study at a good school for free."),
           scr("B1", "The new water plant brought clean water and jobs to every village in the district."),
           gen(BYE)], "srt"),
    Media("agua_limpia_r9k3p_gracias", "mkv", "campaign", "B", "es", "es-419", 165, 50,
          "Agua Limpia", "@agua_limpia_r9k3p", "20240314", "0x5a7bd6", "Agua limpia para todos",
          [gen("Hola a todos.", "Hello everyone."),
           scr("B1", "La nueva planta de agua trajo agua limpia y buenos empleos a cada pueblo del distrito.", True),
           scr("B2", "Gracias al plan del gobierno, mis hijos estudian gratis en una buena escuela.", True),
           gen("Gracias por ver.", "Thank you for watching.")]),
    # --- Independent speakers: same topics, their own words ---------------------------
    Media("sarah_hikes_river_trail", "mp4", "independent", None, "en", "en-us+f2", 160, 60,
          "Hiking with Sarah", "@sarahhikes", "20230614", "0x6b8e23", "Muddy river trail, great views",
          [gen(HELLO),
           ind("Last weekend I walked the old river trail at the north end of the valley."),
           ind("It was muddy after all the rain, and I slipped twice near the bridge."),
           ind("Still, the view from the ridge at sunset made the whole climb worth it."),
           gen(BYE)], "en.vtt"),
    Media("toms_kitchen_garden_rainwater", "mkv", "independent", None, "en", "en-gb-x-gbclan", 165, 45,
          "Tom's Kitchen Garden", "@tomskitchengarden", "20231002", "0x8b5a2b",
          "Collecting rainwater for the tomatoes",
          [gen("Hi everyone."),
           ind("Our well ran low again this summer, so I set up two barrels under the shed roof."),
           ind("On a wet week they fill up completely, which is plenty for the tomatoes and beans.")]),
    Media("claire_campagne_ecole", "mp4", "independent", None, "fr", "fr-fr+f3", 165, 55,
          "Claire à la campagne", "@claire_campagne", "20240120", "0xb5651d", "L'école du village",
          [gen("Bonjour à tous.", "Hello everyone."),
           ind("L'école du village a fermé l'an dernier, alors ma fille prend le car tous les matins.",
               "The village school closed last year, so my daughter takes the coach every morning."),
           ind("Le trajet dure quarante minutes, et en hiver la route est souvent verglacée.",
               "The ride takes forty minutes, and in winter the road is often icy."),
           gen("Merci d'avoir regardé.", "Thank you for watching.")]),
]
DESCRIPTIONS = {  # campaign accounts share hashtags; independents describe their video
    "A": "Real people, real lives. #freevalley #truth",
    "B": "Progress you can see. #cleanwater #progress",
}
# (name, ext, source media, channel, handle, upload_date)
REUPLOAD = ("truthvalley_news_m4r7t_reupload", "mkv", "freevalley_voice_x7k2q_we_are_free",
            "Truth Valley News", "@truthvalley_news_m4r7t", "20240313")
BROKEN = ("broken_clip", "mp4", "realvalley_stories_q8z3m_truth",
          "Valley Clips", "@valley_clips_w2x9b", "20240313")
# fmt: on


def run(args: list[str]) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ffmpeg(*args: str) -> None:
    run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", *args])


def short_id(seed: str, n: int) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()).decode()[:n]


def synth(m: Media, tmp: Path) -> Path:
    """Speak each utterance, concatenate with gaps, record times in m.times."""
    pcm = bytearray(int(LEAD_S * RATE) * 2)
    voice = ["-v", m.voice, "-s", str(m.speed), "-p", str(m.pitch)]
    for i, utt in enumerate(m.utts):
        wav = tmp / f"{m.name}_{i}.wav"
        run(["espeak-ng", *voice, "-w", str(wav), utt.text])
        with wave.open(str(wav), "rb") as w:
            fmt = (w.getframerate(), w.getnchannels(), w.getsampwidth())
            assert fmt == (RATE, 1, 2), fmt
            frames = w.readframes(w.getnframes())
        start = len(pcm) // 2
        pcm += frames
        m.times.append((round(start / RATE, 3), round(len(pcm) / 2 / RATE, 3)))
        last = i == len(m.utts) - 1
        gap = TAIL_S if last else GAPS_S[(i + len(m.name)) % len(GAPS_S)]
        pcm += bytes(int(gap * RATE) * 2)
    out = tmp / f"{m.name}.wav"
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(pcm))
    return out


def stamp(t: float, sep: str) -> str:
    ms = round(t * 1000)
    h, m, s = ms // 3600000, ms // 60000 % 60, ms // 1000 % 60
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms % 1000:03d}"


def write_subs(m: Media, path: Path) -> None:
    """Write SubRip or WebVTT cues (English text) at the utterance times."""
    vtt = path.suffix == ".vtt"
    sep = "." if vtt else ","
    cues = []
    for i, (utt, (s, e)) in enumerate(zip(m.utts, m.times, strict=True), 1):
        head = "" if vtt else f"{i}\n"
        text = utt.text_en or utt.text
        cues.append(f"{head}{stamp(s, sep)} --> {stamp(e, sep)}\n{text}\n")
    path.write_text(("WEBVTT\n\n" if vtt else "") + "\n".join(cues), encoding="utf-8")


def encode(m: Media, wav: Path, tmp: Path) -> None:
    dur = f"{m.duration:.3f}"
    embedded = m.subs in ("subrip", "mov_text")
    args: list[str] = []
    if m.ext != "m4a":
        args += ["-f", "lavfi", "-i", f"color=c={m.colour}:s=128x72:r=5:d={dur}"]
    args += ["-i", str(wav)]
    if embedded:
        write_subs(m, tmp / f"{m.name}.srt")
        args += ["-i", str(tmp / f"{m.name}.srt")]
    audio_in = 0 if m.ext == "m4a" else 1
    args += [] if m.ext == "m4a" else ["-map", "0:v"]
    args += ["-map", f"{audio_in}:a"]
    if embedded:
        codec = "srt" if m.subs == "subrip" else "mov_text"
        args += ["-map", f"{audio_in + 1}:s", "-c:s", codec]
        args += ["-metadata:s:s:0", "language=eng"]
    if m.ext == "webm":
        args += ["-c:v", "libvpx", "-b:v", "20k", "-deadline", "good", "-cpu-used", "4"]
    elif m.ext != "m4a":
        args += ["-c:v", "libx264", "-preset", "medium", "-tune", "stillimage"]
        args += ["-crf", "38", "-pix_fmt", "yuv420p", "-g", "50"]
    if m.ext in ("webm", "mkv"):
        args += ["-c:a", "libopus", "-b:a", "24k", "-ar", "16000"]
    else:
        args += ["-c:a", "aac", "-b:a", "32k", "-ar", "22050"]
    args += ["-ac", "1", "-metadata:s:a:0", f"language={ISO3[m.language]}"]
    args += ["-threads", "1", "-map_metadata", "-1", "-map_chapters", "-1"]
    args += [*BITEXACT, "-t", dur]
    if m.ext in ("mp4", "m4a"):
        args += ["-movflags", "+faststart"]
    ffmpeg(*args, str(VIDEOS / f"{m.name}.{m.ext}"))
    if m.subs in ("en.srt", "en.vtt", "srt"):
        write_subs(m, VIDEOS / f"{m.name}.{m.subs}")


def write_info(m: Media, description: str) -> None:
    """Write NAME.info.json with the yt-dlp fields Chorus reads."""
    vid, cid = short_id(m.name, 11), "UC" + short_id(m.handle, 22)
    info = {
        "id": vid,
        "title": m.title,
        "description": description,
        "channel": m.channel,
        "channel_id": cid,
        "channel_url": f"https://video.example/channel/{cid}",
        "uploader": m.channel,
        "uploader_id": m.handle,
        "uploader_url": f"https://video.example/{m.handle}",
        "upload_date": m.date,
        "webpage_url": f"https://video.example/watch?v={vid}",
        "duration": round(m.duration),
        "language": m.language,
        "ext": m.ext,
    }
    text = json.dumps(info, indent=2, ensure_ascii=False) + "\n"
    (VIDEOS / f"{m.name}.info.json").write_text(text, encoding="utf-8")


def truth_entry(m: Media, **override: object) -> dict[str, object]:
    subs: list[dict[str, str]] = []
    if m.subs in ("subrip", "mov_text"):
        subs = [{"kind": "embedded", "file_or_codec": m.subs, "language": "en"}]
    elif m.subs:
        sidecar = f"{m.name}.{m.subs}"
        subs = [{"kind": "sidecar", "file_or_codec": sidecar, "language": "en"}]
    utts: list[dict[str, object]] = []
    for u, (s, e) in zip(m.utts, m.times, strict=True):
        d = {"start_s": s, "end_s": e, "text": u.text, "kind": u.kind, "line": u.line}
        if m.language != "en":
            d["text_en"] = u.text_en
        utts.append(d)
    entry: dict[str, object] = {
        "file": f"videos/{m.name}.{m.ext}",
        "kind": m.kind,
        "campaign": m.campaign,
        "language": m.language,
        "voice": m.voice,
        "channel": m.channel,
        "duplicate_of": None,
        "expect_failed": False,
        "subtitles": subs,
        "utterances": utts,
    }
    return entry | override


def derived(src: Media, spec: tuple[str, ...], title: str) -> Media:
    """A Media for a re-upload/broken copy of src, posted by another account."""
    name, ext, _, channel, handle, date = spec
    new = {"name": name, "ext": ext, "channel": channel, "handle": handle}
    return replace(src, **new, date=date, title=title, subs=None)


def main() -> None:
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not on PATH (apt-get install espeak-ng ffmpeg)")
    shutil.rmtree(VIDEOS, ignore_errors=True)
    VIDEOS.mkdir(parents=True)
    truth: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for m in MEDIA:
            encode(m, synth(m, tmp), tmp)
            if not 8 <= m.duration <= 25:
                raise SystemExit(f"{m.name}: {m.duration:.2f} s is outside 8-25 s")
            default = f"{m.title}. Thanks for stopping by!"
            write_info(m, DESCRIPTIONS.get(m.campaign or "", default))
            truth.append(truth_entry(m))
        by_name = {m.name: m for m in MEDIA}

        # Re-upload: the same recording re-encoded (160x90, opus in mkv) elsewhere.
        src = by_name[REUPLOAD[2]]
        dup = derived(src, REUPLOAD, "REUPLOAD: " + src.title)
        args = [
            "-i",
            str(VIDEOS / f"{src.name}.{src.ext}"),
            "-map",
            "0:v",
            "-map",
            "0:a",
        ]
        args += ["-vf", "scale=160:90", "-c:v", "libx264", "-crf", "34"]
        args += ["-pix_fmt", "yuv420p", "-c:a", "libopus", "-b:a", "20k"]
        args += ["-ar", "16000", "-ac", "1", "-threads", "1", "-map_metadata", "-1"]
        ffmpeg(*args, *BITEXACT, str(VIDEOS / f"{dup.name}.{dup.ext}"))
        write_info(dup, "Reposted. Share before it gets deleted!")
        original = f"videos/{src.name}.{src.ext}"
        truth.append(truth_entry(dup, kind="reupload", duplicate_of=original))

        # Broken: the first 2 KB of a real mp4 whose moov atom is at the end, so
        # no demuxer finds one ("moov atom not found"): an interrupted download.
        src = by_name[BROKEN[2]]
        bad = derived(src, BROKEN, "Valley clip (short)")
        full = tmp / "full.mp4"
        src_file = str(VIDEOS / f"{src.name}.{src.ext}")
        ffmpeg(
            "-i", src_file, "-c", "copy", "-map_metadata", "-1", *BITEXACT, str(full)
        )
        (VIDEOS / f"{bad.name}.{bad.ext}").write_bytes(full.read_bytes()[:2048])
        write_info(bad, "clip")
        broken = {"kind": "broken", "campaign": None, "voice": None, "utterances": []}
        truth.append(truth_entry(bad, **broken, expect_failed=True))

    doc = json.dumps({"scripts": SCRIPTS, "media": truth}, indent=2, ensure_ascii=False)
    (HERE / "truth.json").write_text(doc + "\n", encoding="utf-8")
    print(f"wrote {len(truth)} media under {VIDEOS}")


if __name__ == "__main__":
    main()
