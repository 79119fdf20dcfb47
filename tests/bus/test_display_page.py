"""The display page and its voice clips over HTTP, on both databases."""

from __future__ import annotations

import wave
from pathlib import Path

import httpx

from services.engine.display.router import VOICE, voice_clips
from tests.helpers.api import token
from tests.helpers.app import app_for, serving
from tests.helpers.halls import Hall, seed_hall


async def test_page_needs_a_token_of_the_hall(client: httpx.AsyncClient, hall: Hall, app) -> None:  # type: ignore[no-untyped-def]
    page = await client.get(f"/display/{hall.code}", params={"token": token(hall)})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<html lang="zh-CN">' in page.text and "测试大厅 · 综合屏" in page.text
    assert f'data-hall="{hall.code}"' in page.text and 'data-repeat="2"' in page.text
    assert token(hall) not in page.text  # the page reads it from its own address

    missing = await client.get(f"/display/{hall.code}")
    assert missing.status_code == 401 and missing.json()["code"] == "unauthorized"
    wrong = await client.get(f"/display/{hall.code}", params={"token": "jhd_nope"})
    assert wrong.status_code == 401
    other = await seed_hall(app, client, other_code="otherhall")
    foreign = await client.get(f"/display/{hall.code}", params={"token": token(other)})
    assert foreign.status_code == 403 and foreign.json()["code"] == "forbidden"
    nohall = await client.get("/display/nohall", params={"token": token(hall)})
    assert nohall.status_code == 404

    for name, kind in (("display.js", "javascript"), ("display.css", "css")):
        asset = await client.get(f"/display/assets/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
    assert (await client.get("/display/assets/..%2Fapp.py")).status_code == 404


def test_every_clip_the_page_needs_is_shipped() -> None:
    needed = {"chime", "qing", "hao", "dao", "chuangkou", "banli", "shi"}
    needed |= set("0123456789") | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert needed <= voice_clips()
    for clip in needed:
        with wave.open(str(VOICE / f"{clip}.wav")) as audio:
            assert (audio.getnchannels(), audio.getframerate(), audio.getsampwidth()) == (
                1,
                16000,
                2,
            )
            assert 0.1 < audio.getnframes() / 16000 < 2.0, clip


async def test_a_hall_replaces_clips_with_recordings(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "testhall").mkdir()
    (tmp_path / "qing.wav").write_bytes(b"RIFF-every-hall")
    (tmp_path / "testhall" / "qing.wav").write_bytes(b"RIFF-this-hall")
    (tmp_path / "evil.wav").write_bytes(b"RIFF-not-a-clip")
    async with serving(app_for(database_url, voice_dir=str(tmp_path))) as client:
        own = await client.get("/display/testhall/voice/qing.wav")
        shared = await client.get("/display/otherhall/voice/qing.wav")
        shipped = await client.get("/display/testhall/voice/hao.wav")
        assert own.content == b"RIFF-this-hall"
        assert shared.content == b"RIFF-every-hall"
        assert shipped.content == (VOICE / "hao.wav").read_bytes()
        assert shipped.headers["content-type"] == "audio/wav"
        for bad in ("evil", "..%2Fqing", "QING"):
            response = await client.get(f"/display/testhall/voice/{bad}.wav")
            assert response.status_code == 404, bad
        assert (await client.get("/display/Bad.Hall/voice/qing.wav")).status_code == 404
