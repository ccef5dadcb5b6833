from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="nordic-mail-gateway",
    version="0.1.0",
    description="SOAP/XML gateway for Nordic public-sector digital mail",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["gateway", "gateway.*"]),
    package_data={"gateway.store": ["migrations/*.py", "migrations/*.mako", "migrations/versions/*.py"],
                  "gateway.console": ["templates/*.html", "static/*.css", "static/*.svg"]},
    include_package_data=True,
    # spyne 2.14 does not run on Python 3.12+.
    python_requires=">=3.11,<3.12",
    install_requires=[
        "spyne>=2.14,<2.15",
        "twisted[tls]>=24.11,<27",
        "lxml>=5.2,<7",
        "xmlschema>=3.3,<5",
        "zeep>=4.2,<5",
        "signxml>=4.0,<6",
        "pypdf>=7.1,<8",  # its Configuration sets decoding limits per call (gateway/documents/pdf.py); 7.1 is tested
        "SQLAlchemy>=2.0,<2.2",
        "alembic>=1.13,<2",
        "psycopg[binary]>=3.1,<4",
        "python-stdnum>=1.20,<3",
        "pybase64>=1.3,<2",
        "fpdf2>=2.7,<3",
        "segno>=1.6,<2",
        "holidays>=0.50,<1",
        "PyJWT[crypto]>=2.8,<3",
        "rich>=13,<15",
        "pika>=1.3,<2",  # SF1601 status events from Beskedfordeler (AMQP 0-9-1)
        "Jinja2>=3.1,<4",  # the operator console's pages (autoescaped)
        "Werkzeug>=3.0,<4",  # the operator console's requests, forms, cookies and routes
        "prometheus_client>=0.20,<1",  # /metrics, multi-process mode across the serving processes (gateway/metrics.py)
        "openpyxl>=3.1,<4",  # the per-letter report as XLSX, in write-only mode (gateway/reports/)
    ],
    extras_require={
        "test": [
            "pytest>=8,<10", "requests>=2.31,<3", "hypothesis>=6.100,<7", "jsonschema>=4.20,<5", "suds-community>=1.2,<2",
            "mypy>=2.4,<3", "import-linter>=2.1,<3",  # tests/unit/test_typing.py; the layer contracts
            "selenium>=4.20,<5",  # the console's browser tests (Debian's chromium and chromium-driver)
            "markdown-it-py>=3,<5",  # the Altinn 3 double tells plain text from markdown, as Altinn does with Markdig
            "aiosmtpd>=1.4,<2",  # a real SMTP server on loopback for the alert mails (STARTTLS, AUTH)
        ],
    },
    entry_points={"console_scripts": ["gateway=gateway.cli:main"]},
)
