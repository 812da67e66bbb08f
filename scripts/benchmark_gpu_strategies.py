"""GPU strategies at real SPHINX-Tiny shapes (see ``sphinx_x.runtime.gpu_suite``).

    python scripts/benchmark_gpu_strategies.py [--steps 8] [--only fsdp_full_shard ...]
"""

from sphinx_x.runtime.gpu_suite import main

if __name__ == "__main__":
    main()
