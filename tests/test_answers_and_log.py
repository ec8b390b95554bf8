"""What every answer and log line looks like: JSON as UTF-8 (Chinese readable), a 204
with no body and no content type, the docs pages under their own CSP, and a server
whose every line of output (the banner included) is one JSON object."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.helpers import load_catalogue, register_resident, staff_headers
from tests.served import read_until, start_served_demo


@pytest.mark.sqlite
def test_json_answers_carry_chinese_as_utf8(app, client):
    load_catalogue(client, staff_headers(app, client))
    r = client.get("/api/v1/public/scenarios")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    raw = r.get_data()
    assert "（演示）".encode() in raw
    assert b"\\u" not in raw
    titles = [s["title"] for s in json.loads(raw.decode("utf-8"))["items"]]
    assert any("园区" in t for t in titles)


@pytest.mark.sqlite
def test_problem_answers_carry_chinese_as_utf8(app):
    from backend.errors import problem

    with app.app_context():
        r = problem(409, "conflict", "园区已有此名称", errors={"name": ["重复"]})
    assert r.mimetype == "application/problem+json"
    assert "园区已有此名称".encode() in r.get_data() and b"\\u" not in r.get_data()


def test_a_lone_surrogate_stays_an_escape_in_utf8_json(app):
    value = {"ext_id": "a\ud800园", "n": 1}
    with app.app_context():
        text = app.json.dumps(value)
        r = app.json.response(value)
    assert text == '{"ext_id": "a\\ud800园", "n": 1}'
    assert json.loads(r.get_data().decode("utf-8")) == value


@pytest.mark.sqlite
def test_a_204_has_no_body_and_no_content_type(client):
    resident = register_resident(client)
    r = client.post(
        "/api/v1/auth/logout", json={"refresh_token": resident["tokens"]["refresh_token"]}
    )
    assert r.status_code == 204
    assert r.get_data() == b""
    assert "Content-Type" not in r.headers
    assert r.headers.get("Content-Length") in (None, "0")


@pytest.mark.sqlite
@pytest.mark.parametrize(("path", "worker"), [("/api/docs", False), ("/api/redoc", True)])
def test_docs_pages_are_html_with_their_own_csp_and_no_inline_script(client, path, worker):
    r = client.get(path)
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    csp = dict(
        (part.split(" ", 1) + [""])[:2] for part in r.headers["Content-Security-Policy"].split("; ")
    )
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert ("worker-src" in csp) is worker
    html = r.get_data(as_text=True)
    assert "<script>" not in html and "cdn" not in html.lower()
    for src in (s.split('"')[0] for s in html.split('src="')[1:]):
        assert src.startswith("/static/")
        assert client.get(src).status_code == 200


def test_the_server_speaks_only_json_lines(tmp_path):
    proc, lines = start_served_demo(tmp_path)
    seen: list[str] = []
    try:
        base = json.loads(read_until(lines, seen, '"url"', timeout=120))["url"]
        with urllib.request.urlopen(f"{base}/healthz") as answer:  # noqa: S310 - loopback
            assert answer.status == 200
        read_until(lines, seen, '"/healthz"', timeout=30)  # our own request line
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for line in seen:
        assert "\x1b" not in line
        record = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= set(record)
    records = [json.loads(line) for line in seen]
    assert not any(r["logger"] == "werkzeug" for r in records)
    banner = next(r for r in records if r["logger"] == "backend.serve" and "url" in r)
    assert banner["docs"] == f"{base}/api/docs" and banner["redoc"] == f"{base}/api/redoc"
    assert any(r.get("demo") and "staff login" in r["msg"] for r in records)
    assert [r["status"] for r in records if r.get("route") == "/healthz"] == [200]
