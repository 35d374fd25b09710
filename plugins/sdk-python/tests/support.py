"""Shared helpers: paths, and importing a plugin's `app.py` under a name of its own."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SDK = Path(__file__).resolve().parent.parent
ROOT = SDK.parent.parent
if str(SDK) not in sys.path:
    sys.path.insert(0, str(SDK))

DATE_CLEANUP = ROOT / "plugins" / "date-cleanup-py"
TESTBED = ROOT / "tests" / "guests" / "testbed-py"
TEMPLATES = ROOT / "host" / "cli" / "templates" / "plugin"


def load_app(path: Path, name: str):
    """Imports `path` (an app.py) as module `name` (every plugin's module is called `app`)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
