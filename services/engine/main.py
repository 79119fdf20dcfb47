"""ASGI entry point for uvicorn: ``services.engine.main:app``."""

from services.engine.app import create_app

app = create_app()
