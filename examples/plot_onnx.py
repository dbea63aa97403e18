"""
Serving with ONNX: export and the onnxruntime check
===================================================

``import fastbp.onnx`` registers fastbp's converters with skl2onnx; the
exported graph runs in onnxruntime (or C#, Java, the browser) and gives the
same labels and, to float32 rounding, the same probabilities.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning

# short trainings for a quick build: not converging is expected
warnings.filterwarnings("ignore", category=ConvergenceWarning)

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
from sklearn.datasets import load_digits

import fastbp.onnx
from fastbp import MLPClassifier

X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)
model = MLPClassifier((64, 32), activation=("gelu", "silu"), max_iter=60, random_state=0)
model.fit(X, y)

onx = fastbp.onnx.to_onnx(model, X[:1], options={id(model): {"zipmap": False}})
session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
labels, probabilities = session.run(None, {session.get_inputs()[0].name: X})
print("operators:", sorted({node.op_type for node in onx.graph.node}))
print("labels equal:", np.array_equal(labels, model.predict(X)))
difference = np.abs(probabilities - model.predict_proba(X))
print(f"largest probability difference: {difference.max():.1e}")

fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(model.predict_proba(X).ravel(), probabilities.ravel(), s=2)
ax.set(xlabel="fastbp predict_proba", ylabel="onnxruntime", title="same weights, two runtimes")
fig.tight_layout()
