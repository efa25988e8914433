"""Desk pages of alerts (预警): the alert list, one alert, rules and their editor, sensitive
words, and the manual alert form."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from yuqing.alerts import config, delivery, outbox, service
from yuqing.alerts.models import Alert, AlertRule, SensitiveCategory
from yuqing.alerts.rules import Rule
from yuqing.alerts.schemas import RuleIn, RuleParams
from yuqing.auth.deps import SignedIn, require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep
from yuqing.notify import service as notify
from yuqing.notify.service import STATE_LABELS as DELIVERY_LABELS
from yuqing.notify.service import DeliveryView, describe
from yuqing.org import service as org
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import error_page, render
from yuqing.schemes.models import Scheme
from yuqing.sources.models import Source

router = APIRouter()
CanRead = Annotated[Principal, Depends(require("mentions.read"))]
CanManage = Annotated[Principal, Depends(require("alerts.manage"))]
PAGE_SIZE = 30

LABELS = {
    "kinds": config.KIND_LABELS,
    "levels": config.LEVEL_LABELS,
    "states": {**config.STATE_LABELS, "dropped": "规则已删除，未发送"},
    "deliveries": DELIVERY_LABELS,
    "hit_modes": config.HIT_MODE_LABELS,
    "sensitivities": config.SENSITIVITY_LABELS,
    "baselines": config.BASELINE_LABELS,
    "recipient_kinds": config.RECIPIENT_KINDS,
}


def _rule_or_404(rule_id: int, session: SessionDep) -> AlertRule:
    rule = service.get_rule(session, rule_id=rule_id)
    if rule is None:
        raise HTTPException(404, f"没有 ID 为 {rule_id} 的预警规则")
    return rule


CurrentRule = Annotated[AlertRule, Depends(_rule_or_404)]


# --- alerts ------------------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(
    request: Request,
    session: SessionDep,
    viewer: CanRead,
    page: int = 1,
    rule_id: int | None = None,
) -> HTMLResponse:
    page = max(page, 1)
    total, alerts = service.list_alerts(
        session, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE, rule_id=rule_id
    )
    return render(
        request,
        "alerts/list.html",
        {
            "nav": "alerts",
            "alerts": alerts,
            "explanations": {a.id: service.explanation_of(a) for a in alerts},
            "deliveries": _deliveries(session, alerts, viewer),
            "page": page,
            "pages": total.pages(PAGE_SIZE),
            "total": total,
            "params": {"rule_id": rule_id},
            "rule": service.get_rule(session, rule_id=rule_id) if rule_id else None,
            "labels": LABELS,
        },
    )


def _deliveries(
    session: Session, alerts: list[Alert], viewer: Principal
) -> dict[int, list[DeliveryView]]:
    """Each alert's deliveries, named by channel (its name), address or account."""
    carriers = {a.id: a.delivered_with for a in alerts if a.delivered_with}
    found = outbox.list_deliveries(session, alert_ids=list(set(carriers.values())))
    shown = {
        aid: describe(session, rows=found.get(carrier, [])) for aid, carrier in carriers.items()
    }
    if viewer.can("alerts.manage"):
        return shown
    # Addresses and accounts (and errors quoting them) name people of every unit: managers
    # only; a group channel's name and every row's state are for every reader.
    return {aid: [_without_people(row) for row in rows] for aid, rows in shown.items()}


def _without_people(row: DeliveryView) -> DeliveryView:
    if not row.personal:
        return replace(row, last_error=None)
    return replace(row, to="", last_error=None)


@router.get("/alerts/rules", response_class=HTMLResponse, include_in_schema=False)
def rules_page(request: Request, session: SessionDep, _: CanManage) -> HTMLResponse:
    # Rules name their recipients (people and units of every unit): managers only.
    rules = service.list_rules(session)
    return render(
        request,
        "alerts/rules.html",
        {
            "nav": "alerts",
            "rules": rules,
            "snapshots": {r.id: _snapshot(r) for r in rules},
            "names": _recipient_names(session),
            "labels": LABELS,
            "notice": request.query_params.get("notice"),
        },
    )


def _snapshot(rule: AlertRule) -> Rule | None:
    try:
        return Rule.of(rule)
    except ValueError:
        return None


