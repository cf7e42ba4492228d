"""Settings from DID_FAILOVER_* environment variables and an optional TOML file (pydantic-settings)."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from did_failover.console import error
from did_failover.numbers import is_digits, whole_number
from fastagi.server import DEFAULT_PORT, IPNetwork, ServerConfig

AGI_PORT = DEFAULT_PORT
"""The FastAGI port when DID_FAILOVER_LISTEN names none (Asterisk's own default)."""
METRICS_PORT = 9573
"""The metrics and health listener's port when DID_FAILOVER_METRICS_LISTEN names none."""
AMI_PORT = 5038
"""Asterisk's AMI port when DID_FAILOVER_AMI_URL names none."""
WEB_PORT = 8573
"""The web page's port when DID_FAILOVER_WEB_LISTEN names none."""

DEFAULT_DATABASE_URL = "sqlite:////var/lib/did-failover/did-failover.db"
"""One database wherever the command runs (not one per current folder): the package's data folder."""

_config_file: Path | None = None


def parse_hostport(value: str, default_port: int) -> tuple[str, int]:
    """Split `HOST:PORT`, `[V6]:PORT` or `HOST` into host and port."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or str(default_port)
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, str(default_port)
    if is_digits(host):
        raise ValueError(f"expected HOST:PORT, got {value!r}: a port alone (write 127.0.0.1:{host})")
    number = whole_number(port, 5)
    if not host or number is None or number > 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    if not _is_host(host):
        raise ValueError(f"expected HOST:PORT, got {value!r}: {host!r} is not an IP address or a host name")
    return host, number


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _is_host(host: str) -> bool:
    """An IP address, or a host name of letters, digits and hyphens between dots (not all digits)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.removesuffix(".").split(".")
        return (
            len(host) <= 253
            and all(_HOST_LABEL.fullmatch(label) for label in labels)
            and not all(is_digits(label) for label in labels)
        )
    return True


@dataclass(frozen=True, slots=True)
class AmiTarget:
    """Where and as whom to log in."""

    host: str
    port: int
    username: str
    secret: str


def parse_ami_url(url: str) -> AmiTarget:
    """Parse `ami://USER:SECRET@HOST:PORT` (systemd: LoadCredential=ami_url:FILE keeps it out of the env)."""
    parts = urlsplit(url)
    if parts.scheme != "ami" or not parts.hostname or not parts.username:
        raise ValueError("expected ami://USER:SECRET@HOST:PORT")
    try:
        port = parts.port or AMI_PORT
    except ValueError:
        raise ValueError("the AMI port must be a number 1..65535") from None
    secret = unquote(parts.password or "")
    if not secret:
        raise ValueError("expected ami://USER:SECRET@HOST:PORT (the secret is missing)")
    return AmiTarget(parts.hostname, port, unquote(parts.username), secret)


class Settings(BaseSettings):
    """Every setting of the server; see docs/settings.md for what each one does."""

    model_config = SettingsConfigDict(env_prefix="DID_FAILOVER_", extra="forbid")

    listen: str = f"127.0.0.1:{AGI_PORT}"
    allow: Annotated[tuple[IPNetwork, ...], NoDecode] = (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    max_sessions: int = Field(default=10000, ge=1)
    env_timeout: float = Field(default=5.0, gt=0)
    command_timeout: float = Field(default=10.0, gt=0)
    grace_period: float = Field(default=25.0, ge=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    database_url: str = DEFAULT_DATABASE_URL
    db_timeout: float = Field(default=1.0, gt=0)
    cache_ttl: float = Field(default=60.0, ge=0)
    change_poll: float = Field(default=1.0, ge=0, le=60)

    pstn_dial: str = "PJSIP/{number}@pstn"
    sip_dial: str = "PJSIP/did-failover/{uri}"
    endpoint_dial: str = "PJSIP/{endpoint}"
    dial_options: str = ""
    max_hops: int = Field(default=5, ge=1, le=100)
    max_ring_total: int = Field(default=180, ge=10, le=3600)
    limit_backend: Literal["asterisk", "redis"] = "asterisk"
    redis_url: str = ""
    redis_prefix: str = Field(default="did-failover:", min_length=1, max_length=64)
    redis_lease: float = Field(default=30.0, ge=3, le=3600)
    node: str = Field(default="", max_length=64)

    ami_url: str = ""
    call_log_days: int = Field(default=90, ge=1)
    change_log_days: int = Field(default=365, ge=1)
    metrics_listen: str = f"127.0.0.1:{METRICS_PORT}"

    web_listen: str = f"127.0.0.1:{WEB_PORT}"
    web_session_idle: float = Field(default=1800.0, gt=0, le=86400)
    web_session_lifetime: float = Field(default=43200.0, gt=0, le=2592000)
    web_trusted_proxies: Annotated[tuple[IPNetwork, ...], NoDecode] = ()

    webhook_delivery: bool = True
    webhook_timeout: float = Field(default=5.0, gt=0, le=30)
    webhook_allow: Annotated[tuple[IPNetwork, ...], NoDecode] = ()

    @field_validator("allow", "web_trusted_proxies", "webhook_allow", mode="before")
    @classmethod
    def _parse_allow(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        try:
            return tuple(ipaddress.ip_network(str(v), strict=False) for v in value)
        except ValueError as exc:
            raise ValueError(f"not a CIDR list: {exc}") from None

    @field_validator("ami_url")
    @classmethod
    def _check_ami_url(cls, value: str) -> str:
        if value:
            parse_ami_url(value)
        return value

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        parse_hostport(value, AGI_PORT)
        return value

    @field_validator("web_listen")
    @classmethod
    def _check_web_listen(cls, value: str) -> str:
        parse_hostport(value, WEB_PORT)
        return value

    @field_validator("metrics_listen")
    @classmethod
    def _check_metrics_listen(cls, value: str) -> str:
        if value:
            parse_hostport(value, METRICS_PORT)
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str, info: Any) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        if not value and info.data.get("limit_backend") == "redis":
            raise ValueError(
                "required with DID_FAILOVER_LIMIT_BACKEND=redis (such as redis://127.0.0.1:6379/0)"
            )
        return value

    @field_validator("node")
    @classmethod
    def _check_node(cls, value: str) -> str:
        if value and not all(c.isascii() and (c.isalnum() or c in "_.:-") for c in value):
            raise ValueError("letters, digits, _ . : and - only")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "mysql://")):
            raise ValueError("must start with sqlite:/// or mysql://")
        return value

    @field_validator("pstn_dial", "sip_dial", "endpoint_dial")
    @classmethod
    def _check_template(cls, value: str, info: Any) -> str:
        placeholder = {"pstn_dial": "{number}", "sip_dial": "{uri}", "endpoint_dial": "{endpoint}"}[
            info.field_name
        ]
        if placeholder not in value:
            raise ValueError(f"must contain {placeholder}")
        if any(c in value for c in ',&()"\\\n\r\0$'):
            raise ValueError('must not contain , & ( ) " \\ $ or control characters')
        return value

    @field_validator("dial_options")
    @classmethod
    def _check_dial_options(cls, value: str) -> str:
        if any(c in value for c in ',&"\\\n\r\0$'):
            raise ValueError('must not contain , & " \\ $ or control characters')
        return value

    @property
    def listen_address(self) -> tuple[str, int]:
        """The (host, port) to listen on."""
        return parse_hostport(self.listen, AGI_PORT)

    @property
    def server(self) -> ServerConfig:
        """The FastAGI server's own config, from these settings."""
        host, port = self.listen_address
        return ServerConfig(
            host=host,
            port=port,
            allow=self.allow,
            max_sessions=self.max_sessions,
            env_timeout=self.env_timeout,
            command_timeout=self.command_timeout,
            grace_period=self.grace_period,
            name="did-failover",
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: explicit arguments, environment, systemd credentials, then the TOML file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if credentials and Path(credentials).is_dir():
            # systemd LoadCredential=database_url:/etc/did-failover/database_url: secrets stay out of
            # the environment and the unit file; each file holds one setting named as in the TOML file.
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=credentials, env_prefix=""))
        if _config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=_config_file))
        return tuple(sources)


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from the environment and, when given, a TOML file."""
    global _config_file
    if config is not None and not config.is_file():
        raise ValueError(f"config file {config} does not exist")
    _config_file = config
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ValueError(describe_error(exc, config)) from None
    except tomllib.TOMLDecodeError as exc:
        assert config is not None
        raise ValueError(describe_toml_error(config, exc)) from None
    finally:
        _config_file = None


def describe_toml_error(config: Path, exc: tomllib.TOMLDecodeError) -> str:
    """One line naming the file, and the key when it is given twice (tomllib only says
    "Cannot overwrite a value")."""
    message = str(exc)
    found = re.search(r"at line (\d+)", message)
    if found and message.startswith("Cannot overwrite a value"):
        lines = config.read_text(errors="replace").splitlines()
        number = int(found.group(1))
        key = lines[number - 1].partition("=")[0].strip() if number <= len(lines) else ""
        if key:
            return f"config file {config}: line {number}: {key} is set twice (keep one line for it)"
    return f"config file {config}: not valid TOML: {message}"


def load_settings_or_report(
    config: Path | None, report: Callable[[str], None] | None = None
) -> Settings | None:
    """load_settings for a command: None after reporting the one-line error (`did-failover: error: ...`
    on stderr unless `report` says otherwise); the command then exits with EXIT_INPUT."""
    try:
        return load_settings(config)
    except ValueError as exc:
        if report is None:
            error(str(exc))
        else:
            report(str(exc))
        return None


def describe_error(exc: ValidationError, config: Path | None = None) -> str:
    """One line naming the first bad setting by its environment variable and the rule it broke; an
    unknown key of the config file by the file, its line and the key, with the closest setting."""
    first = exc.errors()[0]
    key = "_".join(str(part) for part in first["loc"][:1])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if first["type"] == "extra_forbidden":
        close = difflib.get_close_matches(key, Settings.model_fields, n=1)
        hint = f"; did you mean {close[0]}?" if close else " (docs/settings.md lists the settings)"
        where = _key_line(config, key) if config is not None else None
        place = (
            f"config file {config}: line {where}: " if where else f"config file {config}: " if config else ""
        )
        return f"{place}unknown setting {key}{hint}{more}"
    message = first["msg"].removeprefix("Value error, ")
    return f"setting DID_FAILOVER_{key.upper()}: {message}{more}"


def _key_line(config: Path, key: str) -> int | None:
    """The line of the config file that sets `key` (None when it cannot be found)."""
    pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(config.read_text(errors="replace").splitlines(), start=1):
        if pattern.match(line):
            return number
    return None
