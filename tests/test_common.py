"""sklearn's estimator checks on both estimators, with tiny settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknas import AutoNASClassifier, AutoNASRegressor

TINY = dict(time_budget=None, max_trials=1, max_epochs=30, random_state=0)

EXPECTED_FAILED = {
    "AutoNASRegressor": {
        "check_methods_subset_invariance": (
            "the network computes in float32: a prediction made in a batch of 20 rows and one made "
            "row by row differ by about 1e-6 (different BLAS blockings), above the check's atol of 1e-7"
        ),
    },
}


def _expected_failed(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(
    # the regressor gets 60 epochs: its first portfolio entry, a linear model, needs more than 30 short epochs
    # (150 rows, batches of 64) to pass check_regressors_train's R^2 > 0.5
    [AutoNASClassifier(**TINY), AutoNASRegressor(**dict(TINY, max_epochs=60))],
    expected_failed_checks=_expected_failed,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
