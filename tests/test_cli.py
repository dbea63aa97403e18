"""The `fastbp` command: every sub-command, every data source, progress, plots, bad input."""

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import dump_svmlight_file, load_iris

import fastbp
from fastbp import cli


def run(*argv):
    """(status, stdout, stderr) of the command, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def metric(text, name):
    return float(re.search(rf"{name}:\s+([-0-9.]+)", text).group(1))


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "iris.fastbp"
    status, out, _ = run("train", "iris", "--epochs", "300", "--lr", "0.01", "--quiet",
                         "--out", str(path))
    assert status == 0 and f"saved model to {path}" in out
    return path


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------
def test_train_defaults_to_digits_and_reports_accuracy_and_time():
    status, out, err = run("--epochs", "30", "--quiet")
    assert status == 0
    assert out.startswith("data: digits, 1347 train / 450 test samples, 64 features")
    assert metric(out, "test accuracy") > 0.9
    assert re.search(r"fit time: [0-9.]+ s, [0-9,]+ samples/s", out)
    assert err == ""  # --quiet: no progress


def test_train_command_through_the_installed_entry_point():
    result = subprocess.run([sys.executable, "-m", "fastbp", "train", "--epochs", "5",
                             "--hidden", "32", "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "hidden_layer_sizes=(32,)" in result.stdout and "test accuracy:" in result.stdout


@pytest.mark.parametrize("data, extra, metric_name, floor", [
    ("iris", ["--lr", "0.01"], "test accuracy", 0.85),
    ("wine", ["--solver", "lbfgs", "--hidden", "10"], "test accuracy", 0.5),
    ("synthetic:600,8,3", ["--lr", "0.01"], "test accuracy", 0.7),
    ("diabetes", ["--solver", "lbfgs", "--hidden", "8", "--alpha", "1"], "test R²", 0.0),
])
def test_train_on_bundled_and_synthetic_data(data, extra, metric_name, floor):
    status, out, _ = run("train", data, "--epochs", "200", "--quiet", *extra)
    assert status == 0
    assert metric(out, metric_name) > floor
    if data == "diabetes":
        assert "task: regress" in out


def test_train_on_csv_with_named_target(tmp_path):
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    path = tmp_path / "iris.csv"
    lines = ["species,sl,sw,pl,pw"] + [f"{n},{a},{b},{c},{d}" for n, (a, b, c, d) in zip(names, X)]
    path.write_text("\n".join(lines) + "\n")
    status, out, _ = run("train", str(path), "--target", "species", "--epochs", "300", "--lr",
                         "0.01", "--quiet")
    assert status == 0
    assert "4 features" in out and "3 classes" in out
    assert metric(out, "test accuracy") > 0.85


def test_train_on_npz_and_svmlight(tmp_path):
    X, y = load_iris(return_X_y=True)
    np.savez(tmp_path / "iris.npz", X=X, y=y)
    dump_svmlight_file(X, y, str(tmp_path / "iris.svm"))
    for name in ("iris.npz", "iris.svm"):
        status, out, _ = run("train", str(tmp_path / name), "--epochs", "300", "--lr", "0.01",
                             "--quiet")
        assert status == 0, name
        assert metric(out, "test accuracy") > 0.85


def test_task_can_be_forced_to_regression_on_integer_targets():
    status, out, _ = run("train", "iris", "--task", "regress", "--solver", "lbfgs", "--quiet")
    assert status == 0 and "task: regress" in out and "test R²" in out


# --------------------------------------------------------------------------
# Progress and plots
# --------------------------------------------------------------------------
def test_progress_is_one_line_per_epoch_when_not_a_terminal():
    status, _, err = run("train", "iris", "--epochs", "7", "--early-stopping")
    lines = err.splitlines()
    assert status == 0 and len(lines) >= 1
    assert all(re.match(r"epoch \d+/7  loss [0-9.]+  val [0-9.]+  [0-9,]+ samples/s  ETA", line)
               for line in lines)


def test_progress_is_a_live_bar_on_a_terminal():
    import pty

    main_fd, child_fd = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "fastbp", "train", "iris", "--epochs", "5"],
                             stdin=child_fd, stdout=child_fd, stderr=child_fd, close_fds=True)
    os.close(child_fd)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    child.wait(timeout=120)
    os.close(main_fd)
    screen = b"".join(chunks).decode()
    assert child.returncode == 0
    assert screen.count("\r    ") >= 5  # the bar is redrawn in place each epoch
    assert re.search(r"5/5 \|#{24}\| loss [0-9.]+", screen)
    assert "test accuracy:" in screen


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / "curve.png"
    status, out, _ = run("train", "iris", "--epochs", "20", "--early-stopping", "--quiet",
                         "--plot", str(path))
    assert status == 0 and f"saved plot to {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_plot_of_lbfgs_is_refused_clearly(tmp_path):
    status, _, err = run("train", "iris", "--solver", "lbfgs", "--quiet", "--plot",
                         str(tmp_path / "p.png"))
    assert status == 1 and "does not record" in err


# --------------------------------------------------------------------------
# evaluate, predict, info
# --------------------------------------------------------------------------
def test_evaluate_a_saved_model(iris_model):
    status, out, _ = run("evaluate", str(iris_model), "iris")
    assert status == 0
    assert metric(out, "accuracy") > 0.85 and "on 150 samples of iris" in out


def test_predict_writes_csv(iris_model, tmp_path):
    status, out, _ = run("predict", str(iris_model), "iris")
    rows = out.splitlines()
    assert status == 0 and rows[0] == "prediction" and len(rows) == 151
    model = fastbp.load(iris_model)
    X, _ = load_iris(return_X_y=True)
    assert [int(float(r)) for r in rows[1:]] == model.predict(X).tolist()

    target = tmp_path / "proba.csv"
    status, out, _ = run("predict", str(iris_model), "iris", "--proba", "--out", str(target))
    assert status == 0 and "wrote 150 predictions" in out
    proba = np.loadtxt(target, delimiter=",", skiprows=1)
    np.testing.assert_allclose(proba, model.predict_proba(X))
    assert target.read_text().splitlines()[0] == "proba_0,proba_1,proba_2"


def test_predict_on_features_only_csv(iris_model, tmp_path):
    X, _ = load_iris(return_X_y=True)
    path = tmp_path / "features.csv"
    np.savetxt(path, X[:10], delimiter=",")
    status, out, _ = run("predict", str(iris_model), str(path))
    assert status == 0 and len(out.splitlines()) == 11


def test_info_describes_the_model(iris_model):
    status, out, _ = run("info", str(iris_model))
    assert status == 0
    assert "layers: 4 -> 100 -> 3 (relu hidden, softmax output)" in out
    assert "parameters: 803" in out
    assert "metric test_accuracy:" in out
    assert f"fastbp {fastbp.__version__}" in out


def test_out_writes_exactly_the_path_given_and_the_model_fits_again(tmp_path):
    """`--out mymodel` wrote mymodel.npz before, and the saved callbacks broke a later fit."""
    status, out, _ = run("train", "iris", "--epochs", "5", "--out", str(tmp_path / "mymodel"))
    assert status == 0
    assert f"saved model to {tmp_path / 'mymodel'}" in out
    assert [p.name for p in tmp_path.iterdir()] == ["mymodel"]
    model = fastbp.load(tmp_path / "mymodel")
    assert model[-1].callbacks is None
    X, y = load_iris(return_X_y=True)
    model.set_params(model__warm_start=True, model__max_iter=2).fit(X, y)


def test_info_describes_a_pipeline(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), fastbp.MLPClassifier((7,), max_iter=3)).fit(X, y)
    fastbp.save(pipe, tmp_path / "pipe", metrics={"accuracy": 0.5})
    status, out, _ = run("info", str(tmp_path / "pipe"))
    assert status == 0
    assert "pipeline: standardscaler (StandardScaler) -> mlpclassifier (MLPClassifier)" in out
    assert "layers: 4 -> 7 -> 3" in out and "metric accuracy: 0.5000" in out and "skops" in out


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "info"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: fastbp {command}" in capsys.readouterr().out


# --------------------------------------------------------------------------
# Bad input: one line on stderr, status 1, no traceback
# --------------------------------------------------------------------------
def _bad_files(tmp_path):
    (tmp_path / "text.csv").write_text("a,b,label\n1,2,x\n3,oops,y\n")
    (tmp_path / "nan.csv").write_text("a,b,label\n1,2,x\n3,,y\n4,5,x\n")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    return tmp_path


@pytest.mark.parametrize("argv, message", [
    (["train", "{tmp}/absent.csv"], "no such file, and not a known data set"),
    (["train", "mnist"], "mnist: no such file, and not a known data set (bundled: digits"),
    (["train", "{tmp}/text.csv", "--no-preprocess"],
     "column 'b' is not numeric (line 3: 'oops'); without --no-preprocess it is one-hot"),
    (["train", "{tmp}/nan.csv", "--no-preprocess"], "column 'b' has missing or infinite values "
                                                    "(first on line 3)"),
    (["train", "synthetic:ten"], "expected synthetic:N,D,K"),
    (["evaluate", "{model}", "digits"], "digits has 64 features; the model expects 4"),
    (["predict", "{tmp}/absent.npz", "iris"], "absent.npz: no such file"),
    (["info", "{tmp}/broken.npz"], "not a readable fastbp model file"),
    (["info", "{tmp}/text.csv"], "not a fastbp model file (not a ZIP archive)"),
])
def test_bad_input_gives_one_clear_line(argv, message, iris_model, tmp_path):
    folder = _bad_files(tmp_path)
    argv = [a.format(tmp=folder, model=iris_model) for a in argv]
    result = subprocess.run([sys.executable, "-m", "fastbp", *argv], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.startswith("fastbp: error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback():
    result = subprocess.run([sys.executable, "-m", "fastbp", "train", "mnist", "--debug"],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" in result.stderr and "DataError" in result.stderr


def test_usage_errors_exit_2():
    status = subprocess.run([sys.executable, "-m", "fastbp", "train", "--hidden", "ten"],
                            capture_output=True, text=True)
    assert status.returncode == 2 and "expected sizes like 100,50" in status.stderr


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    status, out, err = run("train", "iris", "--quiet", "--plot", str(tmp_path / "p.png"))
    assert status == 1 and out == ""  # refused before training, not after
    assert err.strip() == ("fastbp: error: --plot needs matplotlib, which is not installed: "
                           "pip install 'fastbp[plot]'")
