"""The desk's web face against a hostile page and a careless client: every state-changing UI route
(enumerated from the app) refuses a foreign Origin and a missing or wrong CSRF token, sign-in
included; sessions live on the server and end at sign-out; every answer carries the security headers;
no Host header reaches a link; a 422 names the field the client sent; and a query without a period
reads the whole log. Over real data: SDK → real Kafka → consumer → chDB, the desk through TestClient."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.desk import create_app, new_token
from pdtrail.desk._web import origin_of
from pdtrail.infra import apply_migrations, ensure_topics
from pdtrail.producers import AuditEmitter
from pdtrail.queries import LocalQueries
from pdtrail.simulate import simulate_company
from pdtrail.store import connect
from tests.conftest import pipeline_settings
from tests.integration.helpers import sign_in

ORIGIN = "http://testserver"
HYPOTHESIS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


@dataclass
class Web:
    settings: Settings
    app: Any
    tokens: dict[str, str]
    subject: str

    def client(self, **kwargs: Any) -> TestClient:
        return TestClient(self.app, **kwargs)

    def bearer(self, role: str = "dpo") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module")
def web(kafka_broker: Any, store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    tokens, entries = {}, []
    for role, identity in (("dpo", "dpo-anna"), ("auditor", "auditor-bo"), ("read_only", "clerk-cy")):
        token, entry = new_token(identity, role)
        tokens[role] = token
        entries.append(entry.model_dump())
    settings_ = pipeline_settings(
        kafka_broker.bootstrap_servers, tmp_path_factory.mktemp("web"), store_dir,
        desk={"tokens": entries, "sessions_per_identity": 3},
    )  # fmt: skip
    ensure_topics(settings_)
    client = connect(settings_)
    apply_migrations(client)
    journeys = list(simulate_company(4, seed=77))
    with AuditEmitter(settings_) as emitter:
        for _, event in journeys:
            emitter.emit(event)
        assert emitter.flush(30) == 0
    AuditConsumer(settings_, client).run(drain=True)
    app = create_app(settings_, LocalQueries(connect(settings_, create_database=False)))
    with TestClient(app):  # runs the lifespan once; the clients below share the app
        yield Web(settings_, app, tokens, journeys[0][0].personnummer)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found, "the page carries a CSRF field"
    return found.group(1)


def _signed_in(web: Web, role: str = "dpo") -> tuple[TestClient, str]:
    http = web.client()
    sign_in(http, web.tokens[role])
    return http, _csrf(http.get("/").text)


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route of the app, through included routers (FastAPI keeps an included
    router as one entry that points at it) and their prefixes."""
    for route in routes:
        included = getattr(route, "include_context", None)
        if included is not None:
            yield from _routes(included.included_router.routes, prefix + included.prefix)
        elif isinstance(route, APIRoute | Route):
            yield prefix + route.path, set(route.methods or ())


def _state_changing_ui_routes(app: Any) -> list[tuple[str, str]]:
    found = []
    for path, methods in _routes(app.routes):
        if not path.startswith("/api/"):
            found += [(method, path) for method in sorted(methods - {"GET", "HEAD", "OPTIONS"})]
    return found


def test_the_ui_routes_that_change_state_are_found_in_the_app(web: Web) -> None:
    routes = _state_changing_ui_routes(web.app)
    assert {("POST", "/login"), ("POST", "/logout"), ("POST", "/search")} <= set(routes)


# Origins that look like the desk's own and are not: each is tried on every route (below), not only when
# the generator happens to draw it.
LOOKALIKES = [
    "null", "http://testserver.evil", "https://testserver", "http://testserver:81", "file://", "http://evil.example",
    "http://127.0.0.1", "http://localhost", "HTTP://evil", "not a url", "http://testserver@evil.example",
    "http://evil.example#http://testserver", "http://testserver.", "http://testserver:0", "http://testserver:00",
    "http://testserver:8080", "http://[::1]", "javascript:alert(1)", "http://testserver\x00.evil",
]  # fmt: skip
FOREIGN = st.one_of(
    st.sampled_from(LOOKALIKES),
    st.builds(lambda scheme, host, port: f"{scheme}://{host}{port}", st.sampled_from(["http", "https"]),
              st.from_regex(r"[a-z0-9]{1,12}(\.[a-z]{2,5})?", fullmatch=True).filter(lambda h: h != "testserver"),
              st.sampled_from(["", ":8470", ":80", ":443"])),
)  # fmt: skip


def _form_for(csrf: str, web: Web) -> dict[str, str]:
    """A form that would change something on any of the routes: sign in, look a subject up, sign out."""
    return {"csrf": csrf, "token": web.tokens["dpo"], "identifier": web.subject, "purpose": "complaint_handling"}


