"""Online miners: informative triplets or pairs from a labelled batch (torch, ``train`` extra)."""

from __future__ import annotations

from pyembed.miners.base import Miner
from pyembed.miners.indices import PairIndices, TripletIndices
from pyembed.miners.pair import PairMiner, all_pairs
from pyembed.miners.triplet import TripletMiner, all_triplets

__all__ = [
    "Miner",
    "PairIndices",
    "PairMiner",
    "TripletIndices",
    "TripletMiner",
    "all_pairs",
    "all_triplets",
]
