"""Finding a catalogued model by the name a caller gave it.

A caller names a model (the OpenAI-compatible endpoint's `model`, `options.model` on a
query) as `provider/model_id` or as a bare `model_id`. The app checks such a name and
lists the model; the classifier puts it first on the route. Both look it up here, beside
the catalogue, so the app never reaches into the classifier for it.

This lookup is lenient where `Catalogue.resolve` is strict: a name that matches nothing
gives None (the caller decides what that means) instead of a KeyError, and a bare id two
providers share gives the first such model instead of an "ambiguous" error, because a
caller's name must route somewhere while a catalogue file's own references must be exact.
A model id may itself hold a slash, so a name matches a model whose id is the whole name
as well as one it names by provider and id; the first in catalogue order wins.
"""

from __future__ import annotations

from providers.catalogue import Catalogue, ModelSpec


def find_model(catalogue: Catalogue, name: str) -> ModelSpec | None:
    """The catalogued model `name` names: `provider/model_id`, or a `model_id` (the first
    such model, should two providers share the id). None when none matches."""
    provider, slash, model_id = name.partition("/")
    for spec in catalogue.models:
        if spec.model_id == name:
            return spec
        if slash and spec.provider == provider and spec.model_id == model_id:
            return spec
    return None
