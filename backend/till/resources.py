from flask import Blueprint

from backend.web import guards

blp = guards.install(Blueprint("till", __name__, url_prefix="/merchant"))
blueprints = [blp]
