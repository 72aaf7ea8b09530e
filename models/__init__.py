"""kiln model generator: seeded ONNX models in the idioms real exporters produce.

``build(name, size, **options)`` returns an ``onnx.ModelProto``;
``example_inputs(name, size, ...)`` returns a dict of numpy inputs for it.
"""

from . import bert, gpt2, mobilenet, resnet, vit
from .builder import param_count

MODELS = {
    "resnet50": resnet,
    "mobilenetv2": mobilenet,
    "bert": bert,
    "vit": vit,
    "gpt2": gpt2,
}

ALIASES = {"resnet": "resnet50", "mobilenet": "mobilenetv2", "vit-b16": "vit",
           "bert-base": "bert", "gpt2-small": "gpt2"}


def canonical(name: str) -> str:
    name = name.lower()
    name = ALIASES.get(name, name)
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return name


def build(name: str, size: str = "small", **options):
    return MODELS[canonical(name)].build(size=size, **options)


def example_inputs(name: str, size: str = "small", **kw):
    return MODELS[canonical(name)].example_inputs(size, **kw)


__all__ = ["MODELS", "build", "example_inputs", "param_count", "canonical"]
