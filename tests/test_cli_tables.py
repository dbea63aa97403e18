"""The command on real-world tables: parsing, preprocessing, and behaving as Unix tools do."""

import io
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

import fastbp
from fastbp import cli


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = cli.main([str(a) for a in argv], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def score(text, name):
    return float(text.split(f"{name}:")[1].split()[0])


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """A penguins-like table: a string target first, string features, NA and empty cells."""
    rng = np.random.default_rng(1)
    n = 300
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], n)
    centre = {"Adelie": (38.8, 18.3, 190, 3700), "Chinstrap": (48.8, 18.4, 196, 3733),
              "Gentoo": (47.5, 15.0, 217, 5076)}
    values = np.array([centre[s] for s in species]) + rng.normal(size=(n, 4)) * [2.5, 1.1, 6.5, 450]
    frame = pd.DataFrame({"species": species,
                          "island": np.where(species == "Gentoo", "Biscoe",
                                             rng.choice(["Dream", "Torgersen"], n)),
                          "bill_length_mm": values[:, 0].round(1),
                          "bill_depth_mm": values[:, 1].round(1),
                          "flipper_length_mm": values[:, 2].round(0),
                          "body_mass_g": values[:, 3].round(0),
                          "sex": rng.choice(["male", "female"], n)})
    frame.loc[[3, 71], ["bill_length_mm", "body_mass_g"]] = np.nan
    frame.loc[[5, 9, 40], "sex"] = np.nan
    path = tmp_path_factory.mktemp("tables") / "penguins.csv"
    text = frame.to_csv(index=False, na_rep="NA")
    text = text.replace("\nGentoo,Biscoe,", "\nGentoo,\"Biscoe\",", 1)  # quoting
    lines = text.splitlines()
    lines[10] = lines[10].replace("NA", "", 1) if "NA" in lines[10] else lines[10]
    path.write_text("\n".join(lines) + "\n")
    return path, frame


def test_a_messy_table_trains_as_well_as_a_hand_built_scikit_learn_pipeline(messy):
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    path, frame = messy
    status, out, _ = run("train", path, "--target", "species", "--quiet")
    assert status == 0, out
    assert "preprocessing: 4 numeric columns imputed (median) and standardised; " \
           "2 categorical columns imputed (most frequent) and one-hot encoded" in out
    ours = score(out, "test accuracy")
    X, y = frame.drop(columns="species"), frame["species"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    theirs = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (make_pipeline(SimpleImputer(strategy="most_frequent"),
                           OneHotEncoder(handle_unknown="ignore")), ["island", "sex"])),
        MLPClassifier(random_state=0)).fit(X_train, y_train).score(X_test, y_test)
    assert ours >= theirs - 0.015, (ours, theirs)


def test_the_saved_model_carries_its_preprocessing_to_raw_files(messy, tmp_path):
    path, frame = messy
    model_path = tmp_path / "penguins.fastbp"
    status, out, _ = run("train", path, "--target", "species", "--quiet", "--out", model_path)
    assert status == 0
    model = fastbp.load(model_path)
    assert type(model).__name__ == "Pipeline"
    status, evaluated, _ = run("evaluate", model_path, path)
    assert status == 0
    assert abs(score(evaluated, "accuracy") - model.score(frame.drop(columns="species"),
                                                          frame["species"])) < 1e-4
    # columns in another order, an unseen island, no target column: still predicted
    raw = frame.drop(columns="species")[["sex", "body_mass_g", "island", "bill_depth_mm",
                                         "flipper_length_mm", "bill_length_mm"]].head(20).copy()
    raw.loc[0, "island"] = "Anvers"
    (tmp_path / "new.csv").write_text(raw.to_csv(index=False))
    status, predicted, _ = run("predict", model_path, tmp_path / "new.csv")
    assert status == 0
    assert predicted.splitlines()[0] == "prediction" and len(predicted.splitlines()) == 21


