"""Login limits: per client address and per login name, a lockout that grows with
repeated failures and that a correct login clears once it has passed, logout limited
too, and the client address taken from X-Forwarded-For only behind the configured
number of trusted proxies. The limits are turned on here, on apps of their own."""

from __future__ import annotations

import pytest

from tests import helpers

LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"


@pytest.fixture()
def limited_app(database_url, redis_url, clean):
    """An app counting in the real Redis, behind one trusted proxy; `configure` sets
    its limits."""
    from backend.app import create_app
    from backend.extensions import limiter

    apps = []

    def configure(**config):
        app = create_app(
            "test",
            {
                "DATABASE_URL": database_url,
                "RATELIMIT_STORAGE_URI": redis_url,
                "RATELIMIT_ENABLED": True,
                "TESTING": True,
                **config,
            },
        )
        apps.append(app)
        limiter.reset()
        return app

    yield configure
    limiter.reset()
    for app in apps:
        with app.app_context():
            from backend.db import db

            db.engine.dispose()


def _login(client, name: str, password: str, ip: str | None = None):
    headers = {"X-Forwarded-For": ip} if ip else {}
    return client.post(LOGIN, json={"login": name, "password": password}, headers=headers)


def test_login_is_limited_per_login_name_whatever_the_address(limited_app):
    app = limited_app(
        TRUSTED_PROXIES=1, RATELIMIT_AUTH="100 per minute", RATELIMIT_LOGIN_NAME="3 per minute"
    )
    c = app.test_client()
    statuses = [
        _login(c, "victim-login", "guess-1", ip=f"203.0.113.{n}").status_code for n in range(6)
    ]
    assert statuses == [401, 401, 401, 429, 429, 429]
    # another name from the same addresses is not held up
    assert _login(c, "someone-else", "guess-1", ip="203.0.113.1").status_code == 401


def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(limited_app):
    app = limited_app(TRUSTED_PROXIES=1, RATELIMIT_AUTH="2 per minute")
    c = app.test_client()
    assert [_login(c, f"n{n}", "pw-123456", ip="198.51.100.7").status_code for n in range(3)] == [
        401,
        401,
        429,
    ]
    assert _login(c, "n9", "pw-123456", ip="198.51.100.8").status_code == 401


def test_without_trusted_proxies_x_forwarded_for_is_ignored(limited_app):
    """A client cannot dodge the per-address limit by making up X-Forwarded-For."""
    app = limited_app(TRUSTED_PROXIES=0, RATELIMIT_AUTH="2 per minute")
    c = app.test_client()
    statuses = [_login(c, f"n{n}", "pw-123456", ip=f"192.0.2.{n}").status_code for n in range(4)]
    assert statuses == [401, 401, 429, 429]


def test_logout_is_limited(limited_app):
    app = limited_app(RATELIMIT_AUTH="2 per minute")
    c = app.test_client()
    statuses = [c.post(LOGOUT, json={"refresh_token": "nope"}).status_code for _ in range(3)]
    assert statuses == [204, 204, 429]


def test_lockout_grows_with_failures_and_a_correct_login_after_it_clears_it(
    app, client, monkeypatch
):
    from backend.auth import lockout

    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_AFTER", 3)
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_SECONDS", 60)
    clock = [1_000_000]
    monkeypatch.setattr(lockout, "now", lambda: clock[0])
    resident = helpers.register_resident(client)
    phone, good = resident["phone"], "resident-pass"

    assert [_login(client, phone, "wrong-pass").status_code for _ in range(3)] == [401, 401, 401]
    r = _login(client, phone, good)  # locked: even the right password is refused
    assert (r.status_code, r.get_json()["code"]) == (429, "login_locked")
    assert r.get_json()["retry_after"] == 60 and int(r.headers["Retry-After"]) > 0
    assert phone not in r.get_data(as_text=True)
    clock[0] += 30
    assert _login(client, phone, good).status_code == 429
    assert _login(client, "13000000000", "wrong-pass").status_code == 401  # other names are free

    clock[0] += 31  # the first lockout has passed; one more failure locks for longer
    assert _login(client, phone, "wrong-pass").status_code == 401
    r = _login(client, phone, good)
    assert (r.status_code, r.get_json()["retry_after"]) == (429, 120)
    clock[0] += 121
    assert _login(client, phone, good).status_code == 200  # ...and clears the count
    assert _login(client, phone, "wrong-pass").status_code == 401
    assert _login(client, phone, good).status_code == 200
