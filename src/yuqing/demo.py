"""Demo sources and a demo stream about a fictional university, written by this project."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.alerts import service as alerts
from yuqing.alerts.schemas import RecipientRef, RuleIn, RuleParams
from yuqing.auth.models import User
from yuqing.core.audit import SYSTEM
from yuqing.core.timeutil import utcnow
from yuqing.events import jobs as event_jobs
from yuqing.events.models import Event
from yuqing.org import service as org
from yuqing.schemes import service as schemes
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources import service as sources
from yuqing.sources.models import Source
from yuqing.sources.schemas import IngestResult, SourceIn
from yuqing.worker import pipeline

INSTITUTION = "江城大学"
DEMO_UNIT = "党委宣传部"
DEMO_OFFICER = "舆情值班员（示例）"
DEMO_RULE = "负面且风险高的信息（示例）"
DEMO_MIN_RISK = 60  # the rule editor's default bar for 风险高

DEMO_SOURCES: list[dict[str, Any]] = [
    {"name": "示例·舆情推送接口", "kind": "push"},
    {"name": "示例·平台导出文件", "kind": "import"},
    {
        "name": "示例·校园新闻网（RSS，未启用）",
        "kind": "rss",
        "url": "https://news.example.edu.cn/rss.xml",
        "enabled": False,
    },
]

# Story lines of a plausible week for a university publicity office: complaints that need an
# answer, praise, and the office's own notices. Every text here is written for the demo; names
# of people are left out on purpose.
_STORIES: list[tuple[str, str, list[str]]] = [
    (
        "宿舍楼夜间停电",
        "complaint",
        [
            "{i}南区三号宿舍楼昨晚十点突然停电，两个多小时没来电，不少同学在群里吐槽复习被打断。",
            "{i}宿舍又停电了，这学期已经是第三次，空调和热水都用不了，希望学校给个说法。",
            "{i}宿舍楼夜间停电，楼道漆黑一片，有同学下楼时差点摔倒，宿管电话一直打不通。",
        ],
    ),
    (
        "图书馆空调故障",
        "complaint",
        [
            "{i}图书馆三楼空调故障一个星期了，自习室闷热难耐，同学们只能去别处找座位。",
            "期末周{i}图书馆空调故障还没修好，报修多次没有回音，太影响复习了。",
        ],
    ),
    (
        "校园网频繁掉线",
        "complaint",
        [
            "{i}校园网晚上频繁掉线，网课和提交作业都受影响，同学们都在吐槽。",
            "{i}宿舍区校园网频繁掉线，打电话给网络中心一直占线，到底什么时候能解决？",
        ],
    ),
    (
        "研究生补贴发放延迟",
        "complaint",
        [
            "{i}研究生补贴发放延迟快两个月了，没有任何通知，不少同学生活费紧张。",
            "有研究生反映{i}本学期补贴发放延迟，问学院也没有得到明确答复，大家很着急。",
        ],
    ),
    (
        "食堂涨价",
        "complaint",
        [
            "{i}第二食堂部分菜品涨价，一份套餐贵了两元，而且没有提前公示，学生很不满。",
            "{i}食堂涨价没有提前公示，分量还变少了，同学们纷纷吐槽。",
        ],
    ),
    (
        "校运会圆满闭幕",
        "praise",
        [
            "{i}第六十届校运会圆满闭幕，多项校纪录被打破，赛场气氛热烈，为运动员们点赞！",
            "{i}校运会开幕式太精彩了，各学院方阵很有创意，志愿者服务也很贴心。",
        ],
    ),
    (
        "科研团队成果获国家奖励",
        "praise",
        [
            "{i}材料学院团队的研究成果获得国家科技进步二等奖，十年攻关终获认可，令人骄傲。",
            "祝贺{i}！科研团队成果获国家级奖励，网友纷纷点赞。",
        ],
    ),
    (
        "学校发布通知公告",
        "notice",
        [
            "{i}教务处发布通知：本学期期末考试安排已在教务系统公布，请同学们及时查询。",
            "{i}发布寒假放假安排，学生离校前需完成宿舍安全检查并关闭门窗电源。",
            "{i}后勤处通报：南区宿舍停电系线路老化所致，已连夜抢修，本周内完成线路改造。",
        ],
    ),
]

# Comments that reposts add, by the mood of the story they repost.
_REACTIONS = {
    "complaint": [
        "希望学校尽快回应。",
        "已经反映给辅导员了。",
        "同样遇到这个问题。",
        "求官方说明。",
        "身边同学都在讨论。",
        "什么时候能解决？",
        "太影响学习了。",
    ],
    "praise": ["点赞！", "为学校骄傲。", "太棒了！", "祝贺！", "身边同学都在转。"],
    "notice": ["收到。", "转给同学们看看。", "请大家留意。", ""],
}
_PLACES = {
    "complaint": ["", "据了解，", "有网友称，", "多位同学反映，", "论坛热帖显示，", "今天上午，"],
    "praise": ["", "近日，", "记者了解到，", "本周，"],
    "notice": ["", "近日，", "今天上午，"],
}

_AUTHORS = ["江城日报", "校园观察", "城市晚报", "江城发布", "热心网友", "学生论坛", "教育头条"]


def _items(rng: random.Random, count: int) -> list[dict[str, Any]]:
    now = utcnow()
    items: list[dict[str, Any]] = []
    roots: dict[str, list[str]] = {}  # story → its original posts
    for n in range(count):
        story, mood, lines = _STORIES[n % len(_STORIES)]
        line, reaction = rng.choice(lines).format(i=INSTITUTION), rng.choice(_REACTIONS[mood])
        text = rng.choice(_PLACES[mood]) + line  # an original post tells the story
        published = now - timedelta(minutes=rng.randint(5, 72 * 60))
        item: dict[str, Any] = {
            "external_id": f"demo-{n}",
            "title": story if n % 3 == 0 else "",
            "text": text,
            "author": rng.choice(_AUTHORS),
            "published_at": published.isoformat() + "+00:00",
            "url": f"https://bbs.example.cn/thread/{1000 + n}",
        }
        posts = roots.setdefault(story, [])
        if posts and n % 4 == 1:  # a repost or comment keeps the ids of its chain
            # Reposts gather on a story's first posts, as on a platform: one or two cascades.
            item["root_external_id"] = posts[0] if rng.random() < 0.75 else posts[:2][-1]
            item["parent_external_id"] = item["root_external_id"]
            item["text"] = "转发：" + line + reaction  # a repost adds its comment
        else:
            posts.append(item["external_id"])
        items.append(item)
    # Shared copies and special cases that the desk must handle well.
    items.append({**items[0], "external_id": "demo-copy-0"})
    items.append(
        {
            "external_id": "demo-traditional",
            "title": "江城大學校慶活動",
            "text": "江城大學舉辦校慶晚會，校友們在網路上分享回憶。",
            "author": "香港校友會",
            "published_at": (now - timedelta(hours=3)).isoformat() + "+00:00",
        }
    )
    return items


def _demo_alerts(session: Session) -> None:
    """A ready alert rule (负面且风险高 → the desk inbox of the publicity office), so a new desk
    shows alerts and the inbox has something in it. The bootstrap administrator, if it has no
    person yet, is linked to the demo's duty officer, so its inbox (and toasts) receive them."""
    org.ensure_defaults(session)  # the duty roles
    office = org.get_unit_by_name(session, name=DEMO_UNIT) or org.create_unit(
        session, name=DEMO_UNIT, actor=SYSTEM
    )
    officer = org.create_person(session, actor=SYSTEM, name=DEMO_OFFICER, unit_id=office.id)
    org.update_duty_roles(session, person=officer, role_keys=["publicity_admin"], actor=SYSTEM)
    admin = session.execute(select(User).where(User.username == "admin")).scalar_one_or_none()
    if admin is not None and admin.person_id is None:
        admin.person_id = officer.id
    scheme = schemes.create(
        session, scheme_in=SchemeIn(name=f"{INSTITUTION}（示例方案）", subject_words=[INSTITUTION])
    )
    alerts.create_rule(
        session,
        rule_in=RuleIn(
            name=DEMO_RULE,
            kind="scheme_hit",
            level="warning",
            params=RuleParams(scheme_ids=[scheme.id], hit_mode="risk", min_risk=DEMO_MIN_RISK),
            recipients=[RecipientRef(kind="unit", id=office.id)],
            cooldown_minutes=60,
        ),
    )