def test_a_regression_target_is_standardised(tmp_path):
    """R² -3.70 before (the target as given); now scikit-learn's own pipeline's score."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    status, out, _ = run("train", "diabetes", "--quiet")
    assert status == 0
    assert "target standardised" in out
    X_train, X_test, y_train, y_test = train_test_split(
        *load_diabetes(return_X_y=True), test_size=0.25, random_state=0)
    theirs = make_pipeline(StandardScaler(), TransformedTargetRegressor(
        MLPRegressor(random_state=0), transformer=StandardScaler())).fit(
        X_train, y_train).score(X_test, y_test)
    assert score(out, "test R²") > 0 and abs(score(out, "test R²") - theirs) < 0.015
    status, out, _ = run("train", "diabetes", "--quiet", "--no-preprocess")
    assert "preprocessing" not in out


@pytest.mark.parametrize("text, rows, header", [
    ("\ufeff5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,setosa\n", 2, False),  # BOM, no header
    (",3.5,1.4,0.2,a\n4.9,3.0,1.4,0.2,b\n", 2, False),  # an empty first cell
    ("5.1,3.5,1.4,0.2,a\n4.9,3.0,1.4,0.2,b\n", 2, False),  # a string label
    ("sepal,width,length,petal,label\n5.1,3.5,1.4,0.2,a\n", 1, True),
    ("\ufeffsepal;width;length;petal;label\n5,1;3,5;1,4;0,2;a\n", 1, True),  # semicolons
])
def test_no_data_row_is_ever_taken_as_a_header(text, rows, header, tmp_path):
    from fastbp.data import load_data

    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    data = load_data(str(path), allow_missing=True)
    assert data.X.shape[0] == rows
    assert (data.X.columns[0] == "sepal") == header


def test_a_header_of_numbers_is_read_with_header(tmp_path):
    from fastbp.data import load_data

    path = tmp_path / "t.csv"
    path.write_text("1,2,3\n0.5,0.7,a\n0.1,0.2,b\n")
    assert load_data(str(path)).X.shape[0] == 3  # the rule: a row with numbers is data
    data = load_data(str(path), header=True)
    assert data.X.shape[0] == 2 and list(data.X.columns) == ["1", "2"]


@pytest.mark.parametrize("spelling", ["NA", "", "NaN", "?", "null", "N/A"])
def test_missing_value_spellings_are_missing(spelling, tmp_path):
    path = tmp_path / "t.csv"
    rows = ["a,b,label"] + [f"{i % 7},{i % 3},{'x' if i % 2 else 'y'}" for i in range(40)]
    rows[5] = f"{spelling},1,x"
    path.write_text("\n".join(rows) + "\n")
    status, out, _ = run("train", path, "--quiet", "--epochs", "5")
    assert status == 0, out
    status, _, err = run("train", path, "--quiet", "--no-preprocess")
    assert status == 1
    assert "column 'a' has missing or infinite values (first on line 6)" in err


def test_tsv_gzip_and_parquet_are_read(tmp_path):
    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame(X, columns=list("abcd")).assign(label=y)
    frame.to_csv(tmp_path / "iris.tsv", sep="\t", index=False)
    frame.to_csv(tmp_path / "iris.csv.gz", index=False)
    paths = [tmp_path / "iris.tsv", tmp_path / "iris.csv.gz"]
    try:
        frame.to_parquet(tmp_path / "iris.parquet")
        paths.append(tmp_path / "iris.parquet")
    except ImportError:
        pass  # pyarrow absent: parquet is optional
    for path in paths:
        status, out, _ = run("train", path, "--quiet", "--epochs", "300", "--lr", "0.01")
        assert status == 0 and score(out, "test accuracy") > 0.8, (path, out)


def test_a_continuous_last_column_suggests_target(tmp_path):
    path = tmp_path / "t.csv"
    rows = ["species,length"] + [f"{'ab'[i % 2]},{i * 0.37:.2f}" for i in range(30)]
    path.write_text("\n".join(rows) + "\n")
    status, _, err = run("train", path, "--task", "classify", "--quiet")
    assert status == 1
    assert "target column 'length' is continuous (name the target with --target?)" in err


def test_a_semicolon_file_trains(tmp_path):
    X, y = load_iris(return_X_y=True)
    pd.DataFrame(X, columns=list("abcd")).assign(label=y).to_csv(
        tmp_path / "iris.csv", sep=";", index=False)
    status, out, _ = run("train", tmp_path / "iris.csv", "--quiet")
    assert status == 0 and "4 features" in out


def test_test_size_zero_trains_on_every_row():
    status, out, _ = run("train", "iris", "--quiet", "--test-size", "0", "--epochs", "5")
    assert status == 0
    assert "150 train / 0 test samples" in out and "train accuracy" in out
    assert "test accuracy" not in out


def test_version():
    result = subprocess.run([sys.executable, "-m", "fastbp", "--version"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip() == f"fastbp {fastbp.__version__}"


def test_a_closed_pipe_ends_quietly(tmp_path):
    model = tmp_path / "m.fastbp"
    assert run("train", "digits", "--quiet", "--epochs", "3", "--out", model)[0] == 0
    command = (f"{sys.executable} -m fastbp predict {model} digits --proba | head -1; "
               "exit ${PIPESTATUS[0]}")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout.startswith("proba_0,")


def test_the_first_use_says_the_kernels_are_compiling(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-m", "fastbp", "train", "iris", "--epochs", "3"],
                            capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("fastbp: compiling the kernels for first use")
    assert "s compiling the kernels)" in result.stdout  # kept out of the fit time
    again = subprocess.run([sys.executable, "-m", "fastbp", "train", "iris", "--epochs", "3"],
                           capture_output=True, text=True, env=env, timeout=600, check=False)
    assert "compiling" not in again.stderr and "s loading the kernels)" in again.stdout


def test_ctrl_c_saves_what_finished_and_exits_130(tmp_path):
    model = tmp_path / "m.fastbp"
    # a learning rate too small to stop early: it trains until interrupted
    process = subprocess.Popen(
        [sys.executable, "-m", "fastbp", "train", "synthetic:20000,50,3", "--epochs", "5000",
         "--lr", "1e-7", "--out", str(model)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait for a few finished epochs, then interrupt as a terminal's Ctrl-C does
    seen = ""
    while seen.count("epoch ") < 3:
        line = process.stderr.readline()
        assert line, "training ended before it could be interrupted"
        seen += line
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    assert "fastbp: interrupted after" in stderr
    assert "stopped: interrupted (Ctrl-C)" in stdout
    assert fastbp.load(model)[-1].n_iter_ >= 3


def test_a_pipe_closed_early_still_gets_the_model_file(tmp_path):
    """`train … --out m | head -1` could end before the save; files are written first now."""
    model = tmp_path / "m.fastbp"
    command = (f"PYTHONUNBUFFERED=1 {sys.executable} -m fastbp train iris --quiet --epochs 3 "
               f"--out {model} | head -1")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                            check=False)
    assert result.stdout.startswith("data: iris") and result.stderr == ""
    assert fastbp.load(model)[-1].n_iter_ == 3


def test_a_sparse_file_that_never_uses_the_last_feature_is_predicted(tmp_path):
    from sklearn.datasets import dump_svmlight_file

    X, y = load_iris(return_X_y=True)
    dump_svmlight_file(X, y, str(tmp_path / "train.svm"))
    model = tmp_path / "m.fastbp"
    assert run("train", tmp_path / "train.svm", "--quiet", "--epochs", "3", "--out", model)[0] == 0
    X[:, 3] = 0  # svmlight omits zeros: this file looks three features wide
    dump_svmlight_file(X[:5], y[:5], str(tmp_path / "new.svm"))
    status, out, err = run("predict", model, tmp_path / "new.svm")
    assert status == 0, err
    assert len(out.splitlines()) == 6


def test_a_regression_with_progress_trains_and_saves(tmp_path):
    """TransformedTargetRegressor clones the network, progress callback included."""
    model = tmp_path / "d.fastbp"
    status, out, err = run("train", "diabetes", "--epochs", "5", "--out", model)
    assert status == 0, err
    assert err.count("epoch ") == 5
    loaded = fastbp.load(model)
    assert loaded[-1].regressor.callbacks is None and loaded[-1].regressor_.callbacks is None
    assert run("evaluate", model, "diabetes")[0] == 0
