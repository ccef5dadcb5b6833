"""Start-up checks of ``[channels.altinn3]`` beyond the Maskinporten key (:mod:`.maskinporten`).

Altinn's API management refuses every call without the subscription key, and Altinn replaces
only its own placeholders in notification texts: any other ``$word$`` would reach the
recipient's e-mail or SMS as it stands. Both are configuration mistakes, refused here.
"""
from __future__ import annotations

import re

from gateway.config.sections import Altinn3Settings, ConfigError

__all__ = ["NOTIFICATION_PLACEHOLDERS", "check_altinn3", "unknown_placeholders"]

#: The placeholders Altinn fills in (docs; ``CreateNotificationOrderHandler.cs``).
NOTIFICATION_PLACEHOLDERS = frozenset({
    "$sendersName$", "$correspondenceRecipientName$", "$recipientName$", "$recipientNumber$",
    "$messageTitle$", "$resourceName$",
})
_PLACEHOLDER = re.compile(r"\$[A-Za-z]\w*\$")
TEMPLATES = ("GenericAltinnMessage", "CustomMessage")


def unknown_placeholders(text: str) -> list[str]:
    return [p for p in _PLACEHOLDER.findall(text) if p not in NOTIFICATION_PLACEHOLDERS]


def check_altinn3(a: Altinn3Settings) -> None:
    """ConfigError naming the key: a missing subscription key, an unknown template or placeholder."""
    if not a.subscription_key.strip():
        raise ConfigError("[channels.altinn3] needs subscription_key (the Ocp-Apim-Subscription-Key Altinn gives the "
                          "service owner; Altinn denies every request without it), or GATEWAY_ALTINN3_SUBSCRIPTION_KEY")
    if a.notification_template not in TEMPLATES:
        raise ConfigError(f"channels.altinn3.notification_template must be one of {', '.join(TEMPLATES)}, "
                          f"got {a.notification_template!r}")
    for key in ("email_subject", "email_body", "sms_body"):
        unknown = unknown_placeholders(getattr(a, key))
        if unknown:
            raise ConfigError(f"channels.altinn3.{key} uses {', '.join(unknown)}, which Altinn does not fill in "
                              f"(the recipient would see it as it stands); known are {', '.join(sorted(NOTIFICATION_PLACEHOLDERS))}")