def test_an_explicit_port_is_never_taken_for_the_default_one() -> None:
    # Port 0 is falsy: read as "no port" it made http://desk:0 the desk's own origin.
    assert origin_of("http://desk:80") == origin_of("http://desk") == "http://desk"
    assert origin_of("https://desk:443") == "https://desk"
    assert all(origin_of(f"http://desk:{port}") != "http://desk" for port in range(65536) if port != 80)


@pytest.mark.parametrize("origin", LOOKALIKES)
def test_every_lookalike_origin_is_refused_on_every_route(web: Web, origin: str) -> None:
    _refused_everywhere(web, origin, "origin")


@HYPOTHESIS
@given(origin=FOREIGN, through=st.sampled_from(["origin", "referer", "none"]))
def test_every_state_changing_ui_request_from_elsewhere_is_refused(web: Web, origin: str, through: str) -> None:
    _refused_everywhere(web, origin, through)


def _refused_everywhere(web: Web, origin: str, through: str) -> None:
    for method, path in _state_changing_ui_routes(web.app):
        http, csrf = _signed_in(web)
        if path == "/login":
            csrf = _csrf(http.get("/login").text)
        headers = {"origin": {"Origin": origin}, "referer": {"Referer": f"{origin}/"}, "none": {}}[through]
        answer = http.request(method, path, data=_form_for(csrf, web), headers=headers, follow_redirects=False)
        assert answer.status_code == 403, (method, path, origin, answer.status_code)
        assert "set-cookie" not in answer.headers or "pdtrail_desk=" not in answer.headers["set-cookie"]
        assert http.get("/", follow_redirects=False).status_code == 200  # the session was not ended from outside


@HYPOTHESIS
@given(token=st.one_of(st.none(), st.text(max_size=60)))
def test_every_state_changing_ui_request_without_its_csrf_token_is_refused(web: Web, token: str | None) -> None:
    for method, path in _state_changing_ui_routes(web.app):
        http, csrf = _signed_in(web)
        if path == "/login":
            http = web.client()  # login CSRF: a fresh browser, no session yet
            csrf = _csrf(http.get("/login").text)
        if token == csrf:
            continue
        form = _form_for(csrf, web)
        form.pop("csrf") if token is None else form.update(csrf=token)
        answer = http.request(method, path, data=form, headers={"Origin": ORIGIN}, follow_redirects=False)
        assert answer.status_code == 403, (method, path, answer.status_code)
        assert "pdtrail_desk=" not in answer.headers.get("set-cookie", "")
        if path != "/login":
            assert http.get("/", follow_redirects=False).status_code == 200


def test_a_foreign_page_cannot_sign_a_browser_in_under_its_own_token(web: Web) -> None:
    attacker = web.client()
    their_form_token = _csrf(attacker.get("/login").text)  # the attacker's own sign-in form
    victim = web.client()  # has never loaded the form, so holds no sign-in cookie
    answer = victim.post("/login", data={"token": web.tokens["dpo"], "csrf": their_form_token},
                         headers={"Origin": ORIGIN}, follow_redirects=False)  # fmt: skip
    assert answer.status_code == 403 and "pdtrail_desk=" not in answer.headers.get("set-cookie", "")


def test_sessions_live_on_the_server_end_at_sign_out_and_are_bounded_per_identity(web: Web) -> None:
    http, csrf = _signed_in(web)
    cookie = http.cookies.get("pdtrail_desk")
    assert cookie and web.tokens["dpo"] not in cookie and cookie not in web.tokens.values()
    stolen = web.client(cookies={"pdtrail_desk": cookie})
    assert stolen.get("/", follow_redirects=False).status_code == 200
    out = http.post("/logout", data={"csrf": csrf}, headers={"Origin": ORIGIN}, follow_redirects=False)
    assert out.status_code == 303
    assert stolen.get("/", follow_redirects=False).headers.get("location") == "/login"  # revoked, not just deleted
    # At most sessions_per_identity (3) per identity: the oldest of that identity ends, no one else's.
    auditor, _ = _signed_in(web, "auditor")
    first, _ = _signed_in(web)
    later = [_signed_in(web)[0] for _ in range(3)]
    assert first.get("/", follow_redirects=False).status_code == 303
    assert all(c.get("/", follow_redirects=False).status_code == 200 for c in later)
    assert auditor.get("/", follow_redirects=False).status_code == 200
    # The bearer token in the cookie, as before, is no session.
    assert web.client(cookies={"pdtrail_desk": web.tokens["dpo"]}).get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("base_url", "behind_proxy", "secure"),
    [("http://testserver", False, False), ("https://testserver", False, True), ("http://testserver", True, True)],
)
def test_the_session_cookie_is_secure_when_served_over_tls(
    web: Web, base_url: str, behind_proxy: bool, secure: bool
) -> None:
    settings_ = web.settings.model_copy(
        update={"desk": web.settings.desk.model_copy(update={"behind_tls_proxy": behind_proxy})}
    )
    app = create_app(settings_, LocalQueries(connect(settings_, create_database=False)))
    http = TestClient(app, base_url=base_url)
    form = http.get("/login")
    origin = base_url if not behind_proxy else "https://testserver"
    # The browser speaks HTTPS to the proxy and sends its Secure cookie back; the test client here talks
    # to the desk itself, so it is handed the cookie as the browser would.
    login_cookie = form.cookies.get("pdtrail_desk_login") or ""
    answer = http.post("/login", data={"token": web.tokens["dpo"], "csrf": _csrf(form.text)},
                       headers={"Origin": origin, "Cookie": f"pdtrail_desk_login={login_cookie}"},
                       follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("pdtrail_desk="))
    assert "httponly" in session.lower() and "samesite=strict" in session.lower()
    assert ("secure" in session.lower().split("; ")) is secure
    assert ("strict-transport-security" in answer.headers) is secure


