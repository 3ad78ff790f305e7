"""The face models by name, and the one place a pipeline is built.

``FaceSettings.model`` names the model (``ATTENDANCE_FACE__MODEL``). Adding a model: a class
with the ``FaceModel`` shape, its calibrated card, and a row here."""

from __future__ import annotations

from collections.abc import Callable

from attendance.adapters.faces.dlib_resnet import DlibResNetModel
from attendance.adapters.faces.model import FaceModel
from attendance.adapters.faces.pipeline import FacePipeline
from attendance.core.domain.faces import FaceModelCard
from attendance.settings import ConfigurationError, FaceSettings

MODELS: dict[str, Callable[[], FaceModel]] = {
    "dlib_resnet_v1": DlibResNetModel,
}


def face_model(name: str) -> FaceModel:
    """A new instance of the named model (its files load on first use)."""
    make = MODELS.get(name)
    if make is None:
        raise ConfigurationError(f"unknown face model {name!r} (known: {', '.join(sorted(MODELS))})")
    return make()


def model_card(settings: FaceSettings) -> FaceModelCard:
    return face_model(settings.model).card


def face_pipeline(settings: FaceSettings) -> FacePipeline:
    """The pipeline with the model the settings name: every process builds it here."""
    return FacePipeline(settings, face_model(settings.model))
