"""The Flask extensions, created once and initialised by the app factory."""

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate

from backend.http import Api

api = Api()
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address)


def auth_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


def objection_limit() -> str:
    return current_app.config["RATELIMIT_OBJECTIONS"]


def login_name_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN_NAME"]
