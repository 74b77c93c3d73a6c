"""The suite's warning policy (pyproject.toml): Airflow's removal and provider deprecations, and any deprecation
raised from our own code (the package, the DAG files), fail a test instead of scrolling past."""

from __future__ import annotations

import pytest


def warn_from(module_name: str, category: type[Warning]) -> None:
    """Raise ``category`` as if from code in the module ``module_name`` (how warnings attributes it)."""
    source = compile(f"import warnings\nwarnings.warn('old', {category.__name__}, stacklevel=1)\n",
                     f"{module_name}.py", "exec")
    exec(source, {"__name__": module_name, category.__name__: category})  # noqa: S102


@pytest.mark.parametrize("module_name", ["joint_context.operators",
                                         "unusual_prefix_0123abcd_joint_regime_macro_context"])
@pytest.mark.parametrize("category_name", ["RemovedInAirflow4Warning", "AirflowProviderDeprecationWarning"])
def test_an_airflow_deprecation_raised_by_our_code_fails_the_test(module_name, category_name):
    import airflow.exceptions

    category = getattr(airflow.exceptions, category_name)
    with pytest.raises(category):
        warn_from(module_name, category)

