"""The wired-up gateway: settings, database, blob store and domain services.

One :class:`Runtime` per process (or per test). Opening it applies the migrations, so a
fresh data folder is ready on first start.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from gateway.admission import MemoryBudget
from gateway.auth import Authenticator
from gateway.channels.base import Channel
from gateway.config import Settings
from gateway.dispatch.dispatcher import Dispatcher
from gateway.dispatch.register import CompositeRegister, DatabaseRegister, RegistrationLookup
from gateway.dispatch.worker import WorkerPool
from gateway.documents.printability import PrintRules
from gateway.domain.memo_intake import MemoIntake, build_verifiers
from gateway.domain.noark_intake import NoarkIntake, receiver_party
from gateway.domain.shipments import ShipmentService
from gateway.mapping.arkivmelding import letter_from_arkivmelding
from gateway.mapping.routing_rules import load_rules
from gateway.metrics import Metrics
from gateway.model import Clock, Shipment, utcnow
from gateway.store import migrate
from gateway.store.blobs import DocumentStore, FileBlobStore
from gateway.store.dispatch import DispatchStore
from gateway.store.engine import create_engine
from gateway.spool import process_spool_dir
from gateway.store.repository import Repository
from gateway.xml.schemas import SchemaRegistry


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    repository: Repository
    documents: DocumentStore
    shipments: ShipmentService
    authenticator: Authenticator
    dispatch_store: DispatchStore
    dispatcher: Dispatcher
    schemas: SchemaRegistry
    memo: MemoIntake
    noark: NoarkIntake
    #: Shared by every endpoint of this process (gateway/admission.py).
    memory_budget: MemoryBudget
    #: This process's MTOM spool (gateway/spool.py), on the document files' file system.
    spool_dir: Path
    #: This process's counters and histograms (gateway/metrics.py).
    metrics: Metrics
    workers: WorkerPool | None = None

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        upgrade: bool = True,
        channels: Mapping[str, Channel] | None = None,
    ) -> "Runtime":
        engine = create_engine(settings.storage.resolved_database_url, pool_size=settings.server.threads + settings.dispatch.workers)
        if upgrade:
            migrate.upgrade(engine)
        repository = Repository(engine)
        documents = DocumentStore(engine, FileBlobStore(settings.storage.blob_dir),
                              inline_max_bytes=settings.storage.inline_document_bytes,
                              in_database=settings.storage.documents_in_database)
        metrics = Metrics()
        digipost_print = settings.channels.print.enabled and settings.channels.print.provider == "digipost"
        shipments = ShipmentService(repository, documents, policy=settings.intake, clock=clock,
                                    routing_rules=load_rules(settings.dispatch.folder_routing_file or None),
                                    print_rules=PrintRules() if digipost_print else None, metrics=metrics)
        store = DispatchStore(engine, metrics=metrics, files=documents.files)
        if channels is None:
            from gateway.channels.factory import build_channels

            channels = build_channels(settings, clock=clock)
        schemas = SchemaRegistry.load(settings.storage.schema_dir)
        memo = MemoIntake(shipments, schemas, build_verifiers({s.name: s for s in settings.senders}))
        lookup = channels.get("digitalpost")
        register = CompositeRegister(DatabaseRegister(store), lookup if isinstance(lookup, RegistrationLookup) else None)
        dispatcher = Dispatcher(settings=settings, repository=repository, store=store, documents=documents, channels=channels,
                                register=register, clock=clock)
        return cls(
            settings=settings,
            engine=engine,
            repository=repository,
            documents=documents,
            shipments=shipments,
            authenticator=Authenticator(settings.senders),
            dispatch_store=store,
            dispatcher=dispatcher,
            schemas=schemas,
            memo=memo,
            noark=NoarkIntake(shipments, settings.noark, arkivmelding=letter_from_arkivmelding),
            memory_budget=MemoryBudget(settings.server.memory_budget_bytes, wait_seconds=settings.server.memory_wait_seconds),
            spool_dir=process_spool_dir(settings.storage.spool_dir),
            metrics=metrics,
        )

    def noark_can_receive(self, orgnr: str) -> bool:
        """noarkExchange ``GetCanReceiveMessage``: would a letter to ``orgnr`` be delivered (a
        digital mailbox the register knows, or print)? A read of the register, nothing stored."""
        recipient = receiver_party(orgnr)
        if recipient is None:
            return False
        probe = Shipment(id="", sender="", title="", recipient=recipient, documents=())
        return self.dispatcher.route_for(probe).channel is not None

    def start_workers(self, count: int | None = None) -> WorkerPool:
        """Run dispatch workers in this process (threads)."""
        d = self.settings.dispatch
        self.dispatcher.ensure_periodic_jobs()
        self.workers = WorkerPool(self.dispatcher, self.dispatch_store, count=d.workers if count is None else count,
                                  lease_seconds=d.lease_seconds, poll_interval=d.poll_interval_seconds,
                                  batch=d.claim_batch).start()
        return self.workers

    def close(self) -> None:
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        self.engine.dispose()