def load_demo(session: Session, *, items: int = 240, seed: int = 7) -> IngestResult | None:
    """Create the demo sources and stream once; returns ``None`` when they are already there."""
    if sources.get_by_name(session, name=DEMO_SOURCES[0]["name"]) is not None:
        if not _team_loaded(session):  # a desk from before the team and editorial demo
            _demo_desk(session)
            session.commit()
        return None
    created: list[Source] = [
        sources.create(session, source_in=SourceIn(**spec)) for spec in DEMO_SOURCES
    ]
    _demo_alerts(session)  # before the stream, so its high-risk complaints raise alerts
    result = pipeline.process(session, source=created[0], items=_items(random.Random(seed), items))
    event_jobs.merge_stories(session)  # the worker's periodic pass, run once here
    _demo_desk(session)  # after the stream: the statement answers a case on one of its events
    session.commit()
    return result


# --- the team and the institution's own voice (issues 15 and 16) ---------------------------
#
# A few units of the fictional university, their people and duty roles, and accounts the demo
# acts through (each with a one-time password nobody is shown: an administrator resets one to
# try the desk as that person). Everything goes through the domains' service functions, so the
# audit log, versions, review records and notices read as if people had done the work.

DEMO_TEAM_UNIT = "新闻传播学院"  # the guard: the team part is loaded once
_SCAN = b"%PDF-1.4\n% demo registration form scan\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# (unit, kind, students)
_UNITS: list[tuple[str, str, int | None]] = [
    (DEMO_UNIT, "office", None),
    ("新闻传播学院", "college", 600),
    ("材料科学与工程学院", "college", 2400),
    ("后勤保障处", "office", None),
    ("校团委", "office", None),
]
# (unit, name, position, duty roles, account: (username, role) or None)
_PEOPLE: list[tuple[str, str, str, list[str], tuple[str, str] | None]] = [
    (DEMO_UNIT, "周明远", "部长", ["publicity_head", "core_commentator"], ("zhoumy", "publicity")),
    (
        DEMO_UNIT,
        "林晓岚",
        "新闻科科长",
        ["publicity_editor", "core_commentator"],
        ("linxl", "publicity"),
    ),
    (
        DEMO_UNIT,
        "郭宁",
        "网络信息科干事",
        ["backbone_commentator", "correspondent", "info_officer"],
        None,
    ),
    ("新闻传播学院", "陈立新", "党委副书记", ["unit_head"], ("chenlx", "unit_head")),
    (
        "新闻传播学院",
        "王思雨",
        "宣传干事",
        ["correspondent", "info_officer"],
        ("wangsy", "unit_member"),
    ),
    ("新闻传播学院", "赵一鸣", "辅导员", ["backbone_commentator"], None),
    ("新闻传播学院", "孙佳怡", "辅导员", ["backbone_commentator"], None),
    ("新闻传播学院", "刘畅", "学生会主席", ["grassroots_commentator"], None),
    ("新闻传播学院", "钱程", "研究生会副主席", ["grassroots_commentator"], None),
    ("新闻传播学院", "周可欣", "学生记者团团长", ["grassroots_commentator"], None),
    ("材料科学与工程学院", "郑海涛", "党委副书记", ["unit_head"], ("zhenght", "unit_head")),
    ("材料科学与工程学院", "何静", "办公室主任", ["correspondent"], ("hejing", "unit_member")),
    ("材料科学与工程学院", "黄磊", "辅导员", ["backbone_commentator"], None),
    ("后勤保障处", "马建国", "副处长", ["unit_head"], ("majg", "unit_head")),
    (
        "后勤保障处",
        "吴芳",
        "综合科科员",
        ["correspondent", "info_officer"],
        ("wufang", "unit_member"),
    ),
    ("后勤保障处", "杨帆", "宿管中心主任", ["backbone_commentator"], None),
    ("校团委", "李想", "副书记", ["unit_head", "core_commentator"], None),
    ("校团委", "邓凯", "组织部部长", ["backbone_commentator"], None),
    ("校团委", "张悦", "宣传部部长", ["core_commentator", "correspondent", "info_officer"], None),
]

