"""Server-side rendering: one Jinja2 environment (autoescaped), the page helper, and SVG charts
drawn on the server (no chart library, nothing fetched by the browser but our own files)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from attendance.adapters.web.routes import BY_NAME
from attendance.core.domain.access import Principal
from attendance.core.domain.model import Role

TEMPLATES = Path(__file__).parent / "templates"

NOTICES = {
    "approved": "Approved.",
    "rejected": "Rejected.",
    "requested": "Your request was sent to your manager.",
    "saved": "Settings saved.",
    "replayed": "The delivery was queued again.",
    "revoked": "The token was revoked.",
    "signed-out": "You are signed out.",
    "erased": "The face data was erased. Attendance records stay.",
    "time-off-asked": "Your request was sent to your manager; you are told in chat.",
    "time-off-recorded": "The time off was recorded (approved) and sent to payroll.",
    "schedule-saved": "The schedule was saved.",
    "deactivated": "Deactivated: face data erased, history kept.",
    "reactivated": "Active again. They enroll their face again to use selfies.",
}


def hm(delta: timedelta | None) -> str:
    if not delta:
        return "0:00"
    total = int(delta.total_seconds() // 60)
    return f"{total // 60}:{total % 60:02d}"


def minutes_text(minutes: int) -> str:
    """45 min, 1 h 05 min."""
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def local(at: datetime | None, tz: str, fmt: str = "%H:%M") -> str:
    return at.astimezone(ZoneInfo(tz)).strftime(fmt) if at else ""


def bar_chart(title: str, points: Sequence[tuple[str, float]], unit: str, *, chart_id: str) -> Markup:
    """An accessible SVG bar chart: labelled for screen readers, with the numbers in a table too."""
    width, height, pad = 640, 200, 28
    top = max((v for _, v in points), default=0) or 1
    n = max(len(points), 1)
    step = (width - 2 * pad) / n
    bars = []
    for i, (label, value) in enumerate(points):
        h = (height - 2 * pad) * value / top
        x, y = pad + i * step + step * 0.15, height - pad - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(label)}: {value:g} {escape(unit)}</title></rect>"
        )
        if n <= 16 or i % max(n // 10, 1) == 0:
            bars.append(
                f'<text x="{pad + i * step + step / 2:.1f}" y="{height - 8}" class="tick">{escape(label)}</text>'
            )
    rows = "".join(f"<tr><th scope='row'>{escape(label)}</th><td>{value:g}</td></tr>" for label, value in points)
    svg = (
        f'<figure class="chart" id="{chart_id}"><figcaption>{escape(title)}</figcaption>'
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart_id}-t">'
        f'<title id="{chart_id}-t">{escape(title)} (max {top:g} {escape(unit)})</title>'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" class="axis"/>'
        f"{''.join(bars)}</svg>"
        f'<details><summary>Numbers</summary><table><thead><tr><th scope="col">When</th>'
        f'<th scope="col">{escape(unit)}</th></tr></thead><tbody>{rows}</tbody></table></details>'
        "</figure>"
    )
    return Markup(svg)  # noqa: S704  (every value above is escaped or a number we formatted)


def nav(principal: Principal | None) -> list[tuple[str, str]]:
    if principal is None or principal.kind.value == "device":
        return []
    links = []
    for name, label, href in (
        ("today_page", "Today", "/today"),
        ("timesheets_page", "Timesheets", "/timesheets"),
        ("review_page", "Review", "/review"),
        ("corrections_page", "Requests", "/corrections"),
        ("settings_page", "Settings", "/settings"),
        ("integrations_page", "Integrations", "/integrations"),
        ("access_page", "Access", "/access"),
        ("audit_page", "Audit log", "/audit"),
    ):
        allow = BY_NAME[name].allow
        if isinstance(allow, frozenset) and principal.roles & allow:
            links.append((label, href))
    if principal.employee_id:
        mine = ("My attendance", f"/people/{principal.employee_id}")
        links.insert(1 if links and links[0][0] == "Today" else 0, mine)
    links.append(("API", "/api"))
    return links


class Renderer:
    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(hm=hm, local=local, bar_chart=bar_chart, Role=Role, minutes_text=minutes_text)

    def page(self, request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
        from attendance.adapters.web.app import PRINCIPAL

        principal = request.get(PRINCIPAL)
        notice = NOTICES.get(request.query.get("notice", ""))
        static = request.app.router["static"]
        given_csrf = context.pop("csrf", "")
        html = self.env.get_template(template).render(
            principal=principal,
            nav=nav(principal),
            path=request.path,
            notice=notice,
            csrf=principal.csrf if principal and principal.csrf else given_csrf,
            static=lambda name: static.url_for(filename=name),
            **context,
        )
        return web.Response(text=html, content_type="text/html", status=status)

    def fragment(self, template: str, **context: Any) -> web.Response:
        html = self.env.get_template(template).render(**context)

        return web.Response(text=html, content_type="text/html")

    def error(self, request: web.Request, status: int, message: str) -> web.Response:
        titles = {400: "That did not work", 403: "Not for your role", 404: "Not found"}
        return self.page(request, "error.html", status=status, title=titles.get(status, "Error"), message=message)
