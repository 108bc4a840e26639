"""mCL-NER trainer (see ner.train, ner.cli).

Importing `ner` before torch makes torch's OpenMP threads sleep, rather than spin, between parallel
regions (OMP_WAIT_POLICY=PASSIVE, unless the environment already sets it). On a CPU shared with other
jobs, which is where this project runs, spinning threads steal the cores their own process waits for:
a 2-thread bf16 training step took 0.94-2.38 s spinning and 0.41-0.65 s sleeping at load 6 on 2 cores
(docs/benchmarks.md). Set OMP_WAIT_POLICY=ACTIVE to get spinning back on a dedicated machine.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
