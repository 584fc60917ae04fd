"""Slack settings: environment and YAML, clear errors for typos and missing tokens, and the app manifest."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.slack.app import COMMAND, SHORTCUT
from bot.slack.config import ConfigError, EscalationTarget, SlackConfig, load_config

ROOT = Path(__file__).resolve().parent.parent
FULL = """
passive_channels: [C0ALERTS01]
allow_bots: [B0GRAFANA1]
escalation:
  default: {channel: C0ONCALL01, usergroup: S0ONCALL01}
  owners:
    vendor-platform: {channel: C0VENDOR01, usergroup: S0LIAISON1}
    your-server: {channel: C0BACKEND1}
"""


def _config(tmp_path: Path, text: str, **env: str) -> SlackConfig:
    path = tmp_path / "voicecode.yaml"
    path.write_text(text)
    return load_config(str(path), environ=env)


def test_environment_and_yaml_make_the_config(tmp_path: Path) -> None:
    config = _config(tmp_path, FULL, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s3cret",
                     SLACK_API_URL="http://127.0.0.1:9/api/", VOICECODE_DB="/tmp/v.db")
    assert config.api_url == "http://127.0.0.1:9/api/" and config.db_path == "/tmp/v.db"
    assert config.passive_channels == {"C0ALERTS01"}
    assert config.answers_bot("B0GRAFANA1") and not config.answers_bot("B0SOMEBOT1")
    assert config.escalation_for("vendor-platform") == EscalationTarget("C0VENDOR01", "S0LIAISON1")
    assert config.escalation_for("your-server") == EscalationTarget("C0BACKEND1", None)
    assert config.escalation_for("billing") == EscalationTarget("C0ONCALL01", "S0ONCALL01")
    assert config.problems("http") == []


def test_defaults_without_a_file() -> None:
    config = load_config(None, environ={})
    assert config.api_url == "https://slack.com/api/" and config.db_path == "voicecode.db"
    assert config.passive_channels == frozenset() and not config.answers_bot("B0ANY00001")
    assert config.escalation_for("billing") is None and config.escalation_owners() == frozenset()


def test_config_path_comes_from_voicecode_config(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("passive_channels: [C0ALERTS01]\n")
    assert load_config(None, environ={"VOICECODE_CONFIG": str(path)}).passive_channels == {"C0ALERTS01"}


@pytest.mark.parametrize("text, message", [
    ("escalaton: {}", "unknown key 'escalaton'"),
    ("passive_channels: ['#alerts']", "Slack ids such as C0123ABCD"),
    ("allow_bots: yes-please", "'allow_bots' must be true, false or a list"),
    ("escalation: {owners: {ops: {channel: C0OPS00001}}}", "escalation.owners.ops: unknown owner"),
    ("escalation: {default: {channel: oncall}}", "escalation.default.channel must be a channel id"),
    ("escalation: {default: {channel: C0OPS00001, usergroup: '@oncall'}}", "usergroup must be a user group id"),
    ("escalation: {default: {channel: C0OPS00001, group: S0X0000001}}", "unknown key 'escalation.default.group'"),
    ("- just a list", "the config must be a mapping"),
    ("passive_channels: [", "invalid YAML"),
])
def test_config_mistakes_are_reported_with_the_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, text)
    assert message in str(err.value) and "voicecode.yaml" in str(err.value)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(str(tmp_path / "absent.yaml"), environ={})


def test_token_problems_name_the_variable_and_where_to_get_it() -> None:
    config = SlackConfig(bot_token="xapp-wrong-kind", app_token="")
    problems = config.problems("socket")
    assert problems[0].startswith("SLACK_BOT_TOKEN does not start with 'xoxb-'")
    assert problems[1].startswith("SLACK_APP_TOKEN is not set") and "connections:write" in problems[1]


def test_secrets_stay_out_of_repr() -> None:
    text = repr(SlackConfig(bot_token="xoxb-top-secret", signing_secret="sig-secret", app_token="xapp-secret"))
    assert "secret" not in text


def test_manifest_matches_the_listeners() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    features, settings = manifest["features"], manifest["settings"]
    assert [c["command"] for c in features["slash_commands"]] == [COMMAND]
    assert [(s["type"], s["callback_id"]) for s in features["shortcuts"]] == [("message", SHORTCUT)]
    assert len(features["shortcuts"][0]["name"]) <= 24 and len(manifest["display_information"]["name"]) <= 35
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.channels", "message.groups"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands", "chat:write", "app_mentions:read", "channels:history", "groups:history"}
    assert settings["interactivity"]["is_enabled"] is True
    urls = [features["slash_commands"][0]["url"], settings["event_subscriptions"]["request_url"],
            settings["interactivity"]["request_url"]]
    assert all(url.endswith("/slack/events") for url in urls)