@router.get("/alerts/words", response_class=HTMLResponse, include_in_schema=False)
def words_page(request: Request, session: SessionDep, _: CanRead) -> HTMLResponse:
    categories = service.ensure_categories(session)
    session.commit()
    return render(
        request,
        "alerts/words.html",
        {"nav": "alerts", "categories": categories, "saved": request.query_params.get("saved")},
    )


@router.post("/alerts/words/{category_id}", include_in_schema=False)
async def save_words(
    request: Request,
    category_id: int,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
) -> Response:
    category = session.get(SensitiveCategory, category_id)
    if category is None:
        raise HTTPException(404, f"没有 ID 为 {category_id} 的敏感词类别")
    form = await request.form()
    words = str(form.get("words") or "").replace("，", "\n").replace(",", "\n").split("\n")
    service.update_category(
        session,
        category=category,
        name=str(form.get("name") or ""),
        words=words,
        actor=principal.actor,
    )
    session.commit()
    return RedirectResponse(f"/alerts/words?saved={category.id}", status_code=303)


@router.get("/alerts/raise", response_class=HTMLResponse, include_in_schema=False)
def raise_page(
    request: Request,
    session: SessionDep,
    _: CanRead,
    mention_id: int | None = None,
    event_id: int | None = None,
) -> HTMLResponse:
    return _raise_form(request, session, mention_id=mention_id, event_id=event_id)


def _raise_form(
    request: Request,
    session: Session,
    *,
    mention_id: int | None,
    event_id: int | None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "alerts/raise.html",
        {
            "nav": "alerts",
            "mention_id": mention_id,
            "event_id": event_id,
            "rules": service.list_manual_rules(session),
            "already": service.list_alerts_for_mention(session, mention_id=mention_id)
            if mention_id
            else [],
            "error": error,
            "labels": LABELS,
        },
        status_code=status_code,
    )