_P = "<p>{}</p>"


def _html(*paragraphs: str) -> str:
    return "".join(_P.format(p) for p in paragraphs)


_NEWS_AT_FIRST = (
    "新闻传播学院举办秋季学期新闻写作实务工作坊",
    _html(
        "本周三下午，新闻传播学院在学院报告厅举办秋季学期新闻写作实务工作坊，"
        "学院各年级学生记者、各班宣传委员共八十余人参加。",
        "工作坊围绕“如何在一个工作日内写好一篇校园新闻”展开，学院资深教师结合近期校园活动报道，"
        "讲解了导语写作、事实核对和图片说明的要求，并现场点评了同学们的习作。",
        "学院表示，将把工作坊作为常态化培训，帮助学生记者提升新闻素养和写作能力。",
    ),
)
_NEWS_RETURNED = (
    "新闻传播学院师生志愿服务队走进社区开展媒介素养宣讲",
    _html(
        "近日，新闻传播学院师生志愿服务队走进江城市南湖社区，为社区老年居民开展防范网络谣言与"
        "电信诈骗的媒介素养宣讲，累计服务居民300余人次。",
        "志愿者们通过案例讲解、情景模拟等方式，教老人识别虚假信息和诈骗电话。",
        "据统计，本学期服务队已开展宣讲活动12场。",
    ),
)
_NEWS_PUBLISHED = (
    "材料科学与工程学院科研团队成果获国家科技进步二等奖",
    _html(
        "日前，国家科学技术奖励大会公布获奖名单，材料科学与工程学院先进结构材料团队完成的"
        "“高性能轻质合金关键制备技术及应用”项目获国家科技进步二等奖。",
        "该团队十年来坚持面向重大工程需求开展攻关，突破了轻质合金大尺寸构件制备的多项关键技术，"
        "相关成果已在多家企业推广应用。",
        "学院表示，将以此为契机，继续加强有组织科研，推动更多成果服务经济社会发展。",
    ),
)
_STATEMENT = (
    "关于南区三号宿舍楼夜间停电情况的说明",
    _html(
        "近日，我校南区三号宿舍楼夜间发生停电，给同学们的学习和生活带来不便，我们深表歉意。",
        "经后勤保障处连夜排查，停电系宿舍楼供电线路老化、用电负荷过高导致线路保护跳闸。"
        "当晚抢修人员到场处置，约两个小时后恢复供电。",
        "目前，学校已安排对南区宿舍楼供电线路进行改造，计划于本周内完成；改造期间如需临时停电，"
        "将提前一天通知。宿管值班电话已增设一条专线，确保夜间能够接通。",
        "感谢同学们的理解与监督。如有问题，请联系后勤保障处服务热线。",
    ),
)


