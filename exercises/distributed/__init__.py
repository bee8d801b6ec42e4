# Starter code generated from solutions/distributed/__init__.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=3` restores this file.
"""Exercise 3: distributed training on real processes over torch.distributed (gloo).

Core: `shard_indices` (sharding), `ring_allreduce`, the synchronous data-parallel
training step, atomic checkpoints that resume bit-identically.
Stretch: `ParameterServer` with bounded staleness, failure detection and restart,
`pipeline_parallel` (GPipe, 1F1B), `tensor_parallel_mlp`, gradient all-reduce overlapped with
backward (`OverlappedAllReduce`, as DDP does) and ZeRO stage 1 (`ZeroOptimizer`).
The same per-rank code runs under the project's launcher (`train`) and under torchrun
(`elastic`); experiments and tests plug into the worker loop as `WorkerHooks`.
"""
from .launcher import WorkerFailure, launch
from .ring import RingStep, chunk_bounds, ring_all_gather, ring_allreduce, ring_reduce_scatter
from .sharding import shard_indices
from .checkpoint import capture_state, latest_checkpoint, load_checkpoint, restore_state, save_checkpoint
from .data_parallel import average_gradients
from .loader import ShardLoader
from .models import MLP, flat_params, mlp
from .hooks import WorkerContext, WorkerHooks
from .injection import Ablation, Failure, RecordParams, WorkerDelays
from .trainer import DistributedTrainer, Event, TrainConfig, TrainResult, should_restart, train
from . import trainer
from .elastic import ElasticResult, TorchrunEnv, torchrun_env
from . import elastic
from .parameter_server import ParameterServer, StalenessGate
from .pipeline import (PipelineResult, deep_mlp, gpipe_schedule, one_f_one_b_schedule, pipeline_parallel, schedule,
                       simulate, split_stages)
from .tensor_parallel import TensorParallelMLP, tensor_parallel_mlp
from .overlap import BucketTiming, OverlappedAllReduce, OverlapTimeline, bucket_parameters
from .zero import ZeroOptimizer, state_bytes
from . import demo, overlap, zero
