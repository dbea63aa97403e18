"""The example scripts in scripts/ run and say what they promise."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def run_script(name, *args, cwd=None):
    result = subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True,
                            text=True, cwd=cwd, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_train_digits_early_stopping(tmp_path):
    out = run_script("train_digits_early_stopping.py", "--out", str(tmp_path / "d.npz"))
    assert float(re.search(r"test accuracy: ([0-9.]+)", out).group(1)) > 0.93
    assert "reloaded model predicts identically: True" in out


def test_grid_search():
    out = run_script("grid_search.py")
    assert "9 settings x 3 folds" in out
    assert float(re.search(r"refitted best pipeline: ([0-9.]+)", out).group(1)) > 0.93


def test_compare_sklearn():
    out = run_script("compare_sklearn.py", "--max-iter", "30")
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in
            (["digits"], ["iris"], ["wine"], ["breast_cancer"])]
    assert len(rows) == 12  # 4 data sets x 3 solvers
    for row in rows:  # same settings, same random_state: the same accuracy
        assert abs(float(row[2]) - float(row[3])) <= 0.01, row


def test_train_dask_on_a_local_cluster():
    out = run_script("train_dask.py", "--rounds", "5", "--samples", "40000")
    assert "cluster: 2 workers" in out and "round   5" in out
    assert "agreement with the local copy 1.000" in out
    assert out.count("warm-up tcp://") == 2
    per_round = re.search(r"per round \(rounds 2-5\): ([0-9.]+) ms, ([0-9.]+) MB over loopback", out)
    assert per_round and float(per_round.group(2)) < 1.0  # weights travel, the 6.7 MB of data do not
