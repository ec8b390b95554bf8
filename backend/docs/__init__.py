"""The API documentation pages: Swagger UI at /api/docs and ReDoc at /api/redoc, served
from the vendored files under `backend/static/vendor/` (nothing from the internet)."""
