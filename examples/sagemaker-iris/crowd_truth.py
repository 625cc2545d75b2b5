"""The simulated crowd's answer key: a flower's species by the item_id hidden in its task."""

from hitkit.demo.iris_items import iris_flowers

_SPECIES = {f.item_id: f.species for f in iris_flowers()}


def species(hidden: dict) -> str:
    return _SPECIES[hidden["item_id"]]
