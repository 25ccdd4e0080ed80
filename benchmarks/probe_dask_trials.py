"""Per-trial times of the same 6 random-search trials on loky workers and on a 2-worker Dask LocalCluster.

``bench_parallel.py`` found the Dask run slower than n_jobs=1; this probe
separates scheduling gaps from slower trials: it prints the wall time, the
search time, every trial's own ``fit_time`` and, summed over the
processes that ran the trials (the descendants of this one, read from
``/proc``, Linux only), their CPU seconds and minor page faults: both hardly
depend on what else the machine runs, unlike the times. With ``--no-profile`` the
Dask workers run with their statistical profiler off
(``distributed.worker.profile.enabled: False``).

    python benchmarks/probe_dask_trials.py {loky,dask} [--no-profile] [--no-malloc-trim]
"""

import argparse
import os
import time
import warnings

import numpy as np


def _descendants_usage():
    """``{pid: (cpu_seconds, minor_faults)}`` of every descendant process of this one."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # after the command: state ppid ... minflt (8th) ... utime stime (12th, 13th)
            stats[int(name)] = (int(fields[1]), int(fields[7]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    children, out = {}, {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    todo = list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        out[pid] = (stats[pid][2], stats[pid][1])
        todo += children.get(pid, [])
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=("loky", "dask"))
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-malloc-trim", action="store_true",
                        help="workers without dask's MALLOC_TRIM_THRESHOLD_=65536 (the variable unset: glibc's "
                             "adaptive defaults; any value of it, even 2**30, turns glibc's adaptive mmap threshold off)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from joblib import parallel_config

    from sknas import AutoNASClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 20))
    y = (X[:, :3].sum(axis=1) + 0.3 * rng.normal(size=4000) > 0).astype(int)

    def run():
        est = AutoNASClassifier(search="random", time_budget=None, max_trials=6, max_epochs=20, n_jobs=2,
                                random_state=0)
        before = _descendants_usage()
        start = time.perf_counter()
        est.fit(X, y)
        after = _descendants_usage()
        cpu = sum(c - before.get(pid, (0.0, 0))[0] for pid, (c, _) in after.items())
        faults = sum(m - before.get(pid, (0.0, 0))[1] for pid, (_, m) in after.items())
        flags = ", ".join(f for f, on in (("profiler off", args.no_profile), ("no malloc trim", args.no_malloc_trim)) if on)
        print(f"{args.backend}{f' ({flags})' if flags else ''}: wall {time.perf_counter() - start:.1f} s, "
              f"search {est.time_spent_['search']:.1f} s, trial fit_time "
              f"{[round(v, 1) for v in est.search_results_['fit_time']]}, trial processes: CPU {cpu:.1f} s, "
              f"{faults / 1e3:.0f}k minor page faults", flush=True)

    if args.backend == "loky":
        run()
        return
    import dask
    import distributed

    config = {"distributed.worker.profile.enabled": not args.no_profile}
    if args.no_malloc_trim:
        config["distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"] = None  # None unsets it
    with dask.config.set(config):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                      host="127.0.0.1") as cluster, distributed.Client(cluster):
            with parallel_config(backend="dask"):
                run()


if __name__ == "__main__":
    main()
