"""``[retention]``: how long document bytes are kept after a letter is over.

The rule is off by default (``documents_after_days = 0``): deleting what senders handed in is a
decision for each installation and its archive rules, not a default. Three months (90 days) is
a common rule. Only the bytes go: the letter, its documents' rows (name, size, digest, marked
``purged_at``), its history, deliveries and costs stay, so reports and the console still show
it. Letters are purged in batches by a periodic dispatch job and by ``gateway purge``.
"""
from __future__ import annotations

from gateway.frozen import frozen

__all__ = ["RetentionSettings", "check_retention"]


@frozen
class RetentionSettings:
    #: Days after a letter reached its final status before its documents' bytes are deleted; 0: never.
    documents_after_days: int = 0
    #: Hours between two runs of the periodic purge (a run that filled a batch goes on at once).
    interval_hours: float = 1.0
    #: Letters purged per transaction.
    batch_size: int = 500

    @property
    def enabled(self) -> bool:
        return self.documents_after_days > 0


def check_retention(r: RetentionSettings) -> None:
    from gateway.config.sections import ConfigError

    if r.documents_after_days < 0:
        raise ConfigError(f"retention.documents_after_days must be 0 (never) or more, got {r.documents_after_days}")
    if not 0 < r.interval_hours <= 24 * 7:
        raise ConfigError(f"retention.interval_hours must be above 0 and at most 168, got {r.interval_hours}")
    if not 1 <= r.batch_size <= 10_000:
        raise ConfigError(f"retention.batch_size must be 1-10000, got {r.batch_size}")
