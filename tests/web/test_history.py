"""Case history through the web pages, on SQLite and PostgreSQL: no overwrite on "new case",
409 on a stale edit (with re-apply), references, history diff, re-run, soft delete."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web import _accounts_helpers as accounts_helpers

from spinemets import storage

h = accounts_helpers


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([h.sqlite_url(tmp_path)])
    else:
        urls = h.postgres_database()
    url = next(urls)
    c = h.open_client(h.make_settings(url))
    assert h.sign_in(c, "clinician") == 303
    yield c
    c.__exit__(None, None, None)
    for _ in urls:  # drops the PostgreSQL database
        pass


def _form(client: TestClient, path: str) -> dict[str, str]:
    html = client.get(path).text
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        fields[name] = chosen.group(1) if chosen else ""
    return fields


def _stored(client: TestClient, ref: str) -> storage.CaseRecord | None:
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        return storage.get_case(session, case_ref=ref)


def test_new_case_with_existing_reference_is_refused(client: TestClient) -> None:
    before = _stored(client, "demo-003")
    assert before is not None
    form = _form(client, "/clinician/cases/new")
    response = client.post("/clinician/cases", data={**form, "id": "demo-003"})
    assert response.status_code == 409
    assert "already exists" in response.text
    after = _stored(client, "demo-003")
    assert after is not None and after.data == before.data and after.current_version == 1


def test_stale_edit_gets_409_and_can_be_reapplied(client: TestClient) -> None:
    mine = _form(client, "/clinician/cases/demo-001/edit")
    theirs = _form(client, "/clinician/cases/demo-001/edit")
    assert mine["base_version"] == "1"
    theirs["patient.age_years"] = "61"
    assert client.post("/clinician/cases", data={**theirs, "reason": "age corrected"},
                       follow_redirects=False).status_code == 303
    mine["patient.age_years"] = "62"
    stale = client.post("/clinician/cases", data=mine)
    assert stale.status_code == 409
    assert "Re-apply my edit as version 3" in stale.text
    assert "patient.age_years" in stale.text
    reapply = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                              stale.text))
    assert reapply["base_version"] == "2"
    assert client.post("/clinician/cases", data={**reapply, "action": "save"},
                       follow_redirects=False).status_code == 303
    record = _stored(client, "demo-001")
    assert record is not None and record.current_version == 3
    assert record.data["patient"]["age_years"] == 62
    history = client.get("/clinician/cases/demo-001/history", params={"a": 1, "b": 3})
    assert history.status_code == 200
    assert "age corrected" in history.text and "patient.age_years" in history.text


def test_reference_cannot_change_while_editing(client: TestClient) -> None:
    form = _form(client, "/clinician/cases/demo-002/edit")
    response = client.post("/clinician/cases", data={**form, "id": "demo-002-copy"})
    assert response.status_code == 422
    assert "cannot be changed while editing" in response.text
    assert _stored(client, "demo-002-copy") is None


@pytest.mark.parametrize("ref", ["a/b", "a?b", "a#b", "a%2Fb", "r" * 201, "a b"])
def test_unsafe_or_long_references_are_refused_by_the_form(client: TestClient,
                                                           ref: str) -> None:
    form = _form(client, "/clinician/cases/new")
    response = client.post("/clinician/cases", data={**form, "id": ref})
    assert response.status_code == 422
    assert "letters A-Z" in response.text


def test_longest_reference_saves_and_its_pages_work(client: TestClient) -> None:
    ref = "r" * 200
    form = _form(client, "/clinician/cases/new")
    response = client.post("/clinician/cases", data={**form, "id": ref},
                           follow_redirects=False)
    assert response.status_code == 303
    for suffix in ("", "/edit", "/history", "/print", "/rerun"):
        assert client.get(f"/clinician/cases/{ref}{suffix}").status_code == 200, suffix


def test_versions_record_plan_software_and_tables(client: TestClient) -> None:
    rerun = client.get("/clinician/cases/demo-001/rerun")
    assert rerun.status_code == 200 and "re-run with today" in rerun.text
    form = _form(client, "/clinician/cases/demo-001/edit")
    client.post("/clinician/cases", data=form)
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        latest = storage.case_versions(session, case_ref="demo-001")[-1]
        assert latest.plan and "recommendations" in latest.plan
        assert latest.software_version and len(latest.tables_hash) == 64
        assert latest.author == "clinician"
    page = client.get("/clinician/cases/demo-001/rerun")
    assert "tables give the same plan." in page.text


def test_soft_delete_keeps_history(client: TestClient) -> None:
    token = h.csrf(client, "/clinician/cases/demo-004")
    response = client.post("/clinician/cases/demo-004/delete",
                           data={"csrf": token, "base_version": "1", "reason": "duplicate"},
                           follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/clinician/cases/demo-004").status_code == 404
    history = client.get("/clinician/cases/demo-004/history")
    assert history.status_code == 200 and "deleted" in history.text.lower()
    assert "demo-004" not in client.get("/clinician").text.split("<table", 1)[-1]
