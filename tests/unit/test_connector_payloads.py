"""What the connectors send and how they read answers: the Workday SOAP request and faults
(hostile XML included), the ADP punch, and the day summary row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree as ET

from attendance.adapters.payroll.adp import punch_body
from attendance.adapters.payroll.workday import WD, WSSE, fault_of, time_clock_request
from attendance.core.domain.checkins import DaySummary
from attendance.core.domain.deliveries import Delivery
from attendance.core.domain.model import Employee, Tenant
from attendance.core.domain.webhooks import Subscription
from attendance.services.day_summaries import last_finished_day, summary_row

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
PAYLOAD: dict[str, object] = {
    "type": "attendance.check_in.accepted",
    "event_id": "ev1",
    "direction": "in",
    "employee": {"id": "e1", "email": "jane@example.com", "worker_id": "W21"},
    "at_utc": "2026-12-02T08:02:00+00:00",
    "at_local": "2026-12-02T09:02:00+01:00",
    "timezone": "Europe/Berlin",
}


def _sub(kind: str, config: dict[str, str]) -> Subscription:
    return Subscription(
        id="s1",
        tenant_id="t1",
        url="https://example.com/x",
        events=frozenset(),
        secrets=(),
        created_at=NOW,
        kind=kind,
        config=config,
    )


def _delivery(payload: dict[str, object]) -> Delivery:
    return Delivery(
        id="m:s1",
        tenant_id="t1",
        subscription_id="s1",
        employee_id="e1",
        msg_id="m",
        type=str(payload["type"]),
        payload=payload,
        created_at=NOW,
    )


def test_the_workday_request_carries_the_required_fields_and_the_user() -> None:
    sub = _sub("workday", {"check_in_type": "CLOCK_IN", "check_out_type": "CLOCK_OUT"})
    root = ET.fromstring(time_clock_request(sub, _delivery(PAYLOAD), "isu_attendance", "pw&<x>"))
    data = root.find(f".//{{{WD}}}Time_Clock_Event_Data")
    assert data is not None
    assert data.findtext(f"{{{WD}}}Time_Clock_Event_ID") == "ev1"
    assert data.findtext(f"{{{WD}}}Worker_Reference/{{{WD}}}ID[@{{{WD}}}type='Employee_ID']") == "W21"
    assert data.findtext(f"{{{WD}}}Event_Date_Time") == "2026-12-02T09:02:00+01:00"
    assert data.findtext(f"{{{WD}}}Time_Clock_Event_Type_Reference/{{{WD}}}ID") == "CLOCK_IN"
    assert data.findtext(f"{{{WD}}}Time_Zone_Reference/{{{WD}}}ID") == "Europe/Berlin"
    assert root.findtext(f".//{{{WSSE}}}Username") == "isu_attendance"
    assert root.findtext(f".//{{{WSSE}}}Password") == "pw&<x>"  # escaped, not broken


def test_a_check_out_uses_the_check_out_type_and_oauth_sends_no_password() -> None:
    sub = _sub("workday", {"check_in_type": "CLOCK_IN", "check_out_type": "CLOCK_OUT"})
    out = {**PAYLOAD, "type": "attendance.check_out.accepted", "direction": "out"}
    root = ET.fromstring(time_clock_request(sub, _delivery(out), None, None))
    assert root.findtext(f".//{{{WD}}}Time_Clock_Event_Type_Reference/{{{WD}}}ID") == "CLOCK_OUT"
    assert root.find(f".//{{{WSSE}}}Security") is None


def test_a_workday_validation_fault_is_read_with_its_details() -> None:
    xml = (
        '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wd="urn:com.workday/bsvc">'
        "<env:Body><env:Fault><faultcode>SOAP-ENV:Client.validationError</faultcode>"
        "<faultstring>Validation error occurred.</faultstring><detail><wd:Validation_Fault><wd:Validation_Error>"
        "<wd:Message>Invalid ID value. 'W9' is not a valid ID value</wd:Message></wd:Validation_Error>"
        "</wd:Validation_Fault></detail></env:Fault></env:Body></env:Envelope>"
    )
    assert fault_of(xml) == (
        "SOAP-ENV:Client.validationError",
        "Validation error occurred.; Invalid ID value. 'W9' is not a valid ID value",
    )


def test_hostile_or_broken_xml_is_not_a_fault_and_does_not_expand() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><env:Fault>'
        "<faultcode>x</faultcode><faultstring>&lol2;</faultstring></env:Fault></env:Body>"
        "</env:Envelope>"
    )
    external = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><env:Fault>'
        "<faultcode>x</faultcode><faultstring>&e;</faultstring></env:Fault></env:Body>"
        "</env:Envelope>"
    )
    assert fault_of(bomb) is None
    assert fault_of(external) is None
    assert fault_of("<html>502 Bad Gateway</html") is None
    assert fault_of("") is None
    assert fault_of("<ok/>") is None


def test_the_adp_punch_names_the_associate_the_code_and_the_local_time() -> None:
    body = punch_body(_sub("adp", {"in_code": "PUNCH_IN"}), _delivery(PAYLOAD))
    data = body["events"][0]["data"]
    assert data["eventContext"] == {"associateOID": "W21"}
    assert data["transform"]["dataCollectionEntry"] == {
        "entryID": "ev1",
        "entryCode": "PUNCH_IN",
        "entryDateTime": "2026-12-02T09:02:00+01:00",
        "timeZone": "Europe/Berlin",
    }
    out = punch_body(_sub("adp", {}), _delivery({**PAYLOAD, "direction": "out"}))
    assert out["events"][0]["data"]["transform"]["dataCollectionEntry"]["entryCode"] == "OUT"


def test_a_day_summary_row_has_utc_and_local_times_and_a_stable_id() -> None:
    tenant = Tenant(id="t1", name="Acme", timezone="Europe/Berlin")
    person = Employee(id="e1", tenant_id="t1", name="Jane", email="jane@example.com", worker_id="W21")
    first_in = datetime(2026, 12, 1, 8, 5, tzinfo=UTC)
    day = DaySummary(
        employee_id="e1",
        day=date(2026, 12, 1),
        timezone="Europe/Berlin",
        first_in=first_in,
        last_out=None,
        worked=timedelta(hours=3, minutes=30, seconds=59),
        breaks=(timedelta(minutes=31),),
        late_by=timedelta(minutes=5),
        missing_check_out=True,
        events=1,
    )
    row = summary_row(tenant, person, day, NOW)
    again = summary_row(tenant, person, day, NOW + timedelta(hours=1))
    assert row.id == again.id == "summary:t1:e1:2026-12-01:attendance.day.summary"
    p = row.payload
    assert isinstance(p, dict)
    assert p["first_in_utc"] == "2026-12-01T08:05:00+00:00"
    assert p["first_in_local"] == "2026-12-01T09:05:00+01:00"
    assert p["last_out_utc"] is None
    assert (p["worked_minutes"], p["break_minutes"], p["late_minutes"]) == (210, [31], 5)
    assert p["missing_check_out"] is True
    assert p["employee"] == {"id": "e1", "email": "jane@example.com", "name": "Jane", "worker_id": "W21"}
    assert row.occurred_at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # local midnight


def test_a_day_is_finished_after_local_midnight_and_a_settling_pause() -> None:
    tenant = Tenant(id="t1", name="Acme", timezone="Europe/Berlin")
    assert last_finished_day(tenant, datetime(2026, 12, 1, 23, 5, tzinfo=UTC)) == date(2026, 11, 30)
    assert last_finished_day(tenant, datetime(2026, 12, 1, 23, 15, tzinfo=UTC)) == date(2026, 12, 1)
