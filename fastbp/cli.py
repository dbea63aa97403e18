"""The ``fastbp`` command: train, evaluate, predict, info, compile.

    fastbp train [DATA] [options]       train (digits by default), report metrics
    fastbp evaluate MODEL DATA          accuracy or R² of a saved model
    fastbp predict MODEL DATA           predictions as CSV (--proba for probabilities)
    fastbp info MODEL                   architecture, settings, metrics, versions
    fastbp compile [--dtype both]       fill the compile cache ahead of use

Errors print one line on stderr and exit with status 1 (``--debug`` shows the
traceback); usage errors exit with status 2.
"""

import argparse
import csv
import sys
import time
import warnings

import numpy as np

from .data import BUNDLED, DataError, load_data
from .io import ModelFileError


class CommandError(Exception):
    """A problem to report on one line."""


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------
class Progress:
    """A callback printing each epoch: a live bar on a terminal, lines elsewhere.

    Parameters
    ----------
    stream : text stream
    live : bool
        Redraw one line in place (a terminal) or print a line per epoch.
    """

    def __init__(self, stream, live):
        self.stream = stream
        self.live = live
        self.epoch_seconds = []
        self.epoch_samples = []

    def __call__(self, estimator, info):
        self.epoch_seconds.append(info["seconds"])
        self.epoch_samples.append(info["n_samples"])
        epoch, total = info["epoch"], info["max_epochs"]
        # rate and ETA over the last finished epochs: one short epoch (or a
        # descheduled one) no longer swings the numbers tenfold
        recent = self.epoch_seconds[-10:]
        seconds = sum(recent)
        rate = sum(self.epoch_samples[-10:]) / seconds if seconds > 0 else float("inf")
        eta = seconds / len(recent) * (total - epoch)
        score = info["validation_score"]
        val = f"  val {score:.4f}" if score is not None else ""
        if self.live:
            width = 24
            filled = int(width * epoch / total)
            bar = "#" * filled + "." * (width - filled)
            self.stream.write(f"\r{epoch:>5}/{total} |{bar}| loss {info['loss']:.6f}{val}  "
                              f"{rate:,.0f} samples/s  ETA {eta:5.1f}s ")
        else:
            self.stream.write(f"epoch {epoch}/{total}  loss {info['loss']:.6f}{val}  "
                              f"{rate:,.0f} samples/s  ETA {eta:.1f}s\n")
        self.stream.flush()

    def __deepcopy__(self, memo):
        # one reporter for every copy: scikit-learn's clone (TransformedTargetRegressor
        # clones its regressor) deep-copies parameters, and a stream cannot be copied
        return self

    def finish(self):
        if self.live and self.epoch_seconds:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------------------
# Sub-commands
# ---------------------------------------------------------------------------
def _guess_task(y):
    """'regress' for continuous targets and for numeric ones with many distinct
    values (integer-valued amounts, like diabetes'), else 'classify'."""
    from sklearn.utils.multiclass import type_of_target

    kind = type_of_target(y)
    if kind.startswith("continuous"):
        return "regress"
    if kind == "multiclass" and np.issubdtype(np.asarray(y).dtype, np.number):
        n_distinct = len(np.unique(y))
        if n_distinct > 20 and n_distinct > 0.05 * len(y):
            return "regress"
    return "classify"


def _metric_name(model):
    from sklearn.base import is_classifier

    return "accuracy" if is_classifier(model) else "R²"


def _check_plot_available():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CommandError("--plot needs matplotlib, which is not installed: "
                           "pip install 'fastbp[plot]'") from None


