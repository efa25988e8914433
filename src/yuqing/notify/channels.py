"""Delivery channels (通知渠道): one class per channel, each sends one delivery or raises.

Robots and webhooks are posted through the address policy of the guarded fetcher
(``yuqing.core.http``): the host is resolved once, every address is checked (loopback
and private networks refused unless allow-listed) and the request goes to the checked IP
with the original ``Host`` and TLS name, without following redirects. Formats and
signatures follow each platform's published robot API; see docs/notifications.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import smtplib
import socket
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, ClassVar
from urllib.parse import quote_plus, urlsplit

import httpx

from yuqing.core.http import FetchError, resolve_public
from yuqing.core.settings import Settings
from yuqing.core.timeutil import format_local
from yuqing.notify.schemas import LEVEL_LABELS, Message
from yuqing.system.service import absolute

_RESPONSE_CAP = 64 * 1024
_HTTP_WORDS = {
    400: "请求无效",
    401: "未授权",
    403: "禁止访问",
    404: "地址不存在",
    408: "请求超时",
    429: "请求过于频繁",
    500: "服务器内部错误",
    502: "网关错误",
    503: "服务暂不可用",
    504: "网关超时",
}
# Error codes of the robot APIs that deserve plain words (others are shown as sent).
_ROBOT_CODES = {
    45009: "发送太频繁，超过机器人每分钟的条数上限",
    93000: "机器人地址无效或机器人已被移出群聊",
    310000: "签名、关键词或 IP 白名单校验未通过",
    19021: "签名校验失败，请核对密钥",
    19022: "IP 不在白名单内",
    19024: "消息不含机器人设置的关键词",
    9499: "请求格式错误",
}
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$|^[^@\s<>,;\"]+@localhost$")


class DeliveryError(Exception):
    """A delivery that did not go through; ``reason`` is plain Chinese for the desk.
    ``retryable`` is False when trying again cannot help (a refused address, an invalid
    mailbox)."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class Delivery:
    """What one send needs: the row id (the idempotency key), the message and where to."""

    key: str
    message: Message
    target: str  # URL of a robot/webhook, or an e-mail address
    secret: str = ""
    mobiles: list[str] = field(default_factory=list)  # @ these on urgent messages


# --- text rendering ---------------------------------------------------------------------


def _time(message_time: Any) -> str:
    return format_local(message_time, "%m-%d %H:%M") if message_time else ""


def _safe_url(url: str | None) -> str:
    """Only http(s) links go into messages (never ``javascript:`` and the like)."""
    return url if url and urlsplit(url).scheme in ("http", "https") else ""


def with_public_links(message: Message, base: str) -> Message:
    """``message`` with its desk paths (``/alerts/1``) made absolute with the desk's public
    address, so a reader outside the desk can open them; unchanged without one."""
    if not base:
        return message
    items = [item.model_copy(update={"url": absolute(item.url, base)}) for item in message.items]
    link = absolute(message.link, base) if message.link else message.link
    return message.model_copy(update={"link": link, "items": items})


def _desk_path(link: str | None) -> str:
    """A link that is still a desk path (no public address is set): shown as text."""
    return link if link and link.startswith("/") and not link.startswith("//") else ""


def markdown(message: Message, *, limit: int = 4000) -> str:
    """The message as robot markdown (links, quotes, bold), cut to ``limit`` bytes."""
    lines = [f"### 【{LEVEL_LABELS[message.level]}】{message.title}"]
    lines += [line for line in message.text.splitlines() if line.strip()]
    for number, item in enumerate(message.items, 1):
        url = _safe_url(item.url)
        head = f"[{item.title}]({url})" if url else item.title
        meta = " · ".join(p for p in (item.source, _time(item.published_at)) if p)
        lines.append(f"{number}. {head}" + (f"（{meta}）" if meta else ""))
        if item.snippet:
            lines.append(f"> {item.snippet}")
    link = _safe_url(message.link)
    if link:
        lines.append(f"[{message.link_label}]({link})")
    elif path := _desk_path(message.link):
        lines.append(f"{message.link_label}：工作台 {path}")
    return _cut("\n".join(lines), limit)


def plain_text(message: Message) -> str:
    """The message as plain text (e-mail text part, WeCom text message)."""
    lines = [f"【{LEVEL_LABELS[message.level]}】{message.title}", "", message.text.strip()]
    for number, item in enumerate(message.items, 1):
        meta = " · ".join(p for p in (item.source, _time(item.published_at)) if p)
        lines.append(f"\n{number}. {item.title}" + (f"（{meta}）" if meta else ""))
        lines += [part for part in (item.snippet, item.url) if part]
    if message.link:
        lines.append(f"\n{message.link_label}：{message.link}")
    return "\n".join(lines).strip() + "\n"


