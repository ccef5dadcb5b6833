"""The README's configuration example is a working configuration."""
import re

from gateway.config import load_settings
from tests.conftest import ROOT


def test_readme_configuration_example_loads(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[[senders]]" in b]
    config = tmp_path / "gateway.toml"
    config.write_text(block, encoding="utf-8")
    settings = load_settings(config, environ={})
    assert settings.server.port == 8080 and settings.sender("kommune-sak") is not None
    assert settings.svarut.receiving_systems[0].system == "Public 360"
    assert settings.intake.max_print_shipment_bytes == 350 * 1024 * 1024
