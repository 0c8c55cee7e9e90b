"""Property-based API testing: schemathesis against the app's own OpenAPI schema.

Requests go in-process through the ASGI transport; every operation gets a bounded number of
generated examples and no response may be a server error (5xx).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from spinemets.web import Settings, create_app
from spinemets.web._app import prepare_database


def _app(directory: Path) -> object:
    app = create_app(Settings(database_url=f"sqlite:///{directory / 'schemathesis.sqlite3'}",
                              environment="test", secret_key="s" * 40, demo=True,
                              auto_migrate=False))
    prepare_database(app.state.spinemets)  # once, not on every request's lifespan
    return app


# A module-level schema (schemathesis.pytest.from_fixture does not work with this pytest);
# the directory is removed when the interpreter exits.
_TMP = tempfile.TemporaryDirectory(prefix="spinemets-schemathesis-")
schema = schemathesis.openapi.from_asgi("/openapi.json", _app(Path(_TMP.name)))


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_never_returns_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
