import os
import signal
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

    def fire(signum, frame):
        raise TimeoutError(f"{item.nodeid} ran longer than {_TEST_TIMEOUT} s")
    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(_TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
