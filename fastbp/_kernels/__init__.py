"""Compiled maths of fastbp: the layered δ-recursion as Numba kernels.

One folder, one concern each:

- ``jit``: the Numba options, and a compile-cache key covering every file here;
- ``blas``: which BLAS ``?gemm`` the products call (OpenBLAS from SciPy, or MKL);
- ``tiles``: register-tiled products of small float32 layers, bias included
  (no BLAS call per product);
- ``vecmath``: exp, tanh and the logistic function in a form LLVM vectorises;
- ``activations``: each activation beside its derivative, the output loss;
- ``batch``: products, forward pass and δ-recursion of one batch;
- ``optimizer``: sgd and adam steps on the flat parameter buffer;
- ``calls``: the kernels Python calls (an epoch, the full-batch objective,
  prediction) and their serial twins;
- ``sync``: atomic counters and waiting, for the threads of an epoch's one
  parallel loop;
- ``args``: the argument groups those kernels take.

Parameters live in one flat buffer ``theta`` laid out as ``[W⁰, W¹, …, b⁰, b¹,
…]`` (scikit-learn's ``_pack`` order, see ``fastbp._network``); gradients and
optimizer states use the same layout, so an optimizer step is a single pass.
"""

from .activations import (ABSOLUTE_ERROR, ACTIVATION_CODES, EXP, HIDDEN_ACTIVATIONS, HUBER,
                          IDENTITY, LOGISTIC, REGRESSION_LOSS_CODES, RELU, SOFTMAX, TANH,
                          activate, multiply_by_derivative, output_delta_and_loss)
from .args import (KernelData, KernelDropout, KernelNetwork, KernelObjective, KernelOptimizer,
                   KernelTargets)
from .batch import (backward_pass, batch_loss_gradient, dropout_number, dropout_row_key,
                    dropout_threshold,
                    finish_gradient, forward_pass, gemm, workspace_offsets)
from .calls import (all_finite, full_loss_gradient, full_loss_gradient_serial,
                    predict_outputs, predict_outputs_parallel, train_epoch, train_epoch_serial)
from .optimizer import SOLVER_ADAM, SOLVER_SGD

__all__ = [
    "ABSOLUTE_ERROR", "ACTIVATION_CODES", "EXP", "HIDDEN_ACTIVATIONS", "HUBER", "IDENTITY",
    "LOGISTIC", "REGRESSION_LOSS_CODES", "RELU", "SOFTMAX", "TANH",
    "SOLVER_ADAM", "SOLVER_SGD", "KernelData", "KernelDropout", "KernelNetwork",
    "KernelObjective",
    "KernelOptimizer", "KernelTargets", "activate", "all_finite", "backward_pass",
    "batch_loss_gradient", "dropout_number", "dropout_row_key",
    "dropout_threshold", "finish_gradient", "forward_pass", "full_loss_gradient",
    "full_loss_gradient_serial", "gemm", "multiply_by_derivative", "output_delta_and_loss",
    "predict_outputs", "predict_outputs_parallel", "train_epoch", "train_epoch_serial",
    "workspace_offsets",
]
