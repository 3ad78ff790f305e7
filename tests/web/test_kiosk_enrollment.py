"""Enrolling at the kiosk with a one-time code an admin issued: over real HTTP, real dlib, the real
database. The code names the person, works once and for one organisation, and wrong codes are
throttled per kiosk."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import aiohttp

from attendance.entrypoints.bootstrap import enrollment_codes
from attendance.services.kiosk_enrollment import issue_enrollment_code
from tests.web.conftest import Web


async def device(w: Web, org: Any) -> str:
    r = await w.call("POST", "/api/v1/tokens", org.tokens["admin"], json={"name": "door", "kind": "device"})
    return str((await r.json())["secret"])


def form(code: str, *photos: bytes, agree: str = "true", kind: str = "image/jpeg") -> aiohttp.FormData:
    f = aiohttp.FormData(default_to_multipart=True)
    f.add_field("code", code)
    f.add_field("agree", agree)
    for n, p in enumerate(photos):
        f.add_field("photo", io.BytesIO(p), filename=f"p{n}.jpg", content_type=kind)
    return f


async def issue(w: Web, person_id: str) -> str:
    tenant = await w.c.deps.tenants.get(w.a.id)
    assert tenant is not None
    issued = await issue_enrollment_code(
        tenant, person_id, issued_by="test", deps=w.c.chat, codes=enrollment_codes(w.c)
    )
    return issued.code


async def test_a_code_from_the_person_page_enrolls_that_person_once_with_their_consent(web: Web, photo: Any) -> None:
    w, person = web, web.a.people["employee"]
    r = await w.call("POST", f"/people/{person.id}/enrollment-code", w.a.tokens["admin"])
    page = await r.text()
    assert r.status == 200 and 'id="enrollment-code"' in page
    code = page.split('class="code">')[1].split("<")[0]
    kiosk = await device(w, w.a)

    r = await w.call("POST", "/kiosk/enroll/code", kiosk, json={"code": code.lower()})
    about = await r.json()
    assert r.status == 200 and about["first_name"] == "Acme" and about["photos"] == 3
    assert [n["title"] for n in about["notice"]][:2] == ["What is stored", "Your selfies"]

    r = await w.call("POST", "/kiosk/enroll", kiosk, data=form(code, photo("Serena_Williams/1.jpg"), agree="false"))
    assert r.status == 400 and "tick the box" in (await r.json())["error"]["message"]
    assert await w.c.deps.consents.active(w.a.id, person.id) is None  # nothing stored without agreeing

    photos = [photo(f"Serena_Williams/{n}.jpg") for n in (1, 2, 3)]
    r = await w.call("POST", "/kiosk/enroll", kiosk, data=form(code, *photos))
    done = await r.json()
    assert r.status == 200 and done["ok"] and done["enrolled"] == 3 and done["message"].startswith("You're enrolled")
    consent = await w.c.deps.consents.active(w.a.id, person.id)
    assert consent is not None and consent.method == "kiosk" and consent.recorded_by == person.id
    assert await w.c.deps.templates.count(w.a.id, person.id) == 3

    again = await w.call("POST", "/kiosk/enroll", kiosk, data=form(code, photo("Serena_Williams/4.jpg")))
    assert again.status == 400 and "not valid" in (await again.json())["error"]["message"]  # used once
    actions = [d["action"] async for d in w.c.db["audit_log"].find({"tenant_id": w.a.id, "subject": person.id})]
    assert {"enroll_code.issued", "consent.recorded", "face.enrolled", "enroll_code.used"} <= set(actions)


async def test_a_refused_photo_keeps_the_code_and_codes_stay_in_their_organisation(web: Web, photo: Any) -> None:
    w, person = web, web.a.people["manager"]
    code = await issue(w, person.id)
    r = await w.call("POST", "/kiosk/enroll/code", await device(w, w.b), json={"code": code})
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_code"  # another organisation's kiosk
    kiosk = await device(w, w.a)
    blank = photo("Serena_Williams/1.jpg")[:2000]  # a cut-off JPEG: no face to be found
    r = await w.call("POST", "/kiosk/enroll", kiosk, data=form(code, blank))
    body = await r.json()
    assert r.status == 200 and not body["ok"] and body["message"].startswith("None of your photos could be used")
    r = await w.call("POST", "/kiosk/enroll", kiosk, data=form(code, photo("Queen_Rania/1.jpg")))
    assert r.status == 200 and (await r.json())["enrolled"] == 1  # the code survived the refused try

    newer = await issue(w, person.id)
    older = await issue(w, person.id)  # a new code replaces the one before
    assert (await w.call("POST", "/kiosk/enroll/code", kiosk, json={"code": newer})).status == 400
    assert (await w.call("POST", "/kiosk/enroll/code", kiosk, json={"code": older})).status == 200
    expired = await w.c.db["enrollment_codes"].update_many(
        {}, {"$set": {"expires_at": w.c.deps.clock.now() - timedelta(seconds=1)}}
    )
    assert expired.modified_count == 1
    assert (await w.call("POST", "/kiosk/enroll/code", kiosk, json={"code": older})).status == 400


async def test_bad_forms_are_refused_clearly_and_wrong_codes_are_throttled_per_kiosk(web: Web, photo: Any) -> None:
    w = web
    kiosk = await device(w, w.a)
    code = await issue(w, w.a.people["admin"].id)
    face = photo("Serena_Williams/1.jpg")
    cases = [
        (form(code, face, face, face, face), 400, "At most 3 photos"),
        (form(code, b"hello", kind="text/plain"), 415, "image"),
        (form(code, b"\xff" * 5_300_000), 413, "5 MB"),
        (form(code), 400, "1 to 3 photos"),
    ]
    for data, status, words in cases:
        r = await w.call("POST", "/kiosk/enroll", kiosk, data=data)
        assert r.status == status and words in (await r.json())["error"]["message"], (status, await r.text())
    r = await w.call("POST", "/kiosk/enroll", kiosk, json={"code": code})
    assert r.status == 415 and "multipart" in (await r.json())["error"]["message"]
    for broken in ("multipart/form-data", "multipart/form-data; boundary=xyz"):  # no boundary; parts cut off
        r = await w.call(
            "POST",
            "/kiosk/enroll",
            kiosk,
            data=b"--xyz\r\nContent-Disposition: form-da",
            headers={"Content-Type": broken},
        )
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid", await r.text()
    r = await w.call(
        "POST", "/kiosk/enroll/code", kiosk, data=b"not json", headers={"Content-Type": "application/json"}
    )
    assert r.status == 400
    for _ in range(5):
        r = await w.call("POST", "/kiosk/enroll/code", kiosk, json={"code": "AAAA-AAAA"})
        assert r.status == 400
    r = await w.call("POST", "/kiosk/enroll/code", kiosk, json={"code": code})  # the right one, too late
    assert r.status == 429 and "Too many wrong codes" in (await r.json())["error"]["message"]
    other = await device(w, w.a)  # another kiosk is not blocked
    assert (await w.call("POST", "/kiosk/enroll/code", other, json={"code": code})).status == 200
    r = await w.call("POST", "/kiosk/enroll/code", w.a.tokens["admin"], json={"code": code})
    assert r.status == 403  # a person's token is not a kiosk
