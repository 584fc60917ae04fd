"""Slack settings: secrets from the environment (12-factor), channel and escalation choices from optional YAML.

Tokens are kept out of repr() so a logged config can never leak them, and a missing token produces one
message that names it and says where in the Slack app settings to find it.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..catalog import OWNERS
from ..store import DEFAULT_DB, default_db_path

DEFAULT_API_URL = "https://slack.com/api/"
Mode = Literal["http", "socket"]

TOKEN_HELP: dict[str, str] = {
    "SLACK_BOT_TOKEN": (
        "the Bot User OAuth Token (xoxb-...): https://api.slack.com/apps > your app > OAuth & Permissions "
        "> Install to Workspace"
    ),
    "SLACK_SIGNING_SECRET": (
        "the Signing Secret: https://api.slack.com/apps > your app > Basic Information > App Credentials"
    ),
    "SLACK_APP_TOKEN": (
        "an app-level token (xapp-...) with the connections:write scope: https://api.slack.com/apps > your app "
        "> Basic Information > App-Level Tokens, with Socket Mode enabled; or run `voicecode serve --http`"
    ),
}
TOKEN_PREFIX = {"SLACK_BOT_TOKEN": "xoxb-", "SLACK_APP_TOKEN": "xapp-"}
NEEDED: dict[str, tuple[str, ...]] = {
    "http": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"),
    "socket": ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"),
}

CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
BOT_ID = re.compile(r"^B[A-Z0-9]{2,}$")
TOP_KEYS = {"passive_channels", "allow_bots", "escalation"}
ESCALATION_KEYS = {"default", "owners"}
TARGET_KEYS = {"channel", "usergroup"}


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to change."""


@dataclass(frozen=True)
class EscalationTarget:
    """Where an escalation is posted and which user group (`<!subteam^ID>`) it mentions."""

    channel: str
    usergroup: str | None = None


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str = field(default="", repr=False)
    signing_secret: str = field(default="", repr=False)
    app_token: str = field(default="", repr=False)
    api_url: str = DEFAULT_API_URL
    db_path: str = DEFAULT_DB
    passive_channels: frozenset[str] = frozenset()
    allow_bots: bool | frozenset[str] = False
    escalation: Mapping[str, EscalationTarget] = field(default_factory=dict)
    default_escalation: EscalationTarget | None = None

    def escalation_for(self, owner: str) -> EscalationTarget | None:
        """The target for an entry's owner, else the default; None means escalation is not set up."""
        return self.escalation.get(owner, self.default_escalation)

    def escalation_owners(self) -> frozenset[str]:
        """Owners whose answers get an Escalate button."""
        return frozenset(OWNERS) if self.default_escalation else frozenset(self.escalation)

    def answers_bot(self, bot_id: str) -> bool:
        """Whether passive mode may answer a message posted by another bot."""
        return self.allow_bots if isinstance(self.allow_bots, bool) else bot_id in self.allow_bots

    def problems(self, mode: Mode) -> list[str]:
        """Every reason the bot cannot start in `mode`, as lines a person can act on."""
        values = {"SLACK_BOT_TOKEN": self.bot_token, "SLACK_SIGNING_SECRET": self.signing_secret,
                  "SLACK_APP_TOKEN": self.app_token}
        lines = []
        for name in NEEDED[mode]:
            value = values[name]
            prefix = TOKEN_PREFIX.get(name)
            if not value:
                lines.append(f"{name} is not set: it is {TOKEN_HELP[name]}")
            elif prefix and not value.startswith(prefix):
                lines.append(f"{name} does not start with {prefix!r}: it must be {TOKEN_HELP[name]}")
        return lines


def startup_message(problems: list[str], mode: Mode) -> str:
    """One message for everything missing, so a person fixes it in one go."""
    how = "HTTP mode" if mode == "http" else "Socket Mode"
    return f"voicecode cannot start the Slack bot in {how}:\n" + "\n".join(f"  - {p}" for p in problems)


