"""Web application: accessible patient pages (EN/ES), clinician workspace and JSON API.

>>> from spinemets.web import Settings, create_app
>>> app = create_app(Settings(database_url="sqlite:///:memory:"))  # doctest: +SKIP
"""

from spinemets.web._app import create_app, create_app_from_env
from spinemets.web._settings import InsecureSettingsError, Settings

__all__ = ["InsecureSettingsError", "Settings", "create_app", "create_app_from_env"]
