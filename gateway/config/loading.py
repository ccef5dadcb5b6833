"""Reading the settings: the TOML file, ``GATEWAY_<SECTION>_<KEY>`` overrides, and each value coerced to its field's type with an error that names the key."""
from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway import passwords
from gateway.config.checks import check
from gateway.config.sections import (
    AlertSettings,
    DEMO_ORGANIZATION_NUMBER,
    DEMO_SENDER_NAME,
    DEMO_SENDER_PASSWORD,
    Altinn2Settings,
    Altinn3Settings,
    ChannelSettings,
    ConfigError,
    ConsoleSettings,
    DigipostSettings,
    DigitalPostSettings,
    DispatchSettings,
    IntakePolicy,
    LoggingSettings,
    MetricsSettings,
    PrintSettings,
    ReceivingSystem,
    RetentionSettings,
    SenderSettings,
    Sf1601Settings,
    ServerSettings,
    Settings,
    StorageSettings,
    SvarUtSettings,
    NoarkSettings,
    OperatorSettings,
)

#: [channels.digitalpost]: the ways into Digital Post, and the MeMo versions the gateway writes.
DIGITALPOST_TRANSPORTS = ("ngdp", "sf1601")
DIGITALPOST_MEMO_VERSIONS = ("1.2", "1.1")

_ENV_SECTIONS = {
    "server": ServerSettings,
    "storage": StorageSettings,
    "intake": IntakePolicy,
    "logging": LoggingSettings,
    "dispatch": DispatchSettings,
    "noark": NoarkSettings,
    "retention": RetentionSettings,
}


def demo_sender() -> SenderSettings:
    return SenderSettings(
        name=DEMO_SENDER_NAME,
        password_hash=passwords.hash_password(DEMO_SENDER_PASSWORD),
        organization_number=DEMO_ORGANIZATION_NUMBER,
        display_name="Demo kommune",
        sends_for=("*",),  # loopback only: try any archive's sample messages as they are
    )