def load_config(path: str | None = None, environ: Mapping[str, str] | None = None) -> SlackConfig:
    """Build the config from the environment and the YAML file at `path` (else $VOICECODE_CONFIG, if set)."""
    env = os.environ if environ is None else environ
    file_path = path or env.get("VOICECODE_CONFIG") or None
    settings = _read_yaml(Path(file_path)) if file_path else {}
    escalation = settings.get("escalation") or {}
    return SlackConfig(
        bot_token=env.get("SLACK_BOT_TOKEN", "").strip(),
        signing_secret=env.get("SLACK_SIGNING_SECRET", "").strip(),
        app_token=env.get("SLACK_APP_TOKEN", "").strip(),
        api_url=env.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL,
        db_path=default_db_path(env),
        passive_channels=frozenset(_ids(settings, "passive_channels", CHANNEL_ID, file_path)),
        allow_bots=_allow_bots(settings.get("allow_bots", False), file_path),
        escalation={owner: _target(raw, f"escalation.owners.{owner}", file_path)
                    for owner, raw in (escalation.get("owners") or {}).items()},
        default_escalation=_target(escalation["default"], "escalation.default", file_path)
        if escalation.get("default") else None,
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror}); check VOICECODE_CONFIG") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping with keys {', '.join(sorted(TOP_KEYS))}")
    _known_keys(data, TOP_KEYS, "", path)
    escalation = data.get("escalation") or {}
    if not isinstance(escalation, dict):
        raise ConfigError(f"{path}: 'escalation' must be a mapping with 'default' and/or 'owners'")
    _known_keys(escalation, ESCALATION_KEYS, "escalation.", path)
    owners = escalation.get("owners") or {}
    if not isinstance(owners, dict):
        raise ConfigError(f"{path}: 'escalation.owners' must map an owner to {{channel, usergroup}}")
    for owner in owners:
        if owner not in OWNERS:
            raise ConfigError(f"{path}: escalation.owners.{owner}: unknown owner (one of {', '.join(OWNERS)})")
    return data


def _known_keys(data: dict[str, Any], allowed: set[str], prefix: str, path: Path | str) -> None:
    """Reject typos: a misspelt key would otherwise silently drop an escalation route."""
    for key in data:
        if key not in allowed:
            raise ConfigError(f"{path}: unknown key '{prefix}{key}' (allowed: {', '.join(sorted(allowed))})")


def _ids(settings: dict[str, Any], key: str, pattern: re.Pattern[str], path: str | None) -> list[str]:
    values = settings.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) and pattern.match(v) for v in values):
        raise ConfigError(f"{path}: '{key}' must be a list of Slack ids such as C0123ABCD (not channel names)")
    return values


def _allow_bots(value: Any, path: str | None) -> bool | frozenset[str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and all(isinstance(v, str) and BOT_ID.match(v) for v in value):
        return frozenset(value)
    raise ConfigError(f"{path}: 'allow_bots' must be true, false or a list of bot ids such as B0123ABCD")


def _target(raw: Any, where: str, path: str | None) -> EscalationTarget:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {where} must be a mapping with 'channel' and optional 'usergroup'")
    _known_keys(raw, TARGET_KEYS, f"{where}.", path or "")
    channel, usergroup = raw.get("channel"), raw.get("usergroup")
    if not isinstance(channel, str) or not CHANNEL_ID.match(channel):
        raise ConfigError(f"{path}: {where}.channel must be a channel id such as C0123ABCD, got {channel!r}")
    if usergroup is not None and (not isinstance(usergroup, str) or not USERGROUP_ID.match(usergroup)):
        raise ConfigError(f"{path}: {where}.usergroup must be a user group id such as S0123ABCD, got {usergroup!r}")
    return EscalationTarget(channel=channel, usergroup=usergroup)
