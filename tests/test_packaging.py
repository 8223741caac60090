"""The installed package: compiled module present, torch-free import, bundled data reachable."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources


def test_compiled_module_imports():
    import pyembed._nswg as native

    assert native.FORMAT_VERSION == 5
    assert hasattr(native, "NativeIndex")


def test_import_pyembed_leaves_torch_out():
    code = "import sys, pyembed, pyembed.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_import_pyembed_distributed_leaves_ray_out():
    code = "import sys, pyembed, pyembed.distributed; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_import_pyembed_and_its_cli_leave_the_web_stack_and_pillow_out():
    code = (
        "import sys, pyembed, pyembed.cli, pyembed.datasets.images; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_page_files_ship_in_the_package():
    static = resources.files("pyembed.serve") / "static"
    assert {"index.html", "app.js", "style.css"} <= {p.name for p in static.iterdir()}


def test_bundled_ucr_data_found():
    root = resources.files("pyembed") / "data" / "ucr"
    names = {p.name for p in root.iterdir() if p.is_dir()}
    assert {"GunPoint", "ItalyPowerDemand", "ArrowHead", "Coffee"} <= names
    assert (resources.files("pyembed") / "data" / "ucr_published.csv").is_file()
