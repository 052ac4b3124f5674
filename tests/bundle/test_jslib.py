"""The bundle's ES5 library run in real QuickJS: crypto against Python, signatures, status policy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from tests.bundle.jsrun import JsLib

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "webhooks.json").read_text())
NOW = 1_700_000_000_000  # ms


@pytest.fixture(scope="module")
def js() -> JsLib:
    return JsLib()


def b(data: bytes) -> list[int]:
    return list(data)


@pytest.mark.parametrize("vector", VECTORS["sha256"])
def test_sha256_vectors(js: JsLib, vector: dict) -> None:
    assert js.call("hexEncode", js.call("sha256", b(vector["text"].encode()))) == vector["hex"]


@pytest.mark.parametrize("n", [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000])
def test_sha256_block_boundaries(js: JsLib, n: int) -> None:
    data = bytes((i * 7 + 3) % 256 for i in range(n))
    assert bytes(js.call("sha256", b(data))) == hashlib.sha256(data).digest()


@settings(max_examples=60, deadline=None)
@given(key=st.binary(max_size=150), msg=st.binary(max_size=300))
def test_hmac_matches_python(js: JsLib, key: bytes, msg: bytes) -> None:
    assert bytes(js.call("hmacSha256", b(key), b(msg))) == hmac.new(key, msg, hashlib.sha256).digest()


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=100))
def test_base64_round_trip_matches_python(js: JsLib, data: bytes) -> None:
    text = js.call("base64Encode", b(data))
    assert text == base64.b64encode(data).decode()
    assert bytes(js.call("base64Decode", text)) == data


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=80))
def test_utf8_matches_python(js: JsLib, text: str) -> None:
    assert bytes(js.call("utf8Encode", text)) == text.encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace").encode("utf-8")


def test_base64_decode_rejects_bad_input(js: JsLib) -> None:
    with pytest.raises(Exception, match="base64"):
        js.call("base64Decode", "ab$d")
    with pytest.raises(Exception, match="base64"):
        js.call("base64Decode", "abcde")


def test_fnv1a_matches_python(js: JsLib) -> None:
    def fnv(text: str) -> int:
        h = 0x811C9DC5
        for ch in text.encode("utf-16-le")[::2]:
            h = ((h ^ ch) * 0x01000193) & 0xFFFFFFFF
        return h

    for text in ["", "a", "hello", "msg_0123456789abcdef#3"]:
        assert js.call("fnv1a", text) == fnv(text)


@pytest.mark.parametrize("vector", VECTORS["signatures"])
def test_signature_vectors(js: JsLib, vector: dict) -> None:
    got = js.call("webhookSignature", vector["secret"], vector["id"], vector["timestamp"], vector["body"])
    assert got == vector["signature"]


@pytest.mark.parametrize("body", ['{"a":1}', '{"t":"température ☃ 🌡"}', "", "x" * 5000])
def test_headers_verify_with_standardwebhooks(js: JsLib, body: str) -> None:
    secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    endpoint = {"name": "webhook", "url": "http://x/", "secret": secret, "headers": {"X-Extra": "1"}}
    now_ms = int(datetime.now(timezone.utc).timestamp() * 1000)
    headers = js.call("webhookHeaders", endpoint, "msg_abc", now_ms, body)
    assert headers["Idempotency-Key"] == headers["webhook-id"] == "msg_abc"
    assert headers["Content-Type"] == "application/json" and headers["X-Extra"] == "1"
    Webhook(secret).verify(body.encode(), headers, json_parse=False)  # raises when wrong
    wrong = Webhook("whsec_" + base64.b64encode(bytes(32)).decode())
    with pytest.raises(Exception, match="signature"):
        wrong.verify(body.encode(), headers, json_parse=False)


def test_webhook_id_is_stable_and_prefers_hash(js: JsLib) -> None:
    ev = {"id": "e1", "path": "/c/devices/d/env", "hash": "d/env/temp@1.5"}
    same_hash_other_id = {**ev, "id": "e2"}
    assert js.call("webhookIdFor", ev) == js.call("webhookIdFor", same_hash_other_id)
    assert js.call("webhookIdFor", {"id": "e1", "path": ev["path"]}) != js.call("webhookIdFor", ev)
    assert js.call("webhookIdFor", ev).startswith("msg_")


def test_payload_describes_the_reading(js: JsLib) -> None:
    ev = {"id": "e1", "path": "/c/devices/dev1/env", "hash": "h", "generatedDate": 1_700_000_000_123,
          "creationDate": 1_700_000_001_000, "elems": {"env": {"temp": 21.5}}}
    body = json.loads(js.call("buildPayload", ev, "msg_1"))
    assert body["device"] == "dev1" and body["stream"] == "env" and body["eventId"] == "e1"
    assert body["timestamp"] == 1_700_000_000_123 and body["time"] == "2023-11-14T22:13:20.123Z"
    assert body["elems"] == {"env": {"temp": 21.5}} and body["id"] == "msg_1"


@pytest.mark.parametrize(
    "status,kind",
    [(200, "delivered"), (201, "delivered"), (204, "delivered"), (202, "pending"),
     (408, "retry"), (425, "retry"), (429, "retry"), (500, "retry"), (502, "retry"), (503, "retry"),
     (504, "retry"), (599, "retry"), (410, "gone"), (301, "failed"), (302, "failed"), (304, "failed"),
     (400, "failed"), (401, "failed"), (403, "failed"), (404, "failed"), (409, "failed"), (422, "failed"),
     (100, "failed"), (0, "failed"), (600, "failed")],
)
def test_status_policy_table(js: JsLib, status: int, kind: str) -> None:
    assert js.call("statusClass", status) == kind


def test_retry_after_seconds_and_http_dates(js: JsLib) -> None:
    when = datetime.fromtimestamp(NOW / 1000 + 120, tz=timezone.utc)
    assert js.call("parseRetryAfter", "30", NOW) == 30
    assert js.call("parseRetryAfter", format_datetime(when, usegmt=True), NOW) == 120
    assert js.call("parseRetryAfter", when.strftime("%A, %d-%b-%y %H:%M:%S GMT"), NOW) == 120  # RFC 850
    assert js.call("parseRetryAfter", when.strftime("%a %b %d %H:%M:%S %Y"), NOW) == 120  # asctime
    assert js.call("parseRetryAfter", "Thu, 01 Jan 1970 00:00:00 GMT", NOW) == 0  # past: now
    for bad in ["soon", "", "-5", "1.5", "Fri, 99 Foo 2024 00:00:00 GMT", None]:
        assert js.call("parseRetryAfter", bad, NOW) is None


def test_retry_after_is_clamped(js: JsLib) -> None:
    policy = {"retryAfterMin": 2, "retryAfterMax": 600}
    big = js.call("nextRetry", {"status": 429, "headers": {"retry-after": "99999"}}, 1, policy, "k", NOW)
    small = js.call("nextRetry", {"status": 503, "headers": {"Retry-After": "0"}}, 1, policy, "k", NOW)
    assert big == {"at": NOW + 600_000, "source": "retry-after"}
    assert small == {"at": NOW + 2_000, "source": "retry-after"}


def test_retry_schedule_has_bounded_reproducible_jitter(js: JsLib) -> None:
    schedule = [5, 30, 120, 600, 1800, 3600, 7200]
    for attempts in range(1, 12):
        base = schedule[min(attempts, len(schedule)) - 1]
        delays = {js.call("retryDelay", attempts, None, f"msg_{i}") for i in range(20)}
        assert all(base * 0.8 - 1 <= d <= base * 1.2 + 1 for d in delays)
        assert len(delays) > 1 or base < 10  # jitter spreads the retries of different messages
        assert js.call("retryDelay", attempts, None, "msg_x") == js.call("retryDelay", attempts, None, "msg_x")
    got = js.call("nextRetry", {"status": 500, "headers": {}}, 2, {"jitter": 0}, "k", NOW)
    assert got == {"at": NOW + 30_000, "source": "schedule"}


@pytest.mark.parametrize(
    "headers,content,url",
    [({"Location": "https://h/op/1"}, "", "https://h/op/1"),
     ({"operation-location": "https://h/op/2", "Location": "https://h/other"}, "", "https://h/op/2"),
     ({"LOCATION": "/status/3"}, "", "http://hook.example:8080/status/3"),
     ({}, '{"statusUrl": "http://h/s/4"}', "http://h/s/4"),
     ({}, '{"links": {"status": "/s/5"}}', "http://hook.example:8080/s/5"),
     ({}, '{"id": 5}', None), ({}, "not json", None), ({"Location": "relative/x"}, "", None)],
)
def test_status_url_of_a_202(js: JsLib, headers: dict, content: str, url: str | None) -> None:
    result = {"status": 202, "headers": headers, "content": content}
    assert js.call("statusUrlOf", result, "http://hook.example:8080/hook") == url


@pytest.mark.parametrize(
    "status,content,kind",
    [(200, '{"status": "Succeeded"}', "delivered"), (200, '{"status": "completed"}', "delivered"),
     (200, '{"state": "Failed"}', "failed"), (200, '{"status": "canceled"}', "failed"),
     (200, '{"status": "Running"}', "pending"), (200, '{"status": "NotStarted"}', "pending"),
     (200, "{}", "delivered"), (201, "", "delivered"), (204, "", "delivered"), (303, "", "delivered"),
     (202, "", "pending"), (503, "", "retry"), (429, "", "retry"), (404, "", "failed"), (410, "", "failed"),
     (400, "", "failed")],
)
def test_status_check_outcomes(js: JsLib, status: int, content: str, kind: str) -> None:
    assert js.call("checkClass", {"status": status, "headers": {}, "content": content}) == kind


def test_poll_schedule_and_retry_after_for_checks(js: JsLib) -> None:
    assert js.call("nextCheck", None, 0, None, NOW) == NOW + 5_000
    assert js.call("nextCheck", None, 99, None, NOW) == NOW + 600_000
    assert js.call("nextCheck", {"status": 202, "headers": {"Retry-After": "7"}}, 3, None, NOW) == NOW + 7_000


def test_truncate(js: JsLib) -> None:
    assert js.call("truncateText", "abc", 5) == "abc"
    assert js.call("truncateText", "x" * 10, 4) == "xxxx...[10 chars]"
    assert js.call("truncateText", None, 4) == ""
