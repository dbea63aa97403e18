"""scikit-learn's callback API (``sklearn.callback``, scikit-learn ≥ 1.9) for fastbp's fits.

An estimator with ``set_callbacks(ProgressBar(), ScoringMonitor(...))`` sees
fastbp's fit as scikit-learn's own iterative estimators present theirs: a
root task 'fit' with one subtask per epoch ('sgd', 'adam') or iteration
('lbfgs'). Each subtask's end offers the model of that moment (its weights
copied, built only if a callback asks for it), and a callback returning True
stops training after it. With an older scikit-learn, or no callbacks set,
nothing here runs. fastbp's own ``callbacks=`` parameter is separate and
keeps working.
"""

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9: no callback API

    class CallbackSupportMixin:
        """Stand-in: this scikit-learn has no callback API."""


class FitTasks:
    """The callback contexts of one ``fit`` / ``partial_fit`` call.

    Parameters
    ----------
    est : estimator
        Inside its ``fit`` (under scikit-learn's ``_fit_context``, which
        tears the callbacks down afterwards).
    X, y : the training data as the hooks receive them (y as given: labels).
    sample_weight : array or None, passed to the hooks as metadata if given.
    max_subtasks : int
        The most epochs (iterations) this call can run.
    """

    def __init__(self, est, X, y, sample_weight, max_subtasks):
        self.active = hasattr(est, "_init_callback_context") and bool(
            getattr(est, "_skl_callbacks", None) or hasattr(est, "_parent_callback_ctx"))
        if not self.active:
            return
        self.est, self.X, self.y = est, X, y
        self.metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        self.root = est._init_callback_context(max_subtasks=max_subtasks)
        self.root.call_on_fit_task_begin(estimator=est, X=X, y=y, metadata=self.metadata)
        self.current = None

    def _model_now(self):
        est = self.est
        return {"coefs_": [c.copy() for c in est.coefs_],
                "intercepts_": [b.copy() for b in est.intercepts_],
                "n_iter_": est.n_iter_, "loss_": getattr(est, "loss_", None)}

    def epoch_begins(self):
        if self.active:
            self.current = self.root.subcontext(task_name="epoch")
            self.current.call_on_fit_task_begin(estimator=self.est, X=self.X, y=self.y,
                                                metadata=self.metadata)

    def epoch_ends(self):
        """End the current epoch's task; True if a callback asks to stop."""
        if not self.active or self.current is None:
            return False
        context, self.current = self.current, None
        return bool(context.call_on_fit_task_end(
            estimator=self.est, X=self.X, y=self.y, metadata=self.metadata,
            reconstruction_attributes=self._model_now))

    def fit_ends(self):
        if self.active:
            if self.current is not None:  # an epoch interrupted: its task ends too
                self.epoch_ends()
            self.root.call_on_fit_task_end(estimator=self.est, X=self.X, y=self.y,
                                           metadata=self.metadata, reconstruction_attributes={})
