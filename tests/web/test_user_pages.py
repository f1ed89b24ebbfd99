"""The account admin pages (issue 13): list in scope with search, create with errors next to
the fields, edit, reset (a one-time password shown once, to be changed at the next sign-in),
and the change history in the reader's words."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.fixtures.city import City

NEW = "Kiln-harbour-4821"


def _login(app: object, username: str, password: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
    page = c.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = c.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
    )
    assert r.status_code == 303, r.text
    return c


def _csrf(page: str) -> str:
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_district_admin_lists_only_its_people_and_searches(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    c = web_as("d_heping")
    page = c.get("/users")
    assert page.status_code == 200
    assert 'data-user="off_hp1"' in page.text and 'data-user="off_sh1"' not in page.text
    assert 'data-user="admin"' not in page.text
    found = c.get("/users", params={"q": "st_"}).text
    assert 'data-user="st_heping"' in found and 'data-user="off_hp1"' not in found
    assert web_as("st_heping").get("/users").status_code == 403
    assert web_as("off_hp1").get("/users").status_code == 403
    assert c.get(f"/users/{city.users['off_sh1']}").status_code == 404


def test_create_form_shows_errors_next_to_fields_and_keeps_input(
    app: object, web_as: Callable[[str], TestClient], city: City
) -> None:
    c = web_as("d_heping")
    form = c.get("/users/new")
    assert form.status_code == 200
    assert 'value="city_admin"' not in form.text  # a district admin cannot give that role
    data = {
        "csrf_token": _csrf(form.text),
        "username": "new_off",
        "display_name": "新网格员",
        "role": "officer",
        "org_unit_id": str(city.units["station_heping"]),
        "phone": "13800000000",
        "password": "1qaz2wsx3edc",
    }
    weak = c.post("/users/new", data=data)
    assert weak.status_code == 422
    assert 'data-testid="error-password"' in weak.text and "常见" in weak.text
    assert 'value="新网格员"' in weak.text  # what was typed is kept
    ok = c.post("/users/new", data={**data, "password": NEW})
    assert ok.status_code == 303
    assert "账号已创建" in c.get(ok.headers["location"]).text
    _login(app, "new_off", NEW)  # the new account signs in


def test_edit_and_history_in_the_readers_words(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    c = web_as("admin")
    url = f"/users/{city.users['off_hp2']}"
    page = c.get(url)
    r = c.post(
        url,
        data={
            "csrf_token": _csrf(page.text),
            "display_name": "王五",
            "phone": "13900000000",
            "role": "officer",
            "org_unit_id": str(city.units["station_heping"]),
        },
    )
    assert r.status_code == 303
    shown = c.get(url).text
    assert "修改账号" in shown and "王五" in shown and "13900000000" in shown


def test_reset_shows_a_one_time_password_that_must_be_changed_at_sign_in(
    app: object, web_as: Callable[[str], TestClient], city: City
) -> None:
    victim = web_as("off_hp1")
    c = web_as("d_heping")
    url = f"/users/{city.users['off_hp1']}"
    r = c.post(f"{url}/reset-password", data={"csrf_token": _csrf(c.get(url).text)})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    once = r.text.split('data-testid="one-time-password">', 1)[1].split("<", 1)[0]
    assert len(once) >= 12
    assert victim.get("/sites").status_code == 303  # its session ended
    user = _login(app, "off_hp1", once)
    blocked = user.get("/sites")
    assert blocked.status_code == 303 and blocked.headers["location"] == "/account/password"
    form = user.get("/account/password")
    assert 'data-testid="forced"' in form.text
    token = _csrf(form.text)
    differ = user.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": once,
            "new_password": NEW,
            "new_password2": NEW + "x",
        },
    )
    assert differ.status_code == 422 and 'data-testid="error-new_password2"' in differ.text
    done = user.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": once,
            "new_password": NEW,
            "new_password2": NEW,
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/login"
    again = _login(app, "off_hp1", NEW)
    assert again.get("/sites").status_code == 200
    assert "重置密码" in c.get(url).text  # in the account's change history


def test_users_pages_fit_a_phone_table(web_as: Callable[[str], TestClient], city: City) -> None:
    page = web_as("admin").get("/users").text
    assert '<div class="table-wrap"><table class="table stack"' in page
    assert 'data-label="用户名"' in page


def _create(c: TestClient, city: City, username: str, role: str, unit: str | None) -> int:
    form = c.get("/users/new")
    r = c.post(
        "/users/new",
        data={
            "csrf_token": _csrf(form.text),
            "username": username,
            "display_name": username,
            "role": role,
            "org_unit_id": str(city.units[unit]) if unit else "",
            "phone": "",
            "password": NEW,
        },
    )
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def test_assign_to_a_grid_group_respects_the_group_size_rules(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    d = web_as("d_heping")
    uid = _create(d, city, "off_hp3", "officer", "station_heping")
    page = d.get(f"/users/{uid}").text
    assert "尚未加入任何网格分组" in page and "E-HP · E-HP 组" in page
    joined = d.post(
        f"/users/{uid}/grid-group",
        data={"csrf_token": _csrf(page), "group": f"{city.grids['E-HP']}:{_group(d, city, uid)}"},
    )
    assert joined.status_code == 303
    after = d.get(f"/users/{uid}").text
    assert "网格分组已保存" in after and 'data-testid="join-group"' not in after
    # An inspector group has exactly two people: a third is refused, and the page says why.
    a = web_as("admin")
    insp = _create(a, city, "insp_hp3", "inspector", None)
    page = a.get(f"/users/{insp}").text
    group = page.split(f'value="{city.grids["I-HP"]}:', 1)[1].split('"', 1)[0]
    refused = a.post(
        f"/users/{insp}/grid-group",
        data={"csrf_token": _csrf(page), "group": f"{city.grids['I-HP']}:{group}"},
    )
    assert refused.status_code == 303
    assert "每组须为 2 人" in a.get(f"/users/{insp}").text


def _group(c: TestClient, city: City, uid: int) -> str:
    page = c.get(f"/users/{uid}").text
    return page.split(f'value="{city.grids["E-HP"]}:', 1)[1].split('"', 1)[0]
