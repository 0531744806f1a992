import os
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


_TEST_TIMEOUT = int(os.environ.get("ACCELSIM_TEST_TIMEOUT", "0") or 0)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """ACCELSIM_TEST_TIMEOUT=N fails a test that runs longer than N seconds (used to keep the
    JIT-off coverage run on small cases)."""
    if not _TEST_TIMEOUT:
        yield
        return
    from fuzzing import time_limit
    with time_limit(_TEST_TIMEOUT, item.nodeid):
        yield
