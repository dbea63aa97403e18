"""The estimators' docstrings (numpydoc), shared by MLPClassifier, MLPRegressor and Dask's."""

SHARED_PARAMETERS = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
        ``()`` gives a network without hidden layers (a linear or logistic model).
    activation : str or sequence of str, default='relu'
        Activation function h of the hidden layers, one of 'identity',
        'logistic', 'tanh', 'relu' (scikit-learn's four) and five it does not
        offer: 'leaky_relu' h(a) = a for a > 0, 0.01·a otherwise; 'elu'
        h(a) = a for a > 0, eᵃ − 1 otherwise (α = 1); 'softplus'
        h(a) = log(1 + eᵃ); 'gelu' h(a) = a·Φ(a) = ½·a·(1 + erf(a/√2)), the
        exact form (float64 networks use the C library's erfc; float32 networks
        a float32 Φ, relative error below 2·10⁻⁶ for ``|a| ≤ 5``);
        'silu' h(a) = a·σ(a). A tuple or list gives one name per hidden
        layer, e.g. ``('relu', 'tanh')`` for ``hidden_layer_sizes=(64, 32)``.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'lbfgs' is SciPy's L-BFGS-B on the full-batch objective; 'sgd' is
        minibatch SGD with (Nesterov) momentum; 'adam' is Adam.
    alpha : float, default=0.0001
        Strength of the L2 penalty; the penalty is divided by the total sample
        weight (the sample size when unweighted) when added to the loss.
    batch_size : int or 'auto', default='auto'
        Minibatch size for 'sgd' and 'adam'; 'auto' is min(200, n_samples).
    learning_rate : {'constant', 'invscaling', 'adaptive', 'cosine'}, default='constant'
        Learning-rate schedule. 'constant', 'invscaling' and 'adaptive' have
        scikit-learn's meaning and apply to 'sgd' only ('adam' ignores them,
        as in scikit-learn). 'cosine', for 'sgd' and 'adam': epoch e
        (counted from 0) trains at learning_rate_init·½(1 + cos(π·e/max_iter)),
        from learning_rate_init down towards 0 at max_iter (with
        ``partial_fit``, e counts every epoch so far).
    learning_rate_init : float, default=0.001
        Initial learning rate ('sgd' and 'adam').
    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.
    max_iter : int, default=200
        Maximum number of epochs ('sgd', 'adam') or iterations ('lbfgs').
    shuffle : bool, default=True
        Whether to shuffle samples in each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the early-stopping split and the shuffling,
        with the same draws as scikit-learn.
    tol : float, default=1e-4
        Tolerance for the optimisation (see ``n_iter_no_change``).
    verbose : bool, default=False
        Print progress ("Iteration N, loss = …") to stdout.
    warm_start : bool, default=False
        Reuse the previous solution as initialisation.
    momentum : float, default=0.9
        Momentum of 'sgd'.
    nesterovs_momentum : bool, default=True
        Whether 'sgd' uses Nesterov's momentum.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for
        single-output classification), or use the ``X_val, y_val`` given to
        ``fit``, and stop when its score (see ``scoring``) stops improving;
        the best weights are restored.
    validation_fraction : float, default=0.1
        Fraction held out for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates of the first and second moment estimates.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` before stopping.
    max_fun : int, default=15000
        Maximum number of loss evaluations for 'lbfgs'.
    n_jobs : int or None, default=None
        Threads for the compiled kernels during fit and predict. Each step's
        rows are cut into this many slices (one for small steps), which alone
        decide the numbers: the same ``random_state`` and a positive
        ``n_jobs`` give the same model on any machine, quiet or busy, and
        from any thread. None uses every CPU this process may use (its
        affinity mask, a container's CPU quota, ``NUMBA_NUM_THREADS``, the
        BLAS thread limit), -1 all, -2 all but one. On a busy machine training
        runs the slices on one thread when that is measured to be faster; off
        the main thread the kernels always run on the calling thread.
        Settings are restored after each call.
    callbacks : list of callables or None, default=None
        Each is called as ``callback(estimator, info)`` after every epoch (every
        L-BFGS iteration), with ``info`` a dict of ``epoch``, ``max_epochs``,
        ``loss``, ``validation_score`` (None without early stopping),
        ``n_samples`` and ``seconds`` (the epoch's time). A callback returning
        True stops training after that epoch. For progress bars and logging.
        scikit-learn's own callback API (``set_callbacks``) works as well.
    dropout : float or sequence of float, default=0.0
        Inverted dropout on the hidden units, one rate p for every hidden
        layer or one per hidden layer, in [0, 1): during 'sgd' and 'adam'
        training each hidden unit of each sample is zeroed with probability p
        and the kept ones are scaled by 1/(1 − p), so that no rescaling is
        needed afterwards. The masks are drawn from ``random_state`` (a new
        seed each epoch) and depend on nothing else: the same model for any
        ``n_jobs`` slices. ``predict``, ``transform``, ``loss_gradient``,
        ``fastbp.graph`` and the 'lbfgs' solver see no dropout.
    max_grad_norm : float or None, default=None
        Clip the gradient of each minibatch step ('sgd', 'adam'): when its
        global Euclidean norm ‖g‖ over all weights and biases exceeds this
        value, the step uses g·max_grad_norm/‖g‖. None: no clipping.
    scoring : str, callable or None, default=None
        What early stopping monitors on the validation set (higher is
        better). None: ``score`` (accuracy, R²), scikit-learn's choice;
        'loss': the validation loss (the data term of the objective, no L2
        term), stored in ``validation_scores_`` as its negative; any other
        string: that scikit-learn scorer (e.g. 'f1_macro'); a callable:
        ``scoring(estimator, X_val, y_val)``.
    compute_dtype : {'float32', 'float64'} or None, default=None
        The precision fit and predict compute in. None: that of X, as in
        scikit-learn (float32 input trains a float32 network, anything else
        float64). 'float32' trains on float64 input in float32: X is
        converted once per call (a float32 copy), the weights, gradients and
        outputs are float32, and training runs about twice as fast, with
        float32's rounding (about 7 significant digits). The same model as
        fitting ``X.astype(np.float32)``."""

SHARED_ATTRIBUTES = """
    loss_ : float
        The current value of the training objective.
    best_loss_ : float or None
        Minimum loss reached ('sgd' / 'adam'); None with early stopping.
    loss_curve_ : list of shape (``n_iter_``,)
        Loss at the end of each epoch ('sgd' / 'adam').
    validation_scores_ : list of shape (``n_iter_``,) or None
        Score on the held-out set per epoch, with early stopping.
    best_validation_score_ : float or None
        Best validation score, with early stopping.
    t_ : int
        Number of training samples seen by the solver.
    coefs_ : list of shape (n_layers - 1,)
        ``coefs_[i]`` of shape (units[i], units[i + 1]) is the weight matrix of
        layer i. Assigning new arrays here changes the model.
    intercepts_ : list of shape (n_layers - 1,)
        ``intercepts_[i]`` of shape (units[i + 1],) is the bias of layer i + 1.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X had string column names.
    n_iter_ : int
        Number of iterations the solver ran.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Name of the output activation."""


CLASSIFIER = f"""Multi-layer perceptron classifier, trained by compiled backpropagation.

    A drop-in replacement for ``sklearn.neural_network.MLPClassifier``: same
    parameters, defaults, attributes and behaviour, with the forward pass,
    δ-recursion and optimizer steps of a whole epoch in one Numba call. It
    minimises the log-loss (softmax + cross-entropy for multiclass, logistic +
    binary log-loss for binary and multilabel targets).

    Parameters
    ----------{SHARED_PARAMETERS}
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, multiplied into the sample weights. 'balanced'
        uses n_samples / (n_classes * np.bincount(y)). Single-output targets only.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.{SHARED_ATTRIBUTES}

    Examples
    --------
    >>> from fastbp import MLPClassifier
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(random_state=0, max_iter=50).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.95
    True
    """


REGRESSOR = f"""Multi-layer perceptron regressor, trained by compiled backpropagation.

    A drop-in replacement for ``sklearn.neural_network.MLPRegressor``.

    Parameters
    ----------
    loss : {{'squared_error', 'poisson', 'huber', 'absolute_error'}}, default='squared_error'
        'squared_error' (identity output) minimises ½·Σₖ mean((y − ŷ)²);
        'poisson' (exp output, y ≥ 0) minimises half the Poisson deviance.
        fastbp also has, with the identity output and r = ŷ − y: 'huber',
        ℓ = ½r² for ``|r| ≤ huber_delta``, ``huber_delta·(|r| − ½·huber_delta)``
        beyond (quadratic near 0, linear for outliers); 'absolute_error',
        ``ℓ = |r|``.{SHARED_PARAMETERS}
    huber_delta : float, default=1.0
        δ of the 'huber' loss, in the units of y: residuals beyond it count
        linearly.

    Attributes
    ----------{SHARED_ATTRIBUTES}

    Notes
    -----
    For several outputs, ``loss_`` reports the squared error averaged over
    outputs, as scikit-learn does, while the gradient (of training and of
    ``loss_gradient``) is that of the sum over outputs, which is the
    objective actually minimised; the fitted weights agree with
    scikit-learn's.
    """
