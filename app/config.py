"""One typed Settings object for the whole app, read from the environment (prefix-free names)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class MissingUserAgentError(RuntimeError):
    """Raised before any EDGAR request when SEC_USER_AGENT is not configured."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(default="sqlite:///./data/clusterbuy.db")
    # SEC fair-access policy: every request declares who is asking ("Company admin@example.com").
    sec_user_agent: str | None = None
    edgar_base_url: str = "https://www.sec.gov"
    edgar_data_base_url: str = "https://data.sec.gov"
    edgar_max_rps: float = Field(default=8.0, gt=0, le=10)
    edgar_timeout_s: float = 30.0
    cache_dir: Path = Path("./data/cache")
    max_document_bytes: int = 5_000_000
    admin_token: str | None = None
    # Public pages are served from a per-process cache for this many seconds (0 turns it off).
    page_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    log_level: str = "INFO"

    @field_validator("edgar_base_url", "edgar_data_base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @field_validator("sec_user_agent")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    def require_user_agent(self) -> str:
        """Return the configured User-Agent or fail with a message that says how to set it."""
        if not self.sec_user_agent:
            raise MissingUserAgentError(
                "SEC_USER_AGENT is not set. EDGAR's fair-access policy requires a declared User-Agent "
                'with a contact, e.g. export SEC_USER_AGENT="Your Name you@example.com"'
            )
        return self.sec_user_agent

    def public_dict(self) -> dict[str, object]:
        """Settings safe to log: the DB password and admin token are masked."""
        from sqlalchemy.engine import make_url

        data = self.model_dump()
        data["database_url"] = make_url(self.database_url).render_as_string(hide_password=True)
        data["admin_token"] = "***" if self.admin_token else None
        return data


@lru_cache
def get_settings() -> Settings:
    return Settings()
