"""The `fastbp` command: the README's first command runs this main job."""

import re
import subprocess
import sys


def test_train_command_reports_accuracy_and_time():
    result = subprocess.run([sys.executable, "-m", "fastbp", "train", "--epochs", "30",
                             "--hidden", "32"], capture_output=True, text=True, check=True)
    accuracy = float(re.search(r"test accuracy:\s+([0-9.]+)", result.stdout).group(1))
    assert accuracy > 0.9
    assert re.search(r"fit time: [0-9.]+ s", result.stdout)
    assert "hidden_layer_sizes=(32,)" in result.stdout


def test_train_is_the_default_command():
    result = subprocess.run([sys.executable, "-m", "fastbp", "--epochs", "2", "--solver", "sgd"],
                            capture_output=True, text=True, check=True)
    assert "test accuracy:" in result.stdout
    assert "2 iterations" in result.stdout


def test_bad_option_exits_non_zero():
    result = subprocess.run([sys.executable, "-m", "fastbp", "train", "--hidden", "ten"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "expected sizes like 100,50" in result.stderr
