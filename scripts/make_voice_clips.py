#!/usr/bin/env python3
"""Generate the hall display's voice clips (语音播报片段) with espeak-ng and sox.

The clips are committed under services/engine/static/voice/, so nobody needs
espeak-ng to run or test jiaohao; run this only to regenerate them:

    apt-get install espeak-ng sox
    python scripts/make_voice_clips.py

The display page joins clips into a call: chime 请 A 零 二 三 号 到 三 号 窗口 办理.
A hall replaces any clip with its own recording of the same name (docs/bus.md).
Output: 16 kHz mono 16-bit PCM WAV, leading and trailing silence trimmed.
"""

from __future__ import annotations

import argparse
import math
import shutil
import struct
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "services" / "engine" / "static" / "voice"
VOICE = "cmn-latn-pinyin"  # Mandarin; Latin letters are read as pinyin
RATE = 16000

# clip name -> what espeak-ng says (hanzi, or pinyin for the English letter names
# as they are said in Chinese halls: A ei, B bi, ... W da bu liu).
WORDS = {
    "qing": "请",
    "hao": "号",
    "dao": "到",
    "chuangkou": "窗口",
    "banli": "办理",
    "shi": "十",
}
DIGITS = dict(zip("0123456789", "零一二三四五六七八九", strict=True))
LETTERS = {
    "A": "ei1",
    "B": "bi4",
    "C": "xi1",
    "D": "di4",
    "E": "yi4",
    "F": "ai2 fu1",
    "G": "ji4",
    "H": "ai2 qi1",
    "I": "ai4",
    "J": "jie4",
    "K": "kai4",
    "L": "ai2 lou1",
    "M": "ai2 mu3",
    "N": "en1",
    "O": "ou1",
    "P": "pi4",
    "Q": "qiu1",
    "R": "a1 er3",
    "S": "ai2 si1",
    "T": "ti4",
    "U": "you1",
    "V": "wei1",
    "W": "da2 bu5 liu1",
    "X": "ai2 ke4 si1",
    "Y": "wai4",
    "Z": "zei4",
}


def clips() -> dict[str, str]:
    return {**WORDS, **DIGITS, **LETTERS}


def speak(text: str, target: Path, speed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            ["espeak-ng", "-v", VOICE, "-s", str(speed), "-w", str(raw), text], check=True
        )
        # Resample, trim silence at both ends, leave a short gap for joining.
        subprocess.run(
            [
                "sox",
                str(raw),
                "-r",
                str(RATE),
                "-c",
                "1",
                "-b",
                "16",
                str(target),
                "gain",
                "-n",
                "-2",
                "silence",
                "1",
                "0.02",
                "0.5%",
                "reverse",
                "silence",
                "1",
                "0.02",
                "0.5%",
                "reverse",
                "pad",
                "0.02",
                "0.06",
            ],
            check=True,
        )


def chime(target: Path) -> None:
    """叮咚: two soft bell tones, made here so no sample is needed."""
    frames = bytearray()
    for freq, length in ((1318.5, 0.42), (1046.5, 0.62)):
        n = int(RATE * length)
        for i in range(n):
            t = i / RATE
            envelope = math.exp(-4.5 * t) * min(1.0, i / (0.005 * RATE))
            sample = envelope * (
                0.8 * math.sin(2 * math.pi * freq * t) + 0.2 * math.sin(4 * math.pi * freq * t)
            )
            frames += struct.pack("<h", int(sample * 0.45 * 32767))
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--speed", type=int, default=165, help="espeak-ng words per minute")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        print(f"needs {' and '.join(missing)} (apt-get install espeak-ng sox)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in clips().items():
        speak(text, args.out / f"{name}.wav", args.speed)
    chime(args.out / "chime.wav")
    total = sum(p.stat().st_size for p in args.out.glob("*.wav"))
    print(f"{len(clips()) + 1} clips in {args.out} ({total // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
