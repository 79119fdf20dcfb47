"""Code tables for the provincial 好差评 platform (GB/T 39046-2020 rating record). Pure.

The engine's own channels and five levels are mapped to the platform's codes by a
preset or the hall's own table. The standard's annex was not at hand: the national
preset numbers the channels in the order GB/T 39046 lists them (PC端 1 ... 短信 7)
and the satisfaction codes 1 = 非常满意 ... 5 = 非常不满意 as the standard gives
them. A hall whose platform differs picks another preset or gives its own table.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The engine's rating channels (evaluations.channel) in the hall's words.
CHANNELS = {
    "gateway": "政务大厅平板电脑 (评价器)",
    "kiosk": "政务大厅其他终端 (自助机)",
    "qr": "二维码 (排队进度页)",
    "partner": "移动服务端 (小程序)",
    "sms": "短信/微信链接",
    "phone": "电话",
    "system_default": "系统默认评价",
    "admin": "管理端录入",
}


class CodeTable(BaseModel):
    """Channel and satisfaction codes of one platform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    # engine channel -> the platform's 评价渠道 code; a channel without a code is not
    # exported (e.g. system-default ratings on a platform that has no code for them).
    channels: dict[str, str]
    # engine level (5 非常满意 ... 1 非常不满意) -> the platform's 满意度代码.
    satisfaction: dict[int, str] = Field(min_length=5, max_length=5)

    @model_validator(mode="after")
    def _levels(self) -> CodeTable:
        if set(self.satisfaction) != {1, 2, 3, 4, 5}:
            raise ValueError("satisfaction maps each level 1-5 to a code")
        unknown = set(self.channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channels {sorted(unknown)}; known: {sorted(CHANNELS)}")
        return self


PRESETS: dict[str, CodeTable] = {
    # GB/T 39046-2020: PC端 1, 移动服务端 2, 二维码 3, 政务大厅平板电脑 4,
    # 政务大厅其他终端 5, 电话 6, 短信 7; 满意度 1 非常满意 ... 5 非常不满意.
    "national": CodeTable(
        name="national",
        channels={
            "partner": "2",
            "qr": "3",
            "gateway": "4",
            "kiosk": "5",
            "admin": "5",
            "phone": "6",
            "sms": "7",
        },
        satisfaction={5: "1", 4: "2", 3: "3", 2: "4", 1: "5"},
    ),
    # A provincial platform numbering satisfaction the other way (1 非常不满意 ...
    # 5 非常满意) and with a code for 系统默认评价.
    "provincial_reverse": CodeTable(
        name="provincial_reverse",
        channels={
            "partner": "2",
            "qr": "3",
            "gateway": "4",
            "kiosk": "5",
            "admin": "5",
            "phone": "6",
            "sms": "7",
            "system_default": "9",
        },
        satisfaction={1: "1", 2: "2", 3: "3", 4: "4", 5: "5"},
    ),
}


def table_for(preset: str, own: CodeTable | None = None) -> CodeTable:
    """The hall's own table when it has one, else the named preset."""
    if own is not None:
        return own
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    return PRESETS[preset]
