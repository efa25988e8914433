"""The one home of configuration: environment variables prefixed ``YUQING_``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime settings with safe defaults for a single embedded desk."""

    model_config = SettingsConfigDict(env_prefix="YUQING_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file under data_dir
    # Full-text index (mentions/search_index.py): empty means data_dir/search_index; "off"
    # searches the database's own index only.
    search_index: str = ""
    timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = 8000
    # The address people open the desk at (https://yuqing.example.edu.cn): links in robot
    # messages, e-mails and webhooks are made absolute with it. An administrator can set it
    # on the desk (系统设置), which overrides this; empty: links stay desk paths.
    public_url: str = ""

    # Signs CSRF tokens; empty: a random key is made once in data_dir/secret_key.
    secret_key: str = ""

    # Signs the audit chain (HMAC); empty: the key ``yuqing init`` writes to
    # data_dir/audit_key. Never stored in the database; see docs/audit.md.
    audit_key: str = ""

    # Behind a TLS-terminating proxy the desk sees plain http: mark its cookies (session,
    # CSRF) Secure anyway, so a browser never sends them over an unencrypted connection.
    secure_cookies: bool = False

    # Single sign-on hook: a header set by a trusted gateway naming the signed-in user.
    # Leave empty unless such a gateway strips the header from client requests.
    sso_header: str = ""

    # Push API: until accounts exist, one shared token guards POST /api/v1/mentions.
    push_token: str = ""
    push_max_items: int = 1000
    push_max_body_bytes: int = 20 * 1024 * 1024

    # Outbound fetching.
    user_agent: str = "Yuqing/0.1 (+https://github.com/yuqing-desk/yuqing; public-opinion monitor)"
    fetch_timeout_seconds: float = 20.0
    fetch_max_bytes: int = 10 * 1024 * 1024
    fetch_max_redirects: int = 5
    fetch_per_domain_concurrency: int = 2
    fetch_concurrency: int = 8
    fetch_backoff_base_seconds: int = 60
    fetch_backoff_max_seconds: int = 6 * 3600
    # Networks (CIDR) an administrator allows despite being loopback/private.
    fetch_allow_networks: list[str] = Field(default_factory=list)

    # Backups (docs/operations.md): the folder (empty: data_dir/backups), how many to keep,
    # and the local hour of the daily scheduled backup (-1: no scheduled backup).
    backup_dir: str = ""
    backup_keep: int = 7
    backup_hour: int = 2
    # Retention purge (docs/operations.md): the local hour of the daily purge (-1: never).
    purge_hour: int = 3
    purge_batch: int = 500
    # SQLite: the runner checkpoints the WAL (TRUNCATE) this often, in seconds.
    wal_checkpoint_seconds: float = 15.0

    import_max_bytes: int = 100 * 1024 * 1024
    # Bodies of requests other than uploads and pushes (forms, JSON): refused with 413
    # past this, before any route reads them (web/limits.py).
    request_max_bytes: int = 1024 * 1024

    # Notifications (see docs/notifications.md): delivery retries and the SMTP server.
    notify_max_attempts: int = 6
    notify_backoff_base_seconds: int = 60  # 1, 2, 4, 8, 16 min between 6 attempts
    notify_backoff_max_seconds: int = 30 * 60
    notify_lease_seconds: int = 60
    notify_timeout_seconds: float = 10.0
    smtp_host: str = ""  # empty: e-mail is not sent (rows fail with a plain reason)
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_starttls: bool = False

    # Queue mode (docs/scaling.md): the push API and the fetcher write each batch to the
    # inbox table and answer at once; ``yuqing worker --queues …`` processes run the
    # pipeline from Redis. Off: one process, no Redis (the embedded default).
    queue: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    # A task a worker took but never acknowledged (the worker died) is handed out again
    # after this long; the inbox row's lock makes a second delivery harmless.
    queue_visibility_seconds: int = 300
    # Inbox rows still waiting after this long are sent to the queue again (the broker lost
    # them, or the API could not reach it): the inbox, not Redis, is what is durable.
    queue_requeue_seconds: int = 60
    # Processed inbox rows are kept this many days for the status route, then deleted.
    queue_keep_days: int = 7

    def effective_push_token(self) -> str:
        """The push token: the environment's, else the one ``yuqing init`` wrote to the data dir."""
        if self.push_token:
            return self.push_token
        path = self.data_dir / "push_token"
        return path.read_text(encoding="utf-8").strip() if path.exists() else ""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'yuqing.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Forget cached settings (tests change the environment)."""
    get_settings.cache_clear()
