"""MLflow "models from code" entry point: the logged model is this file plus weights, never a pickle."""

import mlflow

from components.tracking.pyfunc import GeneratorPyfunc

mlflow.models.set_model(GeneratorPyfunc())
