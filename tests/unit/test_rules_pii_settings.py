"""Rating rules (好差评), personal-data helpers and the engine's settings."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.engine.config import Settings
from services.engine.core.errors import RatingNeedsReason, ValidationFailed
from services.engine.core.pii import (
    keyed_hash,
    mask_name,
    normalise_id_number,
    normalise_phone,
    tail,
)
from services.engine.evaluations.rules import LEVELS, check_rating, is_bad

# --- ratings ---------------------------------------------------------------------


def test_five_national_levels() -> None:
    assert LEVELS == {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
    assert [level for level in range(1, 6) if is_bad(level)] == [1, 2]


@pytest.mark.parametrize("level", [3, 4, 5])
def test_good_ratings_need_nothing(level: int) -> None:
    check_rating(level, [], None)
    check_rating(level, ["服务热情"], "很好")


@pytest.mark.parametrize("level", [1, 2])
@pytest.mark.parametrize(
    ("reasons", "comment"),
    [([], None), ([], ""), ([""], "   "), (["  ", "\t"], None), ([], "\n")],
)
def test_bad_rating_without_reason_refused(
    level: int, reasons: list[str], comment: str | None
) -> None:
    with pytest.raises(RatingNeedsReason) as caught:
        check_rating(level, reasons, comment)
    assert caught.value.status == 422 and caught.value.code == "rating_needs_reason"


@pytest.mark.parametrize("level", [1, 2])
@pytest.mark.parametrize(("reasons", "comment"), [(["等候时间长"], None), ([], "窗口人员态度差")])
def test_bad_rating_with_reason_or_comment(
    level: int, reasons: list[str], comment: str | None
) -> None:
    check_rating(level, reasons, comment)


@pytest.mark.parametrize("level", [0, 6, -1, 100])
def test_level_out_of_range_refused(level: int) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_rating(level, ["x"], "x")
    assert caught.value.status == 422 and caught.value.code == "validation_error"


# --- personal data ---------------------------------------------------------------

ID = "11010519491231002X"


def test_keyed_hash_is_stable_and_is_an_hmac() -> None:
    first = keyed_hash("key-one", "id", ID)
    assert first == keyed_hash("key-one", "id", ID)
    assert len(first) == 64 and int(first, 16) >= 0
    expected = hmac.new(b"key-one", f"id:{ID}".encode(), hashlib.sha256).hexdigest()
    assert first == expected
    # Not a bare hash of the number: without the key nobody can match it.
    assert first != hashlib.sha256(ID.encode()).hexdigest()


def test_keyed_hash_depends_on_key_kind_and_value() -> None:
    base = keyed_hash("key-one", "id", ID)
    assert keyed_hash("key-two", "id", ID) != base
    assert keyed_hash("key-one", "phone", ID) != base
    assert keyed_hash("key-one", "id", "110105194912310021") != base


@pytest.mark.parametrize(
    "raw",
    [ID, ID.lower(), f" {ID} ", "110105 19491231 002x", "１１０１０５１９４９１２３１００２ｘ"],
)
def test_id_numbers_normalise_to_one_form(raw: str) -> None:
    assert normalise_id_number(raw) == ID
    assert keyed_hash("k", "id", normalise_id_number(raw)) == keyed_hash("k", "id", ID)


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+86-13800138000",
        "8613800138000",
        "0086 138 0013 8000",
        "（+86）１３８００１３８０００",  # typed with a full-width input method
    ],
)
def test_phone_numbers_normalise_to_one_form(raw: str) -> None:
    assert normalise_phone(raw) == "13800138000"


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("010-6512 3456", "01065123456"),  # a Beijing landline keeps its area code
        ("0571-8888888", "05718888888"),
        ("12345", "12345"),
        ("86123", "86123"),  # too short to carry a country code
        ("", ""),
    ],
)
def test_other_phone_numbers_keep_their_digits(raw: str, digits: str) -> None:
    assert normalise_phone(raw) == digits


def test_tail() -> None:
    assert tail("13800138000") == "8000"
    assert tail(ID, 6) == "31002X"
    assert tail("12") == "12"
    assert tail("") == ""


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张*丰"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧**娜"),
        ("王", "王"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked
    if len(name) >= 2:
        assert name[1] not in masked or name[1] == name[0]  # the given name is hidden


# --- settings ------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ENVIRONMENT", "SECRET_KEY", "PII_KEY", "KEY_DIR", "DATABASE_URL"):
        monkeypatch.delenv(f"JIAOHAO_{name}", raising=False)
    # Away from the checkout: no var/ keys of a `make run`, no .env file.
    monkeypatch.chdir(tmp_path)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_no_key_has_a_default_not_even_in_development(clean_env: None) -> None:
    with pytest.raises(ValidationError, match=r"JIAOHAO_SECRET_KEY.*jiaohao keys"):
        settings()
    with pytest.raises(ValidationError, match="JIAOHAO_PII_KEY"):
        settings(secret_key="a-real-secret-0123456789")


@pytest.mark.parametrize("environment", ["development", "test", "production"])
@pytest.mark.parametrize(
    ("secret_key", "pii_key", "named"),
    [
        (None, None, "JIAOHAO_SECRET_KEY"),
        (None, "a-real-pii-key-0123456789", "JIAOHAO_SECRET_KEY"),
        ("a-real-secret-0123456789", None, "JIAOHAO_PII_KEY"),
        ("short", "a-real-pii-key-0123456789", "JIAOHAO_SECRET_KEY"),
        ("a-real-secret-0123456789", "short-pii-key", "JIAOHAO_PII_KEY"),
    ],
)
def test_missing_or_short_secrets_refused_in_every_environment(
    clean_env: None, environment: str, secret_key: str | None, pii_key: str | None, named: str
) -> None:
    values: dict[str, object] = {"environment": environment}
    if secret_key is not None:
        values["secret_key"] = secret_key
    if pii_key is not None:
        values["pii_key"] = pii_key
    with pytest.raises(ValidationError, match=named):
        settings(**values)


def test_real_secrets_accepted_in_production(clean_env: None) -> None:
    prod = settings(
        environment="production",
        secret_key="a-real-secret-0123456789",
        pii_key="a-real-pii-key-0123456789",
    )
    assert prod.environment == "production"


def test_settings_read_the_environment(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIAOHAO_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="JIAOHAO_SECRET_KEY"):
        settings()
    monkeypatch.setenv("JIAOHAO_SECRET_KEY", "from-the-environment-123")
    monkeypatch.setenv("JIAOHAO_PII_KEY", "pii-from-the-environment-123")
    monkeypatch.setenv("JIAOHAO_DATABASE_URL", "postgresql+asyncpg://db/jiaohao")
    prod = settings()
    assert prod.secret_key == "from-the-environment-123" and not prod.is_sqlite


def test_unknown_environment_refused(clean_env: None) -> None:
    with pytest.raises(ValidationError):
        settings(environment="staging")