def _cut(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


def highlighted(text: str, words: list[str]) -> str:
    """``text`` HTML-escaped, with every highlight word wrapped in ``<mark>``."""
    wanted = sorted({w for w in words if w.strip()}, key=len, reverse=True)
    if not wanted:
        return html.escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in wanted))
    parts: list[str] = []
    last = 0
    for hit in pattern.finditer(text):
        parts.append(html.escape(text[last : hit.start()]))
        parts.append(f"<mark>{html.escape(hit.group())}</mark>")
        last = hit.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts)


def html_body(message: Message) -> str:
    """The HTML part of an e-mail: escaped text, highlight words marked."""
    mark = lambda value: highlighted(value, message.highlight).replace("\n", "<br>")  # noqa: E731
    rows = [f"<h2>【{LEVEL_LABELS[message.level]}】{mark(message.title)}</h2>"]
    if message.text.strip():
        rows.append(f"<p>{mark(message.text.strip())}</p>")
    if message.items:
        rows.append("<ol>")
        for item in message.items:
            url = _safe_url(item.url)
            title = mark(item.title)
            head = f'<a href="{html.escape(url, quote=True)}">{title}</a>' if url else title
            meta = " · ".join(p for p in (item.source, _time(item.published_at)) if p)
            rows.append(
                f"<li>{head}"
                + (f" <small>{html.escape(meta)}</small>" if meta else "")
                + (f"<br>{mark(item.snippet)}" if item.snippet else "")
                + "</li>"
            )
        rows.append("</ol>")
    link = _safe_url(message.link)
    label = html.escape(message.link_label)
    if link:
        rows.append(f'<p><a href="{html.escape(link, quote=True)}">{label}</a></p>')
    elif path := _desk_path(message.link):
        rows.append(f"<p>{label}：工作台 {html.escape(path)}</p>")
    body = "\n".join(rows)
    return f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><body>\n{body}\n</body></html>'


# --- HTTP -------------------------------------------------------------------------------


