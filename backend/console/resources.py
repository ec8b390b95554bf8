from flask import Blueprint

from backend.web import guards

blp = guards.install(Blueprint("console", __name__, url_prefix="/console"))
blueprints = [blp]
