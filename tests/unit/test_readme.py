"""The README's configuration example is a working configuration."""
import re

from gateway.config import load_settings
from tests.conftest import ROOT


def test_readme_configuration_example_loads(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[server]" in b]
    config = tmp_path / "gateway.toml"
    config.write_text(block, encoding="utf-8")
    settings = load_settings(config, environ={})
    assert settings.server.port == 8080 and settings.sender("kommune-sak") is not None
    assert settings.svarut.receiving_systems[0].system == "Public 360"
    assert settings.intake.max_print_shipment_bytes == 350 * 1024 * 1024


def test_readme_examples_of_other_files_parse(tmp_path):
    """The other TOML snippets (a MeMo sender, a folder-routing rule) are valid TOML of their kind."""
    import tomllib

    from gateway.mapping.routing_rules import parse_rules

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[server]" not in b]
    rules = [b for b in blocks if "[[rules]]" in b]
    assert rules and parse_rules(tomllib.loads(rules[0])["rules"], source="README")
    senders = [b for b in blocks if "[[senders]]" in b]
    assert senders and tomllib.loads(senders[0])["senders"][0]["signing_certificate"]
