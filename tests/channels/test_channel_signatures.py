"""Webhook signatures: Facebook's HMAC-SHA256 and Zalo's plain SHA-256 "mac", on the raw body."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.channels import facebook, zalo
from tests.channels.conftest import DATA

BODY = (DATA / "facebook_text.json").read_bytes()
ZALO_BODY = (DATA / "zalo_user_send_text.json").read_bytes()
ZALO_TS = "1763776800123"  # the body's "timestamp" field


def test_facebook_signature_is_hmac_sha256_of_the_raw_body() -> None:
    expected = "sha256=" + hmac.new(b"secret", BODY, hashlib.sha256).hexdigest()
    assert facebook.sign("secret", BODY) == expected
    assert facebook.verify_signature("secret", BODY, expected)


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        ("other-secret", BODY, None),  # signed with another app's secret
        ("secret", BODY.replace(b"xin chao", b"xin chaO"), None),  # one byte changed
        ("secret", BODY + b" ", None),  # re-serialised / trailing byte
        ("secret", BODY, ""),  # header present but empty
        ("secret", BODY, "sha1=" + hmac.new(b"secret", BODY, hashlib.sha1).hexdigest()),
        ("secret", BODY, hmac.new(b"secret", BODY, hashlib.sha256).hexdigest()),  # no prefix
        ("", BODY, "sha256=" + hmac.new(b"", BODY, hashlib.sha256).hexdigest()),  # no secret set
    ],
    ids=["wrong-secret", "tampered", "extra-byte", "empty-header", "sha1-header", "no-prefix",
         "unset-secret"],
)
def test_facebook_signature_refuses(secret: str, body: bytes, header: str | None) -> None:
    if header is None:
        header = facebook.sign("secret", BODY)
    assert not facebook.verify_signature(secret, body, header)


def test_facebook_signature_missing_header() -> None:
    assert not facebook.verify_signature("secret", BODY, None)


def test_zalo_signature_is_sha256_of_app_id_body_timestamp_secret() -> None:
    digest = hashlib.sha256(b"1234567890" + ZALO_BODY + ZALO_TS.encode() + b"oa-key").hexdigest()
    assert zalo.sign("1234567890", ZALO_BODY, ZALO_TS, "oa-key") == f"mac={digest}"
    assert zalo.verify_signature("1234567890", "oa-key", ZALO_BODY, ZALO_TS, f"mac={digest}")
    # Not an HMAC: the keyed construction must not verify.
    keyed = hmac.new(b"oa-key", b"1234567890" + ZALO_BODY + ZALO_TS.encode(),
                     hashlib.sha256).hexdigest()
    assert not zalo.verify_signature("1234567890", "oa-key", ZALO_BODY, ZALO_TS, f"mac={keyed}")


@pytest.mark.parametrize(
    ("app_id", "key", "body", "timestamp"),
    [
        ("9999999999", "oa-key", ZALO_BODY, ZALO_TS),  # another app
        ("1234567890", "app-secret", ZALO_BODY, ZALO_TS),  # app secret instead of OA secret
        ("1234567890", "oa-key", ZALO_BODY.replace(b"xin chao", b"xin chaO"), ZALO_TS),
        ("1234567890", "oa-key", ZALO_BODY, "1763776800124"),  # other timestamp
        ("1234567890", "oa-key", ZALO_BODY, None),  # no timestamp in the body
        ("1234567890", "", ZALO_BODY, ZALO_TS),  # secret not configured
    ],
    ids=["app-id", "app-secret", "tampered", "timestamp", "no-timestamp", "unset-secret"],
)
def test_zalo_signature_refuses(app_id: str, key: str, body: bytes, timestamp: str | None) -> None:
    header = zalo.sign("1234567890", ZALO_BODY, ZALO_TS, "oa-key")
    assert not zalo.verify_signature(app_id, key, body, timestamp, header)


def test_zalo_signature_header_forms() -> None:
    digest = zalo.sign("1234567890", ZALO_BODY, ZALO_TS, "oa-key").removeprefix("mac=")
    for header in (f"mac={digest}", f"MAC={digest.upper()}", digest, f" mac={digest} "):
        assert zalo.verify_signature("1234567890", "oa-key", ZALO_BODY, ZALO_TS, header), header
    for header in (None, "", "mac=", f"mac={digest[:-1]}"):
        assert not zalo.verify_signature("1234567890", "oa-key", ZALO_BODY, ZALO_TS, header)
