"""The models embrec knows, by the short names the CLI uses: one registration line each.

A model declares everything particular to it (config, network, solvers and
their defaults, fold-in, item space) on a :class:`~embrec.models.spec.ModelSpec`
in its own module; registering it is adding that spec to :data:`REGISTERED`.
See ``docs/adding-a-model.md``.
"""

from __future__ import annotations

from embrec.errors import ConfigError
from embrec.models import autorec, baseline, bfm, blend, deep_ae, embnet, fm, glocal_k, mf
from embrec.models.autorec import AutoRecConfig
from embrec.models.baseline import BaselineConfig
from embrec.models.bfm import BFMConfig
from embrec.models.blend import BlendConfig
from embrec.models.deep_ae import DeepAEConfig
from embrec.models.embnet import EmbNetConfig
from embrec.models.mf import MFBiasConfig, MFConfig
from embrec.models.spec import ModelConfig, ModelSpec, YRange, resolve_y_range


def get_spec(name: str) -> ModelSpec:
    """The registered model of that name, or a ConfigError listing the names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}; choose one of: {', '.join(MODELS)}"
        ) from None


REGISTERED: list[ModelSpec] = [
    baseline.SPEC,
    mf.MF_SPEC,
    mf.MF_BIAS_SPEC,
    embnet.SPEC,
    autorec.SPEC,
    deep_ae.SPEC,
    bfm.SPEC,
    fm.SPEC,
    glocal_k.SPEC,
    blend.make_spec(get_spec),  # its members are registered models: it is handed the lookup
]

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in REGISTERED}


__all__ = [
    "MODELS", "REGISTERED", "AutoRecConfig", "BFMConfig", "BaselineConfig", "BlendConfig",
    "DeepAEConfig", "EmbNetConfig", "MFBiasConfig", "MFConfig", "ModelConfig", "ModelSpec",
    "YRange", "get_spec", "resolve_y_range",
]
