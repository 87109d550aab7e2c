"""Search settings: where Elasticsearch and Kibana are (environment) and how indexes behave (YAML).

Two models, kept apart as the house style asks:

* `SearchSettings` — process settings from the environment: URLs and credentials. Secrets
  come only from the environment and are `SecretStr`; nothing is read at import time.
* `SearchPolicy` — region data: index prefix, retention (ILM), bulk retry policy. It is the
  optional `search.yaml` of the region folder (schema in `core/config.py`, documented in
  `config/README.md`; `RegionConfig.search`); without the file the defaults apply.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from core.config import SearchPolicy

SEARCH_FILE = "search.yaml"
__all__ = ["SEARCH_FILE", "SearchPolicy", "SearchSettings", "get_search_settings", "load_policy"]


class SearchSettings(BaseModel):
    """Where the search services are. Empty URL = the embedded full-text search is used."""

    elasticsearch_url: str | None = Field(None, description="ELASTICSEARCH_URL, e.g. http://localhost:9200.")
    elasticsearch_api_key: SecretStr | None = Field(
        None, description="ELASTICSEARCH_API_KEY (encoded API key)."
    )
    elasticsearch_username: str | None = Field(None, description="ELASTICSEARCH_USERNAME (basic auth).")
    elasticsearch_password: SecretStr | None = Field(None, description="ELASTICSEARCH_PASSWORD (basic auth).")
    elasticsearch_ca_certs: Path | None = Field(
        None, description="ELASTICSEARCH_CA_CERTS: CA bundle for https."
    )
    elasticsearch_verify_certs: bool = Field(
        True, description="ELASTICSEARCH_VERIFY_CERTS=false turns TLS checks off."
    )
    kibana_url: str | None = Field(None, description="KIBANA_URL, e.g. http://localhost:5601.")
    kibana_api_key: SecretStr | None = Field(
        None, description="KIBANA_API_KEY; else the Elasticsearch credentials."
    )
    kibana_username: str | None = Field(None, description="KIBANA_USERNAME; else ELASTICSEARCH_USERNAME.")
    kibana_password: SecretStr | None = Field(
        None, description="KIBANA_PASSWORD; else ELASTICSEARCH_PASSWORD."
    )
    kibana_space: str | None = Field(
        None, description="KIBANA_SPACE: import into this space instead of the default one."
    )

    @property
    def elasticsearch_configured(self) -> bool:
        return bool(self.elasticsearch_url)


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _secret(name: str) -> SecretStr | None:
    value = _env(name)
    return SecretStr(value) if value else None


def get_search_settings() -> SearchSettings:
    """Read the environment now (cheap; not cached so tests and the CLI can change it)."""
    verify = (_env("ELASTICSEARCH_VERIFY_CERTS") or "true").lower() not in ("0", "false", "no", "off")
    ca = _env("ELASTICSEARCH_CA_CERTS")
    return SearchSettings(
        elasticsearch_url=_env("ELASTICSEARCH_URL"),
        elasticsearch_api_key=_secret("ELASTICSEARCH_API_KEY"),
        elasticsearch_username=_env("ELASTICSEARCH_USERNAME"),
        elasticsearch_password=_secret("ELASTICSEARCH_PASSWORD"),
        elasticsearch_ca_certs=Path(ca) if ca else None,
        elasticsearch_verify_certs=verify,
        kibana_url=_env("KIBANA_URL"),
        kibana_api_key=_secret("KIBANA_API_KEY"),
        kibana_username=_env("KIBANA_USERNAME"),
        kibana_password=_secret("KIBANA_PASSWORD"),
        kibana_space=_env("KIBANA_SPACE"),
    )


def load_policy(region_root: Path | str | None) -> SearchPolicy:
    """`search.yaml` of the region folder if it exists, else the defaults. Errors name file and key."""
    if region_root is None:
        return SearchPolicy()
    path = Path(region_root) / SEARCH_FILE
    if not path.is_file():
        return SearchPolicy()
    from core.config import load_file

    return load_file(path, SearchPolicy)