@router.post("/alerts/raise", include_in_schema=False)
async def raise_alert(
    request: Request, session: SessionDep, principal: CanRead, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    mention_id = _int(form.get("mention_id"))
    event_id = _int(form.get("event_id"))
    rule = service.get_rule(session, rule_id=_int(form.get("rule_id")) or 0)
    try:
        if rule is None:
            raise delivery.ManualAlertError("请选择发送给谁（人工预警规则）")
        alert = delivery.raise_manual(
            session,
            rule=rule,
            mention_id=mention_id,
            event_id=event_id,
            note=str(form.get("note") or "")[:500],
            level=str(form.get("level") or "warning"),
            actor=principal.actor,
        )
    except delivery.ManualAlertError as error:
        session.rollback()
        return _raise_form(
            request,
            session,
            mention_id=mention_id,
            event_id=event_id,
            error=str(error),
            status_code=422,
        )
    session.commit()
    return RedirectResponse(f"/alerts/{alert.id}", status_code=303)


def _int(value: Any) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


# --- rule editor -------------------------------------------------------------------------


def _choices(session: Session) -> dict[str, Any]:
    return {
        "schemes": list(session.scalars(select(Scheme).order_by(Scheme.id))),
        "sources": list(session.scalars(select(Source).order_by(Source.id))),
        "categories": service.ensure_categories(session),
        "recipients": _recipient_names(session),
    }


def _recipient_names(session: Session) -> dict[str, dict[int, str]]:
    return {
        "channel": {c.id: c.name for c in notify.list_channels(session)},
        "unit": org.list_unit_names(session),
        "role": org.list_duty_role_names(session),
        "person": org.list_active_person_names(session),
    }


def empty_recipients(principal: Principal | None) -> dict[str, tuple[str, str, str]]:
    """What an empty recipient list says: (what is missing, the link's words, where to add
    it); without the permission to add, whom to ask instead of a link."""

    def hint(missing: str, permission: str, href: str) -> tuple[str, str, str]:
        if principal is not None and principal.can(permission):
            return (f"{missing}，", "去添加", href)
        return (f"{missing}，", "请联系系统管理员或宣传部添加。", "")

    return {
        "person": hint("还没有人员", "org.manage", "/org/people/new"),
        "unit": hint("还没有单位", "org.manage", "/org"),
        "role": hint("还没有职责角色", "org.manage", "/org/settings"),
        "channel": hint("还没有通知渠道", "notify.manage", "/notify/channels"),
    }


def _editor(
    request: Request,
    session: Session,
    *,
    rule: AlertRule | None,
    form: RuleIn | dict[str, Any],
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    values = form.model_dump() if isinstance(form, RuleIn) else form
    picked = {f"{r['kind']}:{r['id']}" for r in values.get("recipients", [])}
    return render(
        request,
        "alerts/edit.html",
        {
            "nav": "alerts",
            "rule": rule,
            "form": values,
            "picked": picked,
            "errors": errors or [],
            "labels": LABELS,
            "empty_recipients": empty_recipients(getattr(request.state, "principal", None)),
            **_choices(session),
        },
        status_code=status_code,
    )


@router.get("/alerts/rules/new", response_class=HTMLResponse, include_in_schema=False)
def new_rule_page(
    request: Request, session: SessionDep, _: CanManage, kind: str = "scheme_hit"
) -> HTMLResponse:
    kind = kind if kind in config.KIND_LABELS else "scheme_hit"
    start = RuleIn(name=config.KIND_LABELS[kind], kind=kind)
    return _editor(request, session, rule=None, form=start)


@router.get("/alerts/rules/{rule_id}/edit", response_class=HTMLResponse, include_in_schema=False)
def edit_rule_page(
    request: Request, session: SessionDep, _: CanManage, rule: CurrentRule
) -> HTMLResponse:
    return _editor(request, session, rule=rule, form=service.rule_in_of(rule))


def rule_in_from_form(form: Any) -> tuple[RuleIn | None, dict[str, Any], list[str]]:
    """The rule a submitted editor form describes, the raw values to show again, and the
    problems in Chinese."""
    recipients = []
    for value in form.getlist("recipient"):
        kind, _, ident = str(value).partition(":")
        if kind in config.RECIPIENT_KINDS and ident.isdigit():
            recipients.append({"kind": kind, "id": int(ident)})
    params = {
        "scheme_ids": [int(v) for v in form.getlist("scheme_ids") if str(v).isdigit()],
        "categories": [str(v) for v in form.getlist("categories")],
        "source_ids": [int(v) for v in form.getlist("source_ids") if str(v).isdigit()],
        "scheme_id": _int(form.get("scheme_id")),
    }
    for name in ("hit_mode", "target", "baseline", "sensitivity"):
        if form.get(name):
            params[name] = str(form.get(name))
    for name in ("min_risk", "window_minutes", "min_count"):
        if str(form.get(name) or "").strip():
            params[name] = str(form.get(name)).strip()
    if str(form.get("threshold_percent") or "").strip():
        try:
            params["threshold"] = float(str(form.get("threshold_percent"))) / 100
        except ValueError:
            params["threshold"] = -1
    raw: dict[str, Any] = {
        "name": str(form.get("name") or ""),
        "kind": str(form.get("kind") or ""),
        "enabled": form.get("enabled") == "1",
        "level": str(form.get("level") or "warning"),
        "params": params,
        "recipients": recipients,
        "quiet_start": str(form.get("quiet_start") or ""),
        "quiet_end": str(form.get("quiet_end") or ""),
        "quiet_weekends": form.get("quiet_weekends") == "1",
        "urgent_risk": str(form.get("urgent_risk") or "").strip() or None,
        "batch_minutes": str(form.get("batch_minutes") or "0").strip() or "0",
        "cooldown_minutes": str(form.get("cooldown_minutes") or "0").strip() or "0",
        "max_per_hour": str(form.get("max_per_hour") or "30").strip() or "30",
    }
    try:
        return RuleIn.model_validate(raw), raw, []
    except ValidationError as error:
        return None, _shown(raw), [_problem(p) for p in error.errors()]


_FIELD_NAMES = {
    "name": "规则名称",
    "level": "级别",
    "urgent_risk": "紧急风险分",
    "batch_minutes": "汇总间隔（分钟）",
    "cooldown_minutes": "冷却时间（分钟）",
    "max_per_hour": "每小时上限",
    "min_risk": "风险分阈值",
    "window_minutes": "统计时段（分钟）",
    "threshold": "负面占比阈值",
    "min_count": "最少条数",
}


def _problem(problem: Any) -> str:
    message = str(problem["msg"]).removeprefix("Value error, ")
    where = [str(part) for part in problem.get("loc", ())]
    field = next((_FIELD_NAMES[p] for p in reversed(where) if p in _FIELD_NAMES), None)
    if field and not message.endswith("。"):
        return f"“{field}”填写有误，请检查数值范围。"
    return message


def _shown(raw: dict[str, Any]) -> dict[str, Any]:
    """Raw form values merged over defaults, so a refused form shows what was typed."""
    params = RuleParams().model_dump()
    params.update({k: v for k, v in raw["params"].items() if v is not None})
    return {**raw, "params": params}


async def _save(
    request: Request, session: Session, rule: AlertRule | None, principal: Principal
) -> Response:
    form = await request.form()
    rule_in, raw, errors = rule_in_from_form(form)
    if rule_in is None:
        return _editor(request, session, rule=rule, form=raw, errors=errors, status_code=422)
    if rule is None:
        rule = service.create_rule(session, rule_in=rule_in, actor=principal.actor)
        notice = f"已新建预警规则“{rule.name}”"
    else:
        service.update_rule(session, rule=rule, rule_in=rule_in, actor=principal.actor)
        notice = f"已保存预警规则“{rule.name}”"
    # The form lists the default word categories without storing them; until someone opened
    # 敏感词, a fresh desk's 敏感词 rule had no words to find. Store them with the rule.
    service.ensure_categories(session)
    session.commit()
    return RedirectResponse(_notice_url(notice), status_code=303)


def _notice_url(notice: str) -> str:
    from urllib.parse import urlencode

    return f"/alerts/rules?{urlencode({'notice': notice})}"


@router.post("/alerts/rules", include_in_schema=False)
async def create_rule(
    request: Request, session: SessionDep, principal: CanManage, _csrf: CsrfChecked
) -> Response:
    return await _save(request, session, None, principal)


@router.post("/alerts/rules/{rule_id}", include_in_schema=False)
async def update_rule(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
    rule: CurrentRule,
) -> Response:
    return await _save(request, session, rule, principal)


@router.post("/alerts/rules/{rule_id}/delete", include_in_schema=False)
def delete_rule(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
    rule: CurrentRule,
) -> Response:
    name = rule.name
    service.delete_rule(session, rule=rule, actor=principal.actor)
    session.commit()
    return RedirectResponse(_notice_url(f"已删除预警规则“{name}”"), status_code=303)


# --- the desk's alert toasts ---------------------------------------------------------------


@router.get("/alerts/toast", include_in_schema=False)
def alert_toast(
    session: SessionDep,
    principal: SignedIn,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> JSONResponse:
    """The signed-in account's new alerts in its inbox after the cursor ``after``, polled by
    static/js/alert-toast.js (which toasts them with a sound when the account turned it on)."""
    last, rows = outbox.list_new_in_inbox(session, user_id=principal.user_id, after=after)
    alerts = [
        {
            "id": row.id,
            "title": row.title,
            "level": row.level,
            "level_label": config.LEVEL_LABELS.get(row.level, row.level),
            "url": f"/inbox/{row.id}",
        }
        for row in rows
    ]
    return JSONResponse({"last": last, "alerts": alerts}, headers={"Cache-Control": "no-store"})


# --- one alert (after the fixed paths, which its pattern would shadow) --------------------


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
def alert_page(
    request: Request, alert_id: int, session: SessionDep, viewer: CanRead
) -> HTMLResponse:
    alert = service.get_alert(session, alert_id=alert_id)
    if alert is None:
        return error_page(
            request,
            status_code=404,
            title="找不到这条预警",
            message=f"编号为 {alert_id} 的预警不存在。",
        )
    return render(
        request,
        "alerts/alert.html",
        {
            "nav": "alerts",
            "alert": alert,
            "explanation": service.explanation_of(alert),
            "deliveries": _deliveries(session, [alert], viewer).get(alert.id, []),
            "labels": LABELS,
        },
    )
