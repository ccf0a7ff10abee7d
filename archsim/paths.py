"""Where the bundled configs live (the repository root of an editable install)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("ARCHSIM_ROOT", Path(__file__).resolve().parent.parent))
ARCH_DIR = ROOT / "arch_configs"
MODELS_DIR = ROOT / "workloads" / "models"
VALIDATION_DIR = ROOT / "validation"
SWEEPS_DIR = ROOT / "sweeps"
