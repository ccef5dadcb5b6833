"""Shared fixtures: the loopback-only socket guard, specs, PDFs, settings, databases,
an in-process Twisted reactor and gateways on loopback ports, and zeep clients."""
from __future__ import annotations

import ipaddress
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT.parent / "shared" / "specs"
SVARUT_WSDL = SPECS / "svarut" / "ForsendelsesServiceV9.wsdl"
SVARUT_NS = "http://www.ks.no/svarut/servicesV9"
SVARUT_BINDING = f"{{{SVARUT_NS}}}ForsendelsesServiceV9SoapBinding"

# ---------------------------------------------------------------- network guard


def _loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else None
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may only reach 127.0.0.0/8, ::1 and Unix sockets."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: object) -> object:
        if not _loopback(address):
            raise ConnectionRefusedError(f"tests may not connect to {address!r} (loopback only)")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if not _loopback(address):
            raise ConnectionRefusedError(f"tests may not connect to {address!r} (loopback only)")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


# ---------------------------------------------------------------- official specs


def require_spec(path: Path) -> Path:
    """The official file, or skip (fail in CI, where ../shared is always present)."""
    if not path.exists():
        message = f"{path} is missing: clone the project with ../shared/specs beside it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def svarut_wsdl() -> Path:
    return require_spec(SVARUT_WSDL)


# ---------------------------------------------------------------- documents


def make_pdf(text: str = "Vedtak", *, pages: int = 1, padding: int = 0) -> bytes:
    """A real PDF made with fpdf2; ``padding`` adds incompressible bytes (for size tests)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_compression(False)
    for page in range(pages):
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.cell(text=f"{text} - side {page + 1}")
    if padding:
        pdf.set_subject(os.urandom(padding // 2).hex())
    return bytes(pdf.output())


def make_certificate(directory: Path, name: str = "gateway") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def make_encrypted_pdf(user_password: str = "hemmelig", owner_password: str = "eier") -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("Hemmelig"))))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="session")
def client_key() -> object:
    """An RSA key for Maskinporten JWT grants (one per session: generating one takes time)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def pdf() -> bytes:
    return make_pdf()


# ---------------------------------------------------------------- settings and databases

SENDER_PASSWORD = "s3cret-kommune"


def fault_code(content: bytes) -> str | None:
    """The gateway's stable code in a SOAP fault body (``Detail/code``), or None."""
    from lxml import etree

    try:
        doc = etree.fromstring(content)
    except etree.XMLSyntaxError:
        return None
    code = doc.find(".//{urn:gateway:faults}code")
    return code.text if code is not None else None
OTHER_PASSWORD = "s3cret-annen"


@pytest.fixture(scope="session")
def _password_hashes() -> dict[str, str]:
    from gateway.passwords import hash_password

    return {"kommune-sak": hash_password(SENDER_PASSWORD), "annen-kommune": hash_password(OTHER_PASSWORD)}


def _pg_admin_url() -> str | None:
    return os.environ.get("GATEWAY_TEST_DATABASE_URL") or None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    yield from _fresh_postgres()


@pytest.fixture
def repo(database_url: str):  # type: ignore[no-untyped-def]
    """A :class:`Repository` over a fresh, migrated database of each kind."""
    from gateway.store import migrate
    from gateway.store.engine import create_engine
    from gateway.store.repository import Repository

    engine = create_engine(database_url)
    migrate.upgrade(engine)
    yield Repository(engine)
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gateway.db'}"


