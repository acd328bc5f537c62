"""Toy world: time each training phase for a few steps and project the default config's wall time.

Runs ``--steps`` steps of pretraining, GRPO and distillation of the config's shapes (one torch
thread, as in ``train_all``), then projects the time of ``python -m analysis.toyworld train``:
pretraining alone, then the RL runs and the distillation spread over ``workers`` processes
(longest-job-first). The projection assumes the machine is otherwise idle; the load average is
printed with the figures, since other processes on a shared machine slow every phase.

    .venv/bin/python benchmarks/bench_toyworld_phases.py [--config configs/toyworld/default.yaml]
"""

from __future__ import annotations

import argparse
import os
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default=None)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from analysis.toyworld.config import load_config
    from analysis.toyworld.distill import distill
    from analysis.toyworld.pretrain import pretrain
    from analysis.toyworld.rl import grpo

    cfg = load_config(args.config)
    load_before = os.getloadavg()[0]
    short = cfg.model_copy(update={"pretrain": cfg.pretrain.model_copy(update={"steps": args.steps})})
    t0 = time.perf_counter()
    base, _ = pretrain(short)
    per_pretrain = (time.perf_counter() - t0) / args.steps
    rl_times = {}
    for run, rl in cfg.rl.items():
        t0 = time.perf_counter()
        grpo(base, cfg, rl.model_copy(update={"steps": args.steps, "snapshots": ()}), seed=0)
        rl_times[run] = ((time.perf_counter() - t0) / args.steps, rl.steps, len(rl.seeds))
    per_distill = 0.0
    if cfg.distill is not None:
        d = cfg.model_copy(update={"distill": cfg.distill.model_copy(update={"steps": args.steps})})
        t0 = time.perf_counter()
        distill(base, d)
        per_distill = (time.perf_counter() - t0) / args.steps
    load_after = os.getloadavg()[0]

    pre = per_pretrain * cfg.pretrain.steps
    jobs = [per * steps for per, steps, seeds in rl_times.values() for _ in range(seeds)]
    if cfg.distill is not None:
        jobs.append(per_distill * cfg.distill.steps)
    lanes = [0.0] * cfg.workers
    for j in sorted(jobs, reverse=True):
        lanes[lanes.index(min(lanes))] += j
    print(f"load average {load_before:.2f} before, {load_after:.2f} after (2 cores)")
    print(f"pretrain: {per_pretrain:.3f} s/step x {cfg.pretrain.steps} = {pre:.0f} s")
    for run, (per, steps, seeds) in rl_times.items():
        print(f"RL {run}: {per:.3f} s/step x {steps} = {per * steps:.0f} s per seed, {seeds} seed(s)")
    if cfg.distill is not None:
        print(f"distill: {per_distill:.3f} s/step x {cfg.distill.steps} = {per_distill * cfg.distill.steps:.0f} s")
    print(
        f"projected: pretrain {pre:.0f} s + {len(jobs)} jobs on {cfg.workers} workers {max(lanes):.0f} s "
        f"= {pre + max(lanes):.0f} s ({(pre + max(lanes)) / 60:.1f} min), plus process start-up"
    )


if __name__ == "__main__":
    main()
