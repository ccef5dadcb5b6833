"""The wired-up gateway: settings, database, blob store and domain services.

One :class:`Runtime` per process (or per test). Opening it applies the migrations, so a
fresh data folder is ready on first start.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from gateway.auth import Authenticator
from gateway.config import Settings
from gateway.domain.shipments import Clock, ShipmentService
from gateway.model import utcnow
from gateway.store import migrate
from gateway.store.blobs import FileBlobStore
from gateway.store.engine import create_engine
from gateway.store.repository import Repository


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    repository: Repository
    blobs: FileBlobStore
    shipments: ShipmentService
    authenticator: Authenticator

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock = utcnow, upgrade: bool = True) -> "Runtime":
        engine = create_engine(settings.storage.resolved_database_url, pool_size=settings.server.threads)
        if upgrade:
            migrate.upgrade(engine)
        repository = Repository(engine)
        blobs = FileBlobStore(settings.storage.blob_dir)
        shipments = ShipmentService(repository, blobs, policy=settings.intake, clock=clock)
        return cls(
            settings=settings,
            engine=engine,
            repository=repository,
            blobs=blobs,
            shipments=shipments,
            authenticator=Authenticator(settings.senders),
        )

    def close(self) -> None:
        self.engine.dispose()
