"""Student code under Landlock can use every float dtype: PyTorch's cpuinfo reads /proc/cpuinfo (regression).

Without it, `tensor.to(torch.float16)` raised "Failed to initialize cpuinfo!" inside the sandbox, so a correct
answer to an exercise that works in half precision was graded as an error. Only that one file of /proc opens.
"""
import subprocess
import sys

import pytest

from ft_course import sandbox

CODE = """
import torch
from ft_course import sandbox
sandbox.restrict(sandbox.readable_paths(), [{tmp!r}])
print(float(torch.ones(4).to(torch.float16).sum()), float(torch.ones(4).to(torch.bfloat16).sum()))
try: open("/proc/self/status").read(); print("proc-open")
except PermissionError: print("proc-closed")
"""


@pytest.mark.skipif(sandbox.landlock_abi() < 1, reason="needs Landlock (Linux >= 5.13)")
def test_half_precision_works_and_the_rest_of_proc_stays_closed(tmp_path):
    out = subprocess.run([sys.executable, "-c", CODE.format(tmp=str(tmp_path))], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["4.0", "4.0", "proc-closed"], (out.stdout, out.stderr[-2000:])