def load_settings(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (or the embedded defaults), apply environment overrides, check."""
    environ = os.environ if environ is None else environ
    if path is None:
        raw: dict[str, Any] = {}
        source = "embedded defaults"
    else:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        source = str(path)
    for (section, key), value in _env_overrides(environ).items():
        raw.setdefault(section, {})[key] = value

    known = {"server", "storage", "intake", "svarut", "noark", "logging", "senders", "channels", "dispatch", "alerts", "metrics",
             "console", "operators", "retention"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(unknown)} in {source}")

    sections = {name: _build(cls, raw.get(name, {}), name) for name, cls in _ENV_SECTIONS.items()}
    svarut_raw = dict(raw.get("svarut", {}))
    systems = tuple(
        _build(ReceivingSystem, item, f"svarut.receiving_systems[{i}]")
        for i, item in enumerate(svarut_raw.pop("receiving_systems", []))
    )
    svarut = _build(SvarUtSettings, {**svarut_raw, "receiving_systems": systems}, "svarut")

    channels_raw = dict(raw.get("channels", {}))
    unknown_channels = sorted(set(channels_raw) - {"print", "altinn3", "altinn2", "digitalpost"})
    if unknown_channels:
        raise ConfigError(f"unknown channel(s) {', '.join(unknown_channels)}: known are print, altinn3, altinn2, digitalpost")
    channels = ChannelSettings(
        print=_print_settings(dict(channels_raw.get("print", {}))),
        altinn3=_build(Altinn3Settings, _altinn3_raw(channels_raw.get("altinn3", {}), environ), "channels.altinn3"),
        altinn2=_build(Altinn2Settings, channels_raw.get("altinn2", {}), "channels.altinn2"),
        digitalpost=_digitalpost(channels_raw.get("digitalpost", {})),
    )
    _check_digitalpost(channels.digitalpost)

    if "senders" in raw:
        senders = tuple(_sender(item, i) for i, item in enumerate(raw["senders"]))
    else:
        senders = (demo_sender(),)
    names = [s.name for s in senders]
    if len(set(names)) != len(names):
        raise ConfigError("sender names must be unique")
    for s in senders:
        for key in ("signing_certificate", "signing_ca"):
            value = getattr(s, key)
            if value and not Path(value).is_file():
                raise ConfigError(f"senders[{s.name}].{key}: no such file {value!r}")

    alerts = _alerts(raw.get("alerts", {}), environ)
    metrics = _build(MetricsSettings, raw.get("metrics", {}), "metrics")
    console = _console(raw.get("console", {}), raw.get("operators", []))
    settings = Settings(senders=senders, source=source, svarut=svarut, channels=channels, alerts=alerts, metrics=metrics,
                        console=console, **sections)
    check(settings)
    return settings


def _print_settings(raw: dict[str, Any]) -> PrintSettings:
    """``[channels.print]`` with its ``[channels.print.digipost]`` table."""
    digipost = _build(DigipostSettings, raw.pop("digipost", {}), "channels.print.digipost")
    return _build(PrintSettings, {**raw, "digipost": digipost}, "channels.print")


def _digitalpost(raw: Mapping[str, Any]) -> DigitalPostSettings:
    """``[channels.digitalpost]`` with its ``[channels.digitalpost.sf1601]`` table inside."""
    raw = dict(raw)
    sf1601 = _build(Sf1601Settings, raw.pop("sf1601", {}), "channels.digitalpost.sf1601")
    settings: DigitalPostSettings = _build(DigitalPostSettings, raw, "channels.digitalpost")
    return dataclasses.replace(settings, sf1601=sf1601)


def _alerts(raw: Mapping[str, Any], environ: Mapping[str, str]) -> AlertSettings:
    """``[alerts]`` with its ``[alerts.recipients]`` table (kind → addresses); the TOML key
    ``from`` is the field ``from_address``; ``GATEWAY_ALERTS_<KEY>`` overrides a scalar key."""
    raw = dict(raw)
    names = {f.name for f in dataclasses.fields(AlertSettings)} - {"recipients"}
    for name, value in environ.items():
        key = name[len("GATEWAY_ALERTS_"):].lower() if name.startswith("GATEWAY_ALERTS_") else ""
        if key in names or key == "from":
            raw[key] = value
    if "from" in raw:
        raw["from_address"] = raw.pop("from")
    table = raw.pop("recipients", {})
    if not isinstance(table, Mapping):
        raise ConfigError("[alerts.recipients] must be a table: alert kind (or default) = [addresses]")
    recipients = tuple((str(kind), _coerce(tuple[str, ...], addresses, f"alerts.recipients.{kind}"))
                       for kind, addresses in table.items())
    return dataclasses.replace(_build(AlertSettings, raw, "alerts"), recipients=recipients)


def _sender(item: Mapping[str, Any], index: int) -> SenderSettings:
    where = f"senders[{index}]"
    item = dict(item)
    if "name" not in item:
        raise ConfigError(f"{where}: 'name' is required")
    _password_hash(item, where)
    return _build(SenderSettings, item, where)


def _password_hash(item: dict[str, Any], where: str) -> None:
    """``password`` (hashed here) or ``password_hash`` (made by ``gateway hash-password``) in ``item``."""
    password = item.pop("password", None)
    if password is not None and "password_hash" in item:
        raise ConfigError(f"{where}: give 'password' or 'password_hash', not both")
    if password is not None:
        item["password_hash"] = passwords.hash_password(str(password))
    elif "password_hash" in item:
        if not passwords.is_hash(item["password_hash"]):
            raise ConfigError(f"{where}: 'password_hash' is not a hash made by 'gateway hash-password'")
    else:
        raise ConfigError(f"{where}: 'password' or 'password_hash' is required")


def _console(raw: Mapping[str, Any], operators_raw: Any) -> ConsoleSettings:
    """``[console]`` with the ``[[operators]]`` who may log in to it."""
    if not isinstance(operators_raw, list):
        raise ConfigError("operators: expected [[operators]] tables")
    operators = []
    for index, entry in enumerate(operators_raw):
        where = f"operators[{index}]"
        item = dict(entry)
        if "name" not in item:
            raise ConfigError(f"{where}: 'name' is required")
        _password_hash(item, where)
        operators.append(_build(OperatorSettings, item, where))
    return _build(ConsoleSettings, {**raw, "operators": tuple(operators)}, "console")


def _check_digitalpost(s: DigitalPostSettings) -> None:
    if s.transport not in DIGITALPOST_TRANSPORTS:
        raise ConfigError(f"channels.digitalpost.transport must be one of {', '.join(DIGITALPOST_TRANSPORTS)}, not {s.transport!r}")
    if s.memo_version not in DIGITALPOST_MEMO_VERSIONS:
        raise ConfigError(f"channels.digitalpost.memo_version must be one of {', '.join(DIGITALPOST_MEMO_VERSIONS)}, "
                          f"not {s.memo_version!r}")


def _build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"[{where}] unknown key(s): {', '.join(unknown)}")
    kwargs = {}
    for key, value in values.items():
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"[{where}] {exc}") from None


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if hint is bool:
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if hint is str:
        if not isinstance(value, (str, int)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list")
        (item_hint, _ellipsis) = typing.get_args(hint)
        return tuple(v if dataclasses.is_dataclass(v) else _coerce(item_hint, v, where) for v in value)
    return value


def _altinn3_raw(raw: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The Altinn subscription key is a secret: the environment may give it instead of the file."""
    key = environ.get("GATEWAY_ALTINN3_SUBSCRIPTION_KEY")
    return {**raw, "subscription_key": key} if key else dict(raw)


def _env_overrides(environ: Mapping[str, str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for name, value in environ.items():
        if not name.startswith("GATEWAY_"):
            continue
        rest = name[len("GATEWAY_"):].lower()
        for section, cls in _ENV_SECTIONS.items():
            prefix = section + "_"
            if rest.startswith(prefix):
                key = rest[len(prefix):]
                if key in {f.name for f in dataclasses.fields(cls)}:
                    found[(section, key)] = value
    return found