def _get_routes(app: Any, reference: str) -> list[str]:
    paths = []
    for found, methods in _routes(app.routes):
        if "GET" in methods:
            path = found.replace("{reference}", reference).replace("{actor_id}", "emp-1001")
            path = path.replace("{view}", "timeline").replace("{tab}", "timeline").replace("{kind}", "access")
            paths.append(path.replace("{fmt}", "json"))
    return paths


def test_every_answer_carries_the_security_headers(web: Web) -> None:
    http, csrf = _signed_in(web)
    reference = http.post("/search", data={"csrf": csrf, "identifier": web.subject}, headers={"Origin": ORIGIN},
                          follow_redirects=False).headers["location"].split("/")[2]  # fmt: skip
    api_ref = web.client().post("/api/v1/subjects", json={"identifier": web.subject}, headers=web.bearer()).json()
    answers = [http.get(p, headers=web.bearer(), follow_redirects=False) for p in _get_routes(web.app, reference)]
    answers += [web.client().get(p.replace(reference, api_ref["subject"]), headers=web.bearer())
                for p in _get_routes(web.app, reference) if p.startswith("/api/v1/subjects")]  # fmt: skip
    answers += [
        http.get("/static/desk.css"), http.get("/no/such/page"), web.client().get("/api/v1/whoami"),
        web.client().delete("/api/v1/whoami", headers=web.bearer()),
        web.client().get("/api/v1/subjects/x/timeline?limit=abc", headers=web.bearer()),
        web.client().post("/search", data={}, headers={"Origin": "http://evil"}),
    ]  # fmt: skip
    assert len(answers) > 20
    for answer in answers:
        missing = [h for h in HEADERS if h not in answer.headers]
        assert not missing, (answer.request.url.path, answer.status_code, missing)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["x-content-type-options"] == "nosniff"