def _fresh_postgres() -> Iterator[str]:
    admin = _pg_admin_url()
    if admin is None:
        message = "GATEWAY_TEST_DATABASE_URL is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    import sqlalchemy as sa

    from gateway.store.engine import normalize_url

    admin_url = sa.make_url(normalize_url(admin))
    name = f"gwtest_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def settings_factory(tmp_path: Path, _password_hashes: dict[str, str]) -> Callable[..., object]:
    from gateway.config import IntakePolicy, ReceivingSystem, SenderSettings, ServerSettings, Settings, StorageSettings, SvarUtSettings

    def factory(database_url: str | None = None, *, intake: IntakePolicy | None = None, channels: object = None,
                dispatch: object = None, **server: object) -> Settings:
        data_dir = tmp_path / "var"
        return Settings(
            server=ServerSettings(host="127.0.0.1", port=0, threads=4, **server),  # type: ignore[arg-type]
            storage=StorageSettings(data_dir=str(data_dir), database_url=database_url or f"sqlite:///{data_dir / 'gateway.db'}"),
            intake=intake or IntakePolicy(),
            **({"channels": channels} if channels is not None else {}),
            **({"dispatch": dispatch} if dispatch is not None else {}),
            svarut=SvarUtSettings(
                shipment_types=("Vedtak", "Brev"),
                receiving_systems=(ReceivingSystem(organization_number="974720760", system="Public 360", shipment_type="Byggesak", recipient_id="kommune-arkiv", level=3),),
            ),
            senders=(
                SenderSettings(name="kommune-sak", password_hash=_password_hashes["kommune-sak"], organization_number="974720760", display_name="Kommune"),
                SenderSettings(name="annen-kommune", password_hash=_password_hashes["annen-kommune"], organization_number="964338531"),
            ),
            source="tests",
        )

    return factory


# ---------------------------------------------------------------- reactor and gateways


@pytest.fixture(scope="session")
def reactor_thread() -> Iterator[object]:
    """One Twisted reactor for the whole session, in a daemon thread."""
    from twisted.internet import reactor

    thread = threading.Thread(target=lambda: reactor.run(installSignalHandlers=False), name="reactor", daemon=True)
    thread.start()
    yield reactor
    reactor.callFromThread(reactor.stop)
    thread.join(timeout=10)


class GatewayUnderTest:
    def __init__(self, runtime: object, running: object) -> None:
        self.runtime = runtime
        self.running = running
        host, port = running.address  # type: ignore[attr-defined]
        scheme = "https" if runtime.settings.server.tls else "http"  # type: ignore[attr-defined]
        self.base_url = f"{scheme}://{host}:{port}"

    @property
    def svarut_url(self) -> str:
        from gateway.soap.svarut import PATH

        return self.base_url + PATH


@pytest.fixture
def start_gateway(reactor_thread: object) -> Iterator[Callable[..., GatewayUnderTest]]:
    from twisted.internet.threads import blockingCallFromThread

    from gateway.runtime import Runtime
    from gateway.server import listen

    started: list[GatewayUnderTest] = []

    def start(settings: object, **runtime_kwargs: object) -> GatewayUnderTest:
        runtime = Runtime.open(settings, **runtime_kwargs)  # type: ignore[arg-type]
        running = blockingCallFromThread(reactor_thread, listen, runtime, reactor_thread)
        gw = GatewayUnderTest(runtime, running)
        started.append(gw)
        return gw

    yield start
    for gw in started:
        blockingCallFromThread(reactor_thread, gw.running.stop)  # type: ignore[attr-defined]
        gw.runtime.close()  # type: ignore[attr-defined]


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayUnderTest], settings_factory: Callable[..., object], database_url: str) -> GatewayUnderTest:
    """A gateway on a loopback port, on SQLite and on PostgreSQL."""
    return start_gateway(settings_factory(database_url))


@pytest.fixture
def sqlite_gateway(start_gateway: Callable[..., GatewayUnderTest], settings_factory: Callable[..., object]) -> GatewayUnderTest:
    return start_gateway(settings_factory())


# ---------------------------------------------------------------- zeep clients


@pytest.fixture
def svarut_client(svarut_wsdl: Path) -> Callable[..., object]:
    """``svarut_client(gateway, user, password)`` → (zeep client, bound service)."""
    import requests
    from zeep import Client
    from zeep.transports import Transport

    sessions: list[requests.Session] = []

    def make(gw: GatewayUnderTest, user: str = "kommune-sak", password: str = SENDER_PASSWORD, *, verify: object = True) -> tuple[object, object]:
        session = requests.Session()
        session.auth = (user, password)
        session.trust_env = False  # no proxies or CA bundles from the environment
        session.verify = verify
        sessions.append(session)
        client = Client(str(svarut_wsdl), transport=Transport(session=session, timeout=30, operation_timeout=30))
        return client, client.create_service(SVARUT_BINDING, gw.svarut_url)

    yield make
    for s in sessions:
        s.close()