def post_json(
    url: str, payload: dict[str, Any], settings: Settings, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """POST ``payload`` as JSON to a checked public address; the status and the body."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return post_bytes(url, body, settings, headers or {})


def post_bytes(
    url: str, body: bytes, settings: Settings, headers: dict[str, str]
) -> tuple[int, bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(
            f"地址无效，只支持 http:// 和 https://（{_masked(url)}）", retryable=False
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = resolve_public(parts.hostname, port, settings, url=url)
    except FetchError as error:
        raise DeliveryError(error.reason, retryable="已拒绝" not in error.reason) from error
    host = f"[{address}]" if address.version == 6 else str(address)
    request_headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": settings.user_agent,
        "Host": parts.netloc.rsplit("@", 1)[-1],
        **headers,
    }
    timeout = httpx.Timeout(settings.notify_timeout_seconds)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        request = client.build_request(
            "POST",
            parts._replace(netloc=f"{host}:{port}").geturl(),
            content=body,
            headers=request_headers,
            extensions={"sni_hostname": parts.hostname},
        )
        try:
            response = client.send(request, stream=True)
            try:
                data = _read_capped(response)
            finally:
                response.close()
        except httpx.HTTPError as error:
            raise DeliveryError(_transport_words(error, settings)) from error
    return response.status_code, data


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _RESPONSE_CAP:
            break
    return b"".join(chunks)[:_RESPONSE_CAP]


def _transport_words(error: httpx.HTTPError, settings: Settings) -> str:
    seconds = f"{settings.notify_timeout_seconds:g}"
    if isinstance(error, httpx.ConnectTimeout):
        return f"连接超时（{seconds} 秒内没有连上）"
    if isinstance(error, httpx.TimeoutException):
        return f"超时（{seconds} 秒内没有回应）"
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    if isinstance(error, httpx.ConnectError):
        if "refused" in text.lower():
            return "连接被拒绝（对方没有在该端口提供服务）"
        if "ssl" in text.lower() or "certificate" in text.lower():
            return f"TLS/证书错误：{text}"
        return f"无法连接：{text}"
    return f"网络错误：{text or type(error).__name__}"


def _check_status(status: int, body: bytes) -> None:
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise DeliveryError(f"返回 HTTP {status}（要求跳转，通知不跟随跳转，请填写最终地址）")
    words = _HTTP_WORDS.get(status, "客户端错误" if status < 500 else "服务器错误")
    detail = body[:200].decode("utf-8", errors="replace").strip()
    raise DeliveryError(f"返回 HTTP {status}（{words}）" + (f"：{detail}" if detail else ""))


def _check_robot_answer(body: bytes, code_field: str, message_field: str) -> None:
    """Robots answer 200 with an error code in the JSON; 0 is success."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError as error:
        raise DeliveryError("机器人返回的内容不是 JSON，无法确认是否送达") from error
    if not isinstance(answer, dict):
        raise DeliveryError("机器人返回的内容格式不对，无法确认是否送达")
    code = answer.get(code_field, answer.get("StatusCode", 0))
    if code in (0, None):
        return
    words = _ROBOT_CODES.get(int(code)) if str(code).lstrip("-").isdigit() else None
    said = str(answer.get(message_field) or answer.get("StatusMessage") or "")
    raise DeliveryError(
        f"返回错误 {code}" + (f"（{words}）" if words else "") + (f"：{said}" if said else "")
    )


def _masked(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(query="…" if parts.query else "").geturl()


# --- channels ---------------------------------------------------------------------------


class Sender:
    """One kind of channel."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def send(self, delivery: Delivery, settings: Settings) -> None:
        raise NotImplementedError


class WeComRobot(Sender):
    """企业微信群机器人: markdown; an urgent message that must @ people by mobile goes as a
    text message, because only that type carries ``mentioned_mobile_list``."""

    kind = "wecom"
    label = "企业微信群机器人"

    def payload(self, delivery: Delivery) -> dict[str, Any]:
        message = delivery.message
        if message.level == "urgent" and delivery.mobiles:
            return {
                "msgtype": "text",
                "text": {
                    "content": _cut(plain_text(message), 2000),
                    "mentioned_mobile_list": delivery.mobiles,
                },
            }
        return {"msgtype": "markdown", "markdown": {"content": markdown(message, limit=4000)}}

    def send(self, delivery: Delivery, settings: Settings) -> None:
        status, body = post_json(delivery.target, self.payload(delivery), settings)
        _check_status(status, body)
        _check_robot_answer(body, "errcode", "errmsg")


def dingtalk_sign(timestamp_ms: str, secret: str) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg="timestamp\\nsecret")), URL-encoded."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


class DingTalkRobot(Sender):
    """钉钉群机器人: markdown, signed in the query string (``timestamp`` in ms, ``sign``)."""

    kind = "dingtalk"
    label = "钉钉群机器人"

    def payload(self, delivery: Delivery) -> dict[str, Any]:
        message = delivery.message
        text = markdown(message, limit=18000)
        mobiles = delivery.mobiles if message.level == "urgent" else []
        if mobiles:  # DingTalk only shows the @ when the text names the mobile too
            text += "\n\n" + " ".join(f"@{m}" for m in mobiles)
        return {
            "msgtype": "markdown",
            "markdown": {"title": message.title[:60], "text": text},
            "at": {"atMobiles": mobiles, "isAtAll": False},
        }

    def url(self, delivery: Delivery, now_ms: int | None = None) -> str:
        if not delivery.secret:
            return delivery.target
        stamp = str(now_ms if now_ms is not None else int(time.time() * 1000))
        joiner = "&" if "?" in delivery.target else "?"
        return f"{delivery.target}{joiner}timestamp={stamp}&sign={dingtalk_sign(stamp, delivery.secret)}"

    def send(self, delivery: Delivery, settings: Settings) -> None:
        status, body = post_json(self.url(delivery), self.payload(delivery), settings)
        _check_status(status, body)
        _check_robot_answer(body, "errcode", "errmsg")


def feishu_sign(timestamp_s: str, secret: str) -> str:
    """Feishu: base64(HMAC-SHA256(key="timestamp\\nsecret", msg=b"")) — the key is the
    string to sign, the message is empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


_FEISHU_COLOURS = {"info": "blue", "warning": "orange", "urgent": "red"}


class FeishuRobot(Sender):
    """飞书群机器人: an interactive card with a lark_md body, signed in the JSON body
    (``timestamp`` in seconds, ``sign``). A custom robot cannot @ by mobile number."""

    kind = "feishu"
    label = "飞书群机器人"

    def payload(self, delivery: Delivery, now_s: int | None = None) -> dict[str, Any]:
        message = delivery.message
        content = markdown(message, limit=18000).split("\n", 1)
        card = {
            "header": {
                "title": {
                    "tag": "plain_text",
                    "content": f"【{LEVEL_LABELS[message.level]}】{message.title}",
                },
                "template": _FEISHU_COLOURS[message.level],
            },
            "elements": [
                {
                    "tag": "div",
                    "text": {"tag": "lark_md", "content": content[1] if len(content) > 1 else ""},
                }
            ],
        }
        payload: dict[str, Any] = {"msg_type": "interactive", "card": card}
        if delivery.secret:
            stamp = str(now_s if now_s is not None else int(time.time()))
            payload = {"timestamp": stamp, "sign": feishu_sign(stamp, delivery.secret), **payload}
        return payload

    def send(self, delivery: Delivery, settings: Settings) -> None:
        status, body = post_json(delivery.target, self.payload(delivery), settings)
        _check_status(status, body)
        _check_robot_answer(body, "code", "msg")


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(key=secret, msg=timestamp + "." + raw body)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class JsonWebhook(Sender):
    """A generic JSON webhook: the message as JSON, signed, with the delivery id as the
    idempotency key (``X-Yuqing-Delivery``); any 2xx is success."""

    kind = "webhook"
    label = "通用 Webhook（JSON）"

    def body(self, delivery: Delivery) -> bytes:
        data = {"delivery": delivery.key, **delivery.message.model_dump(mode="json")}
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")

    def send(self, delivery: Delivery, settings: Settings) -> None:
        body = self.body(delivery)
        stamp = str(int(time.time()))
        headers = {"X-Yuqing-Delivery": delivery.key, "X-Yuqing-Timestamp": stamp}
        if delivery.secret:
            headers["X-Yuqing-Signature"] = webhook_signature(delivery.secret, stamp, body)
        status, answer = post_bytes(delivery.target, body, settings, headers)
        _check_status(status, answer)


class EmailSender(Sender):
    """E-mail over SMTP: multipart/alternative with a plain-text and an HTML part."""

    kind = "email"
    label = "电子邮件"

    def build(self, delivery: Delivery, settings: Settings) -> EmailMessage:
        message = delivery.message
        mail = EmailMessage()
        mail["Subject"] = f"【{LEVEL_LABELS[message.level]}】{message.title}"
        mail["From"] = settings.smtp_from or f"yuqing@{socket.getfqdn()}"
        mail["To"] = delivery.target
        mail["Date"] = formatdate(localtime=False)
        # A stable Message-ID lets mail systems drop a copy resent after a crash.
        mail["Message-ID"] = make_msgid(idstring=f"yuqing-{delivery.key}", domain="yuqing.local")
        mail["X-Yuqing-Delivery"] = delivery.key
        mail.set_content(plain_text(message))
        mail.add_alternative(html_body(message), subtype="html")
        return mail

    def send(self, delivery: Delivery, settings: Settings) -> None:
        if not _EMAIL.match(delivery.target):
            raise DeliveryError(f"邮箱地址无效：{delivery.target}", retryable=False)
        if not settings.smtp_host:
            raise DeliveryError("未配置邮件服务器（YUQING_SMTP_HOST），无法发送邮件")
        mail = self.build(delivery, settings)
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        try:
            with smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout_seconds
            ) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_user:
                    smtp.login(settings.smtp_user, settings.smtp_password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            code, said = next(iter(error.recipients.values()))
            raise DeliveryError(
                f"邮件服务器拒收该地址 {delivery.target}（{code} {_said(said)}）",
                retryable=code < 500,
            ) from error
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(f"邮件服务器 {where} 登录失败，请核对账号和密码") from error
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"邮件服务器 {where} 返回错误 {error.smtp_code}：{_said(error.smtp_error)}",
                retryable=error.smtp_code < 500,
            ) from error
        except ConnectionRefusedError as error:
            raise DeliveryError(f"连接被拒绝（邮件服务器 {where} 没有在该端口提供服务）") from error
        except TimeoutError as error:
            raise DeliveryError(f"超时（邮件服务器 {where} 没有回应）") from error
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"发送邮件失败（{where}）：{error}") from error


def _said(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


SENDERS: dict[str, Sender] = {
    sender.kind: sender
    for sender in (WeComRobot(), DingTalkRobot(), FeishuRobot(), JsonWebhook(), EmailSender())
}
CHANNEL_KINDS = {kind: sender.label for kind, sender in SENDERS.items()}