# Manual credit items (person, points, what, reason, day of last month or None: today).
_CREDIT: list[tuple[str, float, str, str, int | None]] = [
    (
        "王思雨",
        3.0,
        "校运会系列报道被学校官网头条采用",
        "稿件质量高、时效性强，经部务会同意加分。",
        12,
    ),
    ("吴芳", 2.0, "及时报告南区宿舍停电相关网帖", "发现苗头后十分钟内报告并跟进处置结果。", 20),
    ("黄磊", -1.0, "月度巡查记录未按时提交", "经提醒后仍逾期三天提交。", 25),
    ("何静", 2.0, "获奖成果报道首发于学校新闻栏目", "三审三校流程规范，一次通过。", None),
]


def _team_loaded(session: Session) -> bool:
    return org.get_unit_by_name(session, name=DEMO_TEAM_UNIT) is not None


def _demo_people(session: Session) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The units, people (with duty roles) and accounts, by name; the accounts' principals."""
    from yuqing.auth import roles as auth_roles
    from yuqing.auth import service as auth

    org.ensure_defaults(session)
    auth_roles.ensure_roles(session)
    units: dict[str, Any] = {}
    for name, kind, students in _UNITS:
        unit = org.get_unit_by_name(session, name=name)
        if unit is None:
            unit = org.create_unit(
                session, name=name, actor=SYSTEM, kind_key=kind, student_count=students
            )
        elif unit.kind_id is None and (found := org.get_kind(session, key=kind)) is not None:
            org.update_unit(session, unit=unit, actor=SYSTEM, kind_id=found.id)
        units[name] = unit
    people: dict[str, Any] = {}
    principals: dict[str, Any] = {}
    for unit_name, name, position, roles, account in _PEOPLE:
        unit = units[unit_name]
        person = org.create_person(
            session, actor=SYSTEM, name=name, unit_id=unit.id, position=position
        )
        org.update_duty_roles(session, person=person, role_keys=roles, actor=SYSTEM)
        people[name] = person
        if account is not None:
            username, role = account
            user, _ = auth.create_account(
                session, username=username, role_key=role, actor=SYSTEM, display_name=name,
                unit_id=unit.id, person_id=person.id,
            )  # fmt: skip
            principals[name] = auth_roles.principal_for(session, user=user)
    return units, people, principals