def plot_training(model, path):
    """Write a PNG of the loss curve and, with early stopping, the validation score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not hasattr(model, "loss_curve_"):
        raise CommandError("--plot draws the loss per epoch, which solver 'lbfgs' does not "
                           "record; use --solver adam or sgd")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    epochs = np.arange(1, len(model.loss_curve_) + 1)
    ax.plot(epochs, model.loss_curve_, color="tab:blue", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color="tab:blue")
    ax.set_yscale("log")
    handles = ax.get_legend_handles_labels()[0]
    if getattr(model, "validation_scores_", None):
        ax2 = ax.twinx()
        ax2.plot(epochs, model.validation_scores_, color="tab:orange",
                 label=f"validation {_metric_name(model)}")
        ax2.set_ylabel(f"validation {_metric_name(model)}", color="tab:orange")
        handles += ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="center right")
    ax.set_title(f"{type(model).__name__} {model.hidden_layer_sizes}, {model.solver}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_train(args, out, err):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils.multiclass import type_of_target

    from . import MLPClassifier, MLPRegressor, save
    from ._pipeline import describe, network_of, with_preprocessing

    if args.plot:
        _check_plot_available()
    preprocess = not args.no_preprocess
    data = load_data(args.data, target=args.target, header=args.header,
                     allow_missing=preprocess)
    if data.y is None:
        raise CommandError(f"{args.data}: no target values to train on")
    task = args.task or _guess_task(data.y)
    if task == "classify" and type_of_target(data.y).startswith("continuous"):
        raise CommandError(f"{args.data}: --task classify, but the target"
                           + (f" column {data.target!r}" if data.target else "")
                           + " is continuous" + (" (name the target with --target?)"
                                                 if data.target and not args.target else ""))
    if task == "regress" and not np.issubdtype(np.asarray(data.y).dtype, np.number):
        raise CommandError(f"{args.data}: --task regress, but the target"
                           + (f" column {data.target!r}" if data.target else "")
                           + " is not numeric" + (" (name the target with --target?)"
                                                  if data.target and not args.target else ""))
    stratify = None
    if task == "classify":
        _, counts = np.unique(data.y, return_counts=True)
        stratify = data.y if counts.min() >= 2 else None
    if args.test_size == 0:
        X_train, X_test, y_train, y_test = data.X, None, data.y, None
    else:
        try:
            X_train, X_test, y_train, y_test = train_test_split(
                data.X, data.y, test_size=args.test_size, random_state=args.seed,
                stratify=stratify)
        except ValueError as error:
            raise CommandError(f"{args.data}: cannot split into train and test sets: "
                               f"{error}") from None

    progress = None if args.quiet else Progress(err, live=err.isatty())
    Estimator = MLPClassifier if task == "classify" else MLPRegressor
    network = Estimator(hidden_layer_sizes=args.hidden, activation=args.activation,
                        solver=args.solver, alpha=args.alpha, batch_size=args.batch_size,
                        learning_rate_init=args.lr, max_iter=args.epochs,
                        early_stopping=args.early_stopping, random_state=args.seed,
                        n_jobs=args.jobs, callbacks=[progress] if progress else None)
    model = with_preprocessing(network, X_train, task) if preprocess else network
    warm_seconds, was_cached = _warm_kernels(model, X_train, y_train, err, args.quiet)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
    if progress:
        progress.finish()
    interrupted = any("interrupted by user" in str(w.message) for w in caught)
    network = network_of(model)
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    for estimator in {id(e): e for e in (network, getattr(final, "regressor", network))}.values():
        estimator.set_params(callbacks=None)  # the progress bar is not part of the model

    metric = _metric_name(model)
    train_score = model.score(X_train, y_train)
    test_score = None if X_test is None else model.score(X_test, y_test)
    n_train = X_train.shape[0]
    n_test = 0 if X_test is None else X_test.shape[0]
    # files first: a reader that closes standard output early (| head) loses no file
    if args.out:
        metrics = {"data": data.name, "task": task, f"train_{metric}": train_score,
                   "fit_seconds": elapsed}
        if test_score is not None:
            metrics[f"test_{metric}"] = test_score
        if data.target is not None:
            metrics["target"] = data.target
        save(model, args.out, metrics=metrics)
    if args.plot:
        plot_training(network, args.plot)
    print(f"data: {data.name}, {n_train} train / {n_test} test samples, "
          f"{data.X.shape[1]} features, task: {task}"
          + (f", {len(network.classes_)} classes" if task == "classify" else ""), file=out)
    summary = describe(model)
    if summary:
        print(f"preprocessing: {summary}", file=out)
    print(f"model: {Estimator.__name__}(hidden_layer_sizes={network.hidden_layer_sizes}, "
          f"activation={network.activation!r}, solver={network.solver!r}), "
          f"{network.n_iter_} iterations", file=out)
    print(f"train {metric}: {train_score:.4f}", file=out)
    if test_score is not None:
        print(f"test {metric}:  {test_score:.4f}", file=out)
    epochs_run = network.n_iter_ if network.solver != "lbfgs" else 1
    rate = (f", {n_train * epochs_run / elapsed:,.0f} samples/s"
            if network.solver != "lbfgs" else "")
    kernels = "compiling" if not was_cached else "loading"
    print(f"fit time: {elapsed:.3f} s{rate} (not counting {warm_seconds:.1f} s {kernels} "
          "the kernels)", file=out)
    print(f"stopped: {_stop_reason(network, interrupted)}", file=out)
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            print(f"note: {' '.join(str(warning.message).split())}", file=out)
    if args.out:
        print(f"saved model to {args.out}", file=out)
    if args.plot:
        print(f"saved plot to {args.plot}", file=out)
    if interrupted:
        print(f"fastbp: interrupted after {network.n_iter_} finished epochs", file=err)
        return 130
    return 0


def _warm_kernels(model, X, y, err, quiet):
    """Load (or, on first use, compile) the kernels this fit needs, on a few rows.

    Returns (seconds taken, whether they were in the compile cache), so that
    the fit time reported is the training's own.
    """
    from sklearn.base import clone

    from ._pipeline import network_of
    from ._warmup import kernels_cached

    network = network_of(model)
    cached = kernels_cached(network.solver)
    if not cached and not quiet:
        print("fastbp: compiling the kernels for first use (about 20-50 s on 2 cores, once; "
              "`fastbp compile` does it ahead of time) ...", file=err, flush=True)
    start = time.perf_counter()
    rows = min(64, X.shape[0])
    callbacks = network.callbacks
    network.set_params(callbacks=None)  # the progress bar holds a stream: not cloned
    small = clone(model)
    network.set_params(callbacks=callbacks)
    network_of(small).set_params(max_iter=2, early_stopping=False, verbose=False)
    part = X.iloc[:rows] if hasattr(X, "iloc") else X[:rows]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            small.fit(part, y[:rows])
            small.predict(part)
    except (ValueError, TypeError):
        pass  # too few rows or classes to warm on: the fit compiles what it needs
    return time.perf_counter() - start, cached


def _stop_reason(network, interrupted):
    """Why training ended, in words."""
    if interrupted:
        return f"interrupted (Ctrl-C) after {network.n_iter_} epochs"
    if network.solver == "lbfgs":
        return (f"L-BFGS ended after {network.n_iter_} iterations (--epochs "
                f"{network.max_iter})")
    if network.n_iter_ >= network.max_iter:
        return f"reached --epochs {network.max_iter}"
    monitored = ("the validation score did not improve"
                 if network.early_stopping else "the training loss did not improve")
    return (f"{monitored} by more than tol={network.tol} for {network.n_iter_no_change} "
            f"epochs (after {network.n_iter_} epochs)")


def _load_model(path):
    from . import load

    return load(path)


def _model_data(args, model):
    """DATA for a saved model: its columns (tables) or its width (arrays)."""
    from ._pipeline import network_of
    from .io import read_metadata

    target = args.target
    if target is None:
        target = read_metadata(args.model).get("metrics", {}).get("target")
    names = getattr(model, "feature_names_in_", None)
    return load_data(args.data, target=None if names is None else target,
                     n_features=network_of(model).n_features_in_ if names is None else None,
                     feature_names=None if names is None else list(names),
                     header=args.header, allow_missing=hasattr(model, "steps"))


def cmd_evaluate(args, out, err):
    model = _load_model(args.model)
    data = _model_data(args, model)
    if data.y is None:
        raise CommandError(f"{args.data}: no target column to evaluate against")
    score = model.score(data.X, data.y)
    print(f"{_metric_name(model)}: {score:.4f} on {data.X.shape[0]} samples of {data.name}",
          file=out)
    return 0


def cmd_predict(args, out, err):
    model = _load_model(args.model)
    data = _model_data(args, model)
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise CommandError("--proba needs a classifier; this model is a regressor")
        values = model.predict_proba(data.X)
        header = [f"proba_{c}" for c in model.classes_]
    else:
        values = model.predict(data.X)
        if values.ndim == 1:
            values = values[:, None]
            header = ["prediction"]
        else:
            header = [f"prediction_{j}" for j in range(values.shape[1])]
    target = open(args.out, "w", newline="") if args.out else out
    try:
        writer = csv.writer(target)
        writer.writerow(header)
        writer.writerows(values.tolist())
    finally:
        if args.out:
            target.close()
    if args.out:
        print(f"wrote {values.shape[0]} predictions to {args.out}", file=out)
    return 0


def cmd_info(args, out, err):
    from .io import read_metadata

    obj = _load_model(args.model)  # every value checked before anything is shown
    metadata = read_metadata(args.model)
    from ._pipeline import describe, network_of

    model = network_of(obj)
    print(f"model: {type(model).__name__} ({args.model})", file=out)
    if model is not obj:
        steps = " -> ".join(f"{name} ({type(step).__name__})" for name, step in obj.steps)
        print(f"pipeline: {steps}", file=out)
        if describe(obj):
            print(f"preprocessing: {describe(obj)}", file=out)
    if not hasattr(model, "_network"):
        return 0
    units = model._network.units
    print(f"layers: {' -> '.join(map(str, units))} ({model.activation} hidden, "
          f"{model.out_activation_} output), dtype {model._network.dtype}", file=out)
    print(f"parameters: {model._network.layout.n_params:,}", file=out)
    print(f"training: solver={model.solver}, learning_rate_init={model.learning_rate_init}, "
          f"alpha={model.alpha}, batch_size={model.batch_size}, max_iter={model.max_iter}, "
          f"early_stopping={model.early_stopping}, random_state={model.random_state}",
          file=out)
    print(f"fitted: {model.n_iter_} iterations, {model.t_} samples seen, "
          f"final loss {getattr(model, 'loss_', None)}", file=out)
    for name, value in metadata.get("metrics", {}).items():
        shown = f"{value:.4f}" if isinstance(value, float) else value
        print(f"metric {name}: {shown}", file=out)
    versions = ", ".join(f"{k} {v}" for k, v in metadata.get("versions", {}).items())
    kind = (f"fastbp model format {metadata['format_version']}"
            if metadata["format"] == "fastbp-model" else "skops")
    print(f"written with: {versions} ({kind})", file=out)
    return 0


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------
def _hidden_sizes(text):
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 100,50; got {text!r}") from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive; got {text!r}")
    return sizes


def _test_size(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1); got {text!r}")
    return value


def _header_options(command):
    group = command.add_mutually_exclusive_group()
    group.add_argument("--header", dest="header", action="store_true", default=None,
                       help="tables: the first row names the columns")
    group.add_argument("--no-header", dest="header", action="store_false",
                       help="tables: the first row is data (default: a header when every "
                            "cell of the first row is non-empty and not a number)")


def _batch_size(text):
    return text if text == "auto" else int(text)


def cmd_compile(args, out, err):
    from ._warmup import warm_up

    dtypes = ["float64", "float32"] if args.dtype == "both" else [args.dtype]
    report = warm_up(dtypes)
    print(f"kernels ({', '.join(dtypes)}): {report['cache_misses']} compiled, "
          f"{report['cache_hits']} loaded from the cache, in {report['seconds']:.1f} s", file=out)
    print(f"compile cache: {report['cache_dir']}", file=out)
    return 0


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser = argparse.ArgumentParser(
        prog="fastbp", description="Train and use multi-layer perceptrons on CPU cores.",
        parents=[common])
    from . import __version__

    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train", parents=[common], help="train a model and report its metrics",
        description="Train an MLP on DATA: a bundled data set (" + ", ".join(BUNDLED) +
                    "), synthetic:N,D,K, or a .csv / .npz / svmlight file.")
    train.add_argument("data", nargs="?", default="digits", metavar="DATA",
                       help="data to train on (default: digits)")
    train.add_argument("--target", help="the target column's name (default: the last column)")
    train.add_argument("--no-preprocess", action="store_true",
                       help="use the features as given: no imputation, scaling or one-hot "
                            "encoding, and an unscaled regression target")
    train.add_argument("--task", choices=["classify", "regress"],
                       help="default: guessed from the target")
    train.add_argument("--hidden", type=_hidden_sizes, default=(100,),
                       help="hidden layer sizes, e.g. 100,50 (default: 100)")
    train.add_argument("--activation", choices=["relu", "tanh", "logistic", "identity"],
                       default="relu")
    train.add_argument("--solver", choices=["adam", "sgd", "lbfgs"], default="adam")
    train.add_argument("--epochs", type=int, default=200, help="max_iter (default: 200)")
    train.add_argument("--batch-size", type=_batch_size, default="auto")
    train.add_argument("--lr", type=float, default=1e-3, help="learning_rate_init")
    train.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty")
    train.add_argument("--early-stopping", action="store_true")
    train.add_argument("--test-size", type=_test_size, default=0.25,
                       help="fraction held out for testing; 0 trains on every row")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--jobs", type=int, default=None, help="threads (default: all cores)")
    train.add_argument("--out", metavar="MODEL", help="save the model to this file (exactly this name, e.g. model.fastbp)")
    train.add_argument("--plot", metavar="PNG", help="write the loss curve to this PNG")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    _header_options(train)
    train.set_defaults(run=cmd_train)

    def model_on_data(name, help_text, target_help):
        command = commands.add_parser(name, parents=[common], help=help_text)
        command.add_argument("model", metavar="MODEL")
        command.add_argument("data", metavar="DATA")
        command.add_argument("--target", help=target_help)
        _header_options(command)
        return command

    evaluate = model_on_data("evaluate", "score a saved model on DATA", "CSV target column name")
    evaluate.set_defaults(run=cmd_evaluate)

    predict = model_on_data("predict", "write a saved model's predictions on DATA as CSV",
                            "CSV column to ignore as the target")
    predict.add_argument("--out", metavar="FILE", help="CSV file (default: standard output)")
    predict.add_argument("--proba", action="store_true", help="class probabilities")
    predict.set_defaults(run=cmd_predict)

    info = commands.add_parser("info", parents=[common], help="describe a saved model")
    info.add_argument("model", metavar="MODEL")
    info.set_defaults(run=cmd_info)

    compile_ = commands.add_parser(
        "compile", parents=[common], help="compile every kernel into the on-disk cache",
        description="Load fastbp's kernels from Numba's on-disk compile cache, compiling "
                    "any it lacks, so that later processes never wait for a compile "
                    "(e.g. once while building a container image).")
    compile_.add_argument("--dtype", choices=["both", "float64", "float32"], default="both",
                          help="precision of the kernels (default: both)")
    compile_.set_defaults(run=cmd_compile)
    return parser


def _silence(stream):
    """Point ``stream`` (standard output) at /dev/null after its reader closed the pipe."""
    import os

    try:
        fileno = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def main(argv=None, out=None, err=None):
    out = out or sys.stdout
    err = err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "evaluate", "predict", "info", "compile", "-h",
                                   "--help", "--version"):
        argv = ["train", *argv]  # train is the default command
    args = build_parser().parse_args(argv)
    try:
        status = args.run(args, out, err)
        out.flush()
        return status
    except BrokenPipeError:
        # the reader went away (`fastbp predict … | head`): stop quietly, as Unix tools do;
        # later writes (Python's own flush at exit) go nowhere
        _silence(out)
        return 0
    except (CommandError, DataError, ModelFileError, ValueError, OSError, MemoryError) as error:
        if args.debug:
            raise
        text = " ".join(str(error).split())
        message = text or type(error).__name__
        print(f"fastbp: error: {message}", file=err)
        return 1
    except KeyboardInterrupt:
        print("fastbp: interrupted", file=err)
        return 130

