import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

SYSTOLIC = str(ROOT / "arch_configs" / "systolic.yaml")
SYSTOLIC_32 = str(ROOT / "arch_configs" / "systolic_32x32.yaml")


@pytest.fixture
def root():
    return ROOT