def _demo_editorial(
    session: Session, units: dict[str, Any], people: dict[str, Any], who: dict[str, Any]
) -> None:
    """Submissions in the states a desk meets: at 初审, returned at 复审, published (with its
    page and feed), a statement drafted from a case, and interview requests."""
    from yuqing.cases import service as cases
    from yuqing.editorial import service as editorial
    from yuqing.editorial.editing import Draft

    editorial.ensure_defaults(session)
    kinds = {k.key: k.id for k in editorial.list_kinds(session)}
    today = utcnow().date()
    news, materials = units["新闻传播学院"], units["材料科学与工程学院"]
    logistics = units["后勤保障处"]

    def draft(writer: str, text: tuple[str, str], unit: Any, **extra: Any) -> Any:
        title, body = text
        return editorial.create_submission(
            session,
            principal=who[writer],
            draft=Draft(
                title=title, body=body, unit_id=unit.id, author_person_id=people[writer].id,
                event_date=today - timedelta(days=1), channels=("column", "website"), **extra,
            ),
        )  # fmt: skip

    # 1. A news story waiting at 初审 for the college's head.
    first = draft("王思雨", _NEWS_AT_FIRST, news)
    editorial.submit(session, principal=who["王思雨"], submission=first)

    # 2. Passed 初审, returned at 复审 with an overall comment and a remark on a passage.
    second = draft("王思雨", _NEWS_RETURNED, news)
    editorial.submit(session, principal=who["王思雨"], submission=second)
    editorial.approve(
        session, principal=who["陈立新"], submission=second, comment="内容属实，同意报送。"
    )
    editorial.return_(
        session,
        principal=who["林晓岚"],
        submission=second,
        comment="请补充活动的具体日期和参与师生人数；“300余人次”请注明统计口径。",
        inline=[
            {"quote": "累计服务居民300余人次", "remark": "数字来源请核实，与服务队记录一致后再报"}
        ],
        proofread=True,
        proofread_note="一校：标题过长，建议压缩到二十字以内。",
    )

    # 3. Through 三审 to the column: its page and feed are written under the data dir.
    third = draft("何静", _NEWS_PUBLISHED, materials)
    editorial.submit(session, principal=who["何静"], submission=third)
    editorial.approve(session, principal=who["郑海涛"], submission=third, comment="同意。")
    editorial.approve(
        session, principal=who["林晓岚"], submission=third, comment="已核对项目名称与奖项等级。",
        proofread=True, proofread_note="二校：统一“科技进步二等奖”写法。",
    )  # fmt: skip
    editorial.approve(session, principal=who["周明远"], submission=third, comment="同意发布。")
    editorial.publish(session, principal=who["林晓岚"], submission=third)

    # 4. A statement drafted from the demo's power-cut case, in the logistics office's name.
    event = (
        session.execute(select(Event).where(Event.title.contains("停电")).order_by(Event.id))
        .scalars()
        .first()
    )
    if event is not None:
        case = cases.open_from_event(session, principal=who["林晓岚"], event_id=event.id)
        title, body = _STATEMENT
        statement = editorial.create_submission(
            session,
            principal=who["林晓岚"],
            draft=Draft(
                title=title, body=body, unit_id=logistics.id, kind_id=kinds["statement"],
                event_date=today, channels=("column", "wechat", "weibo"),
            ),
            case_id=case.id,
        )  # fmt: skip
        editorial.unlock(session, principal=who["林晓岚"], submission=statement)  # editor closed

    # 5. Interview requests: one approved with conditions, one waiting for the department.
    visit = utcnow().replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=3)
    approved = editorial.create_submission(
        session,
        principal=who["何静"],
        draft=Draft(
            title="江城日报记者采访材料学院获奖科研团队",
            body=_html("江城日报科教部记者拟就团队获国家科技进步二等奖一事采访团队负责人，"
                       "并拍摄实验室工作场景，时长约两小时。"),
            kind_id=kinds["interview"], unit_id=materials.id, outlet="江城日报",
            visit_at=visit, contact_person_id=people["何静"].id,
        ),
    )  # fmt: skip
    editorial.submit(session, principal=who["何静"], submission=approved)
    editorial.approve(
        session, principal=who["周明远"], submission=approved,
        comment="实验室涉密区域不拍摄；稿件见报前请发宣传部核对事实与数据；学院安排专人陪同。",
    )  # fmt: skip
    pending = editorial.create_submission(
        session,
        principal=who["吴芳"],
        draft=Draft(
            title="城市晚报记者采访南区宿舍供电线路改造",
            body=_html("城市晚报记者希望了解南区宿舍楼停电后的线路改造进展，拟现场查看施工情况，"
                       "并采访后勤保障处负责同志。"),
            kind_id=kinds["interview"], unit_id=logistics.id, outlet="城市晚报",
            visit_at=visit + timedelta(days=1), contact_person_id=people["吴芳"].id,
        ),
    )  # fmt: skip
    editorial.submit(session, principal=who["吴芳"], submission=pending)