HOSTS = st.one_of(
    st.sampled_from(["evil.example", "evil.example:8470", "127.0.0.1:1", "[::1]:80", "a" * 200, "x@y", "testserver"]),
    st.from_regex(r"[a-z0-9.-]{1,40}(:[0-9]{1,5})?", fullmatch=True),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(host=HOSTS)
def test_no_host_header_reaches_a_link(web: Web, host: str) -> None:
    http = web.client()
    answer = http.post("/api/v1/subjects", json={"identifier": web.subject}, headers={**web.bearer(), "Host": host})
    assert answer.status_code == 201, answer.text
    links = answer.json()["links"]
    assert links and all(link.startswith(f"/api/v1/subjects/{answer.json()['subject']}/") for link in links.values())
    page = http.get(f"{links['timeline']}?limit=1", headers={**web.bearer(), "Host": host}).json()
    assert page["next"] is None or page["next"].startswith("/api/v1/subjects/")
    assert "://" not in answer.text  # no absolute URL at all, so none from the Host header


def test_with_a_base_url_links_are_absolute_under_it(web: Web) -> None:
    settings_ = web.settings.model_copy(
        update={"desk": web.settings.desk.model_copy(update={"base_url": "https://desk.example.se"})}
    )
    with TestClient(create_app(settings_, LocalQueries(connect(settings_, create_database=False)))) as http:
        answer = http.post("/api/v1/subjects", json={"identifier": web.subject},
                           headers={**web.bearer(), "Host": "evil.example"})  # fmt: skip
        links = answer.json()["links"]
        assert all(link.startswith("https://desk.example.se/api/v1/subjects/") for link in links.values())
        # Its forms accept that origin alone, whatever Host the request names.
        form = http.get("/login")
        token = _csrf(form.text)
        for origin, status in (("http://testserver", 403), ("https://evil.example", 403),
                               ("https://desk.example.se", 303)):  # fmt: skip
            refused = http.post("/login", data={"token": web.tokens["dpo"], "csrf": token}, headers={"Origin": origin},
                                follow_redirects=False)  # fmt: skip
            assert refused.status_code == status, origin


def test_a_422_names_the_field_the_client_sent(web: Web) -> None:
    http = web.client()
    ref = http.post("/api/v1/subjects", json={"identifier": web.subject}, headers=web.bearer()).json()["subject"]
    base = f"/api/v1/subjects/{ref}"
    cases: list[tuple[str, str, Any, str]] = [
        ("GET", f"{base}/timeline?limit=abc", None, "limit"),
        ("GET", f"{base}/timeline?limit=0", None, "limit"),
        ("GET", f"{base}/timeline?offset=-1", None, "offset"),
        ("GET", f"{base}/timeline?since=yesterday", None, "since"),
        ("GET", f"{base}/timeline?since=2026-02-01&until=2026-01-01", None, "since"),
        ("GET", f"{base}/nonsense", None, "view"),
        ("GET", f"{base}/consent_state?at=soon", None, "at"),
        ("GET", f"{base}/reports/access?format=xml", None, "format"),
        ("GET", f"{base}/reports/access?lang=de", None, "lang"),
        ("GET", f"{base}/reports/complaint?case_reference={'x' * 101}", None, "case_reference"),
        ("GET", f"/api/v1/actors/{'e' * 201}/activity", None, "actor_id"),
        ("POST", "/api/v1/subjects", b"{not json", "body"),
        ("POST", "/api/v1/subjects", b"[]", "body"),
        ("POST", "/api/v1/subjects", b"null", "body"),
        ("POST", "/api/v1/subjects", b"{}", "identifier"),
        ("POST", "/api/v1/subjects", b'{"identifier": 5}', "identifier"),
        ("POST", "/api/v1/subjects", b'{"identifier": "x", "kind": "ssn"}', "kind"),
        ("POST", "/api/v1/subjects", b'{"identifier": "x", "purpose": "curiosity"}', "purpose"),
        ("POST", "/api/v1/subjects", b'{"identifier": "19811318-0000"}', "identifier"),
    ]
    for method, url, body, field in cases:
        headers = {**web.bearer(), "Content-Type": "application/json"}
        answer = http.request(method, url, content=body, headers=headers)
        assert answer.status_code == 422, (url, answer.status_code, answer.text)
        assert answer.json()["error"]["field"] == field, (url, body, answer.json())


def test_without_a_period_the_whole_log_is_read_however_far_its_times_lie(web: Web) -> None:
    """Rows stored with times far outside any window a DPO would type (say, from a producer that predates
    the SDK's time bounds) are still in the answer of a query without a period."""
    http = web.client()
    ref = http.post("/api/v1/subjects", json={"identifier": web.subject}, headers=web.bearer()).json()["subject"]
    before = http.get(f"/api/v1/subjects/{ref}/timeline?limit=1000", headers=web.bearer()).json()["items"]
    assert before
    store = connect(web.settings, create_database=False)
    key = store.query(
        "SELECT subject_key FROM events WHERE event_id = {e:UUID}", parameters={"e": before[0]["event_id"]}
    ).result_rows[0][0]
    for moment in ("1500-06-01 00:00:00", "1969-12-31 23:59:59", "2200-01-01 00:00:00", "9000-01-01 00:00:00"):
        store.command(
            "INSERT INTO events SELECT * REPLACE (toDateTime64({m:String}, 6, 'UTC') AS occurred_at, "
            "generateUUIDv4() AS event_id) FROM events WHERE subject_key = {k:String} LIMIT 1",
            parameters={"m": moment, "k": key},
        )
    after = http.get(f"/api/v1/subjects/{ref}/timeline?limit=1000", headers=web.bearer()).json()["items"]
    years = sorted(int(item["occurred_at"][:4]) for item in after)
    assert len(after) == len(before) + 4, years[:2] + years[-4:]
    assert years[0] == 1500 and 1969 in years and 2200 in years and years[-1] == 9000


def test_opening_a_case_is_recorded_for_every_role_read_only_included(web: Web) -> None:
    """Opening a case shows that the subject is known: it is a lookup, recorded as one, whoever opens it."""
    http = web.client()
    opened = http.post("/api/v1/subjects", json={"identifier": web.subject}, headers=web.bearer("read_only"))
    assert opened.status_code == 201
    AuditConsumer(web.settings, connect(web.settings)).run(drain=True)
    ref = http.post("/api/v1/subjects", json={"identifier": web.subject}, headers=web.bearer()).json()["subject"]
    rows = http.get(f"/api/v1/subjects/{ref}/who_accessed?limit=1000", headers=web.bearer()).json()["items"]
    recorded = [r for r in rows if r["actor_id"] == "clerk-cy"]
    assert recorded and all(r["resource"] == "audit_log/subject_lookup" for r in recorded)
    assert all(r["purpose"] == "dpo.complaint_handling" for r in recorded)
