"""The shape of the code, checked: the layers in .importlinter, and modules small enough to
hold one job (the issue that cut the core: about 450 lines at most)."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 450


def test_the_import_layers_hold():
    """No package imports a layer above it, lazy imports included (import-linter reads them)."""
    lint = Path(sys.executable).with_name("lint-imports")
    command = [str(lint)] if lint.exists() else [shutil.which("lint-imports") or "lint-imports"]
    result = subprocess.run([*command, "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_package_and_module_of_gateway_has_its_layer():
    """A new top-level module must be placed in the layers, or nothing checks its imports."""
    text = (ROOT / ".importlinter").read_text(encoding="utf-8")
    block = text.split("layers =", 1)[1].split("\n\n", 1)[0]
    placed = {name.strip() for line in block.splitlines() for name in line.replace(":", "|").split("|") if name.strip()}
    present = {path.stem if path.is_file() else path.name for path in (ROOT / "gateway").iterdir()
               if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()}
    assert present - placed == set()


def test_no_module_is_over_about_450_lines():
    sizes = {str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
             for path in (ROOT / "gateway").rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