def _demo_team(
    session: Session, units: dict[str, Any], people: dict[str, Any], who: dict[str, Any]
) -> None:
    """Quotas, an open registration round, change requests, a training with sign-ins, this
    month's tasks and a few manual credit items (some last month, so its bulletin has lines)."""
    from yuqing.assessment import service as assessment
    from yuqing.assessment import training
    from yuqing.assessment.schemas import Month
    from yuqing.core.timeutil import to_local
    from yuqing.org import changes, quota, rounds

    quota.ensure_defaults(session)
    assessment.ensure_defaults(session)
    chief, now = who["周明远"], utcnow()
    roles = {r.key: r.id for r in org.list_duty_roles(session)}

    # An open round: two units submitted (one filed), one returned, the others still drafting.
    found = rounds.open_round(
        session,
        viewer=chief,
        title=f"{now.year} 年度网评员队伍登记",
        deadline=now + timedelta(days=10),
    )
    forms = {f.unit_id: f for f in rounds.list_forms(session, round_id=found.id)}
    for head, unit in (("陈立新", "新闻传播学院"), ("马建国", "后勤保障处")):
        rounds.submit(
            session, viewer=who[head], form=forms[units[unit].id], scan=_SCAN,
            scan_name=f"{unit}登记表（盖章）.pdf",
        )  # fmt: skip
    rounds.accept(session, viewer=chief, form=forms[units["新闻传播学院"].id])
    rounds.return_(
        session, viewer=chief, form=forms[units["后勤保障处"].id],
        reason="扫描件未加盖单位公章，且缺少网络信息员的联系电话，请补充后重新提交。",
    )  # fmt: skip

    # Change requests: one filed, one waiting for the department.
    done = changes.propose(
        session, viewer=who["马建国"], unit_id=units["后勤保障处"].id, kind="replace",
        duty_role_id=roles["backbone_commentator"], person_id=people["杨帆"].id,
        new_person_name="宋雨桐", reason="杨帆同志调任资产管理处，由宿管中心宋雨桐接任骨干网评员。",
    )  # fmt: skip
    changes.approve(session, viewer=chief, request=done, note="已备案。")
    changes.propose(
        session, viewer=who["郑海涛"], unit_id=units["材料科学与工程学院"].id, kind="add",
        duty_role_id=roles["info_officer"], new_person_name="冯晓彤",
        reason="学院尚无网络信息员，增补办公室冯晓彤负责学院网站与公众号的日常巡查。",
    )  # fmt: skip

    # A training a week ago, with a few sign-ins.
    held = now - timedelta(days=7)
    course = training.create_session(
        session, viewer=chief, topic="网络舆情研判与新闻写作实务", kind="skills",
        starts_at=held.replace(hour=6, minute=30, second=0, microsecond=0),
        place="行政楼第三会议室", trainer="宣传部新闻科",
    )  # fmt: skip
    training.invite(
        session, viewer=chief, training=course, unit_ids=[],
        duty_role_ids=[roles[k] for k in ("correspondent", "info_officer", "backbone_commentator")],
    )  # fmt: skip
    for name, method in (("王思雨", "qr"), ("何静", "qr"), ("吴芳", "list"), ("赵一鸣", "qr")):
        training.sign_in(
            session, training=course, person_id=people[name].id, method=method,
            actor=who.get(name, chief).actor,
        )  # fmt: skip

    # This month's tasks, and manual credit items (with reasons) this month and last.
    this_month = Month.of((to_local(now) or now).date())
    assessment.issue_tasks(session, viewer=chief, month=this_month)
    last_start, _ = this_month.previous().bounds()
    for name, points, title, reason, day in _CREDIT:
        at = last_start + timedelta(days=day) if day is not None else now - timedelta(hours=2)
        assessment.add_manual(
            session, viewer=chief, person_id=people[name].id, points=points, title=title,
            reason=reason, at=at,
        )  # fmt: skip


def _demo_desk(session: Session) -> None:
    """The team and the editorial demo, once (guarded by the demo college's name)."""
    if _team_loaded(session):
        return
    units, people, who = _demo_people(session)
    _demo_team(session, units, people, who)
    _demo_editorial(session, units, people, who)
