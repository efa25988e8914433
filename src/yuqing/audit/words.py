"""The audit log in the desk's words: Chinese names of objects and fields, stored values as
people read them (local time to the minute, 是/否, names instead of ids).

The log itself keeps the stored names (``notify_channel``, ``assignee_person_id``), which
its hash chain covers; only the page translates them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth.models import Role
from yuqing.cases import config as cases_config
from yuqing.cases.models import Grade
from yuqing.core.timeutil import format_local
from yuqing.org.models import Person, Unit, UnitKind

OBJECT_LABELS = {
    "alert_rule": "预警规则",
    "api_token": "接口令牌",
    "audit": "审计日志",
    "case": "舆情处置单",
    "case_calendar_day": "工作日历（日）",
    "case_calendar_year": "工作日历（年）",
    "case_closure": "停工日",
    "case_grade": "处置等级",
    "case_sla_clock": "处置时限",
    "complaint_words": "投诉词表",
    "duty_role": "职责角色",
    "event": "事件",
    "login_limit": "登录限制",
    "mention": "信息",
    "model_version": "情感模型",
    "notify_channel": "通知渠道",
    "person": "人员",
    "report": "报告",
    "role": "账号角色",
    "roster": "人员名册",
    "scheme": "监测方案",
    "sensitive_category": "敏感词类别",
    "sentiment_settings": "情感分析设置",
    "site_setting": "系统设置",
    "source": "信息源",
    "unit": "单位",
    "unit_kind": "单位类型",
    "user": "账号",
}

FIELD_LABELS = {
    # shared
    "name": "名称",
    "title": "标题",
    "kind": "类型",
    "enabled": "启用",
    "active": "在用",
    "note": "备注",
    "url": "地址",
    "link": "链接",
    "summary": "摘要",
    "order": "排序",
    "color": "颜色",
    "is_default": "默认",
    "weight": "权重",
    "version": "版本",
    "status": "状态",
    "rows": "行数",
    "filters": "筛选条件",
    "changes": "变更",
    # accounts
    "username": "用户名",
    "display_name": "显示名",
    "role": "角色",
    "unit_id": "单位",
    "person_id": "人员",
    "permissions": "权限",
    "must_change_password": "须修改密码",
    "paused": "暂停次数",
    "scopes": "权限范围",
    "expires_at": "到期时间",
    # organisation
    "parent_id": "上级单位",
    "kind_id": "单位类型",
    "head_person_id": "负责人",
    "contact_person_id": "联络人",
    "student_count": "学生人数",
    "position": "职务",
    "phone": "手机",
    "email": "邮箱",
    "wecom_userid": "企业微信账号",
    "dingtalk_userid": "钉钉账号",
    "political_status": "政治面貌",
    "duty_roles": "职责角色",
    # sources and schemes
    "interval_seconds": "抓取间隔（秒）",
    "import_mapping": "导入列对应",
    "group_id": "方案分组",
    "mode": "模式",
    "subject_words": "主体词",
    "region_words": "地域词",
    "person_words": "人物词",
    "event_words": "事件词",
    "exclude_words": "排除词",
    "query": "查询式",
    "scope": "匹配范围",
    # alerts and notifications
    "level": "级别",
    "params": "规则参数",
    "recipients": "接收人",
    "quiet_start": "免打扰开始",
    "quiet_end": "免打扰结束",
    "quiet_weekends": "周末暂缓",
    "urgent_risk": "紧急风险分",
    "batch_minutes": "汇总间隔（分钟）",
    "cooldown_minutes": "冷却时间（分钟）",
    "max_per_hour": "每小时上限",
    "words": "词表",
    "secret": "密钥",
    "public_url": "工作台访问地址",
    # cases
    "grade_id": "等级",
    "assignee_person_id": "责任人",
    "reporter_user_id": "报送账号",
    "reporter_unit_id": "报送单位",
    "feedback_text": "反馈内容",
    "response_text": "回应内容",
    "response_url": "回应链接",
    "lessons": "经验教训",
    "tags": "标签",
    "mentions": "关联信息",
    "mention_ids": "信息编号",
    "clock": "时限",
    "amount": "时长",
    "unit": "单位（时长）",
    "starts_on": "起算",
    "stops_on": "止于",
    "pause_when_returned": "退回时暂停",
    "working": "工作日",
    "reported_at": "报送时间",
    "triaged_at": "研判时间",
    "assigned_at": "下发时间",
    "in_progress_at": "开始处置时间",
    "returned_at": "退回时间",
    "feedback_at": "反馈时间",
    "reviewed_at": "审核时间",
    "closed_at": "办结时间",
    "escalated_at": "升级时间",
    "reopened_at": "重新打开时间",
    "info_published_at": "信息发布时间",
    "responded_at": "回应时间",
    # events
    "size": "条数",
    "merged": "并入的事件",
    "new_event": "新事件",
    "related_to": "关联事件",
}

# Fields whose values are ids of another table: shown by name.
_REFERENCES: dict[str, type[Any]] = {
    "unit_id": Unit,
    "reporter_unit_id": Unit,
    "person_id": Person,
    "head_person_id": Person,
    "contact_person_id": Person,
    "assignee_person_id": Person,
    "grade_id": Grade,
    "kind_id": UnitKind,
}
_UNIT_PARENT = "parent_id"  # the parent of a unit (other objects' parent_id is not a unit)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
# Coded values of one object's field: (object type, field) → words.
_VALUE_WORDS: dict[tuple[str, str], Mapping[str, str]] = {
    ("case", "status"): cases_config.STATUSES,
    ("alert_rule", "level"): {"info": "提示", "warning": "预警", "urgent": "紧急"},
}


def object_label(object_type: str) -> str:
    return OBJECT_LABELS.get(object_type, object_type)


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


class Names:
    """Names of the units, people, grades and roles that a page of audit rows refers to,
    read in one query per table."""

    def __init__(self, session: Session, rows: Iterable[tuple[str, str, Any, Any]]) -> None:
        wanted: dict[type[Any], set[int]] = {}
        for object_type, name, before, after in rows:
            model = self._model(object_type, name)
            if model is None:
                continue
            for value in (before, after):
                if isinstance(value, int) and not isinstance(value, bool):
                    wanted.setdefault(model, set()).add(value)
        self.by_model: dict[type[Any], dict[int, str]] = {
            model: {
                int(i): str(n)
                for i, n in session.execute(select(model.id, model.name).where(model.id.in_(ids)))
            }
            for model, ids in wanted.items()
        }
        self.roles = {str(k): str(n) for k, n in session.execute(select(Role.key, Role.name))}

    @staticmethod
    def _model(object_type: str, name: str) -> type[Any] | None:
        if name == _UNIT_PARENT:
            return Unit if object_type == "unit" else None
        return _REFERENCES.get(name)

    def value(self, object_type: str, name: str, value: Any) -> str:
        """One stored value as the page shows it."""
        model = self._model(object_type, name)
        if model is not None and isinstance(value, int) and not isinstance(value, bool):
            found = self.by_model.get(model, {}).get(value)
            return found if found else f"#{value}（已删除）"
        if name == "role" and isinstance(value, str):
            return self.roles.get(value, value)
        words = _VALUE_WORDS.get((object_type, name))
        if words and isinstance(value, str) and value in words:
            return words[value]
        return value_text(value)


def value_text(value: Any) -> str:
    """A stored value in plain words: times local to the minute, 是/否, lists joined."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(value_text(v) for v in value) or "（无）"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and _TIMESTAMP.match(value.strip()):
        return local_minute(value.strip())
    return str(value)


def local_minute(text: str) -> str:
    """A stored timestamp (naive means UTC, as everywhere) in local time to the minute."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return format_local(moment, "%Y-%m-%d %H:%M")
