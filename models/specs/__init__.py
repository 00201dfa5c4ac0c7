"""Sequential specifications: what a single-copy object allows, step by step.

Re-exports the shape every specification takes (``SequentialSpec``, ``Input``,
``UNKNOWN``) and the specifications shipped: a read/write register, a compare-and-set
register and a key-value store of strings, each as a factory and a default instance.
"""

from replicheck.models.specs.base import UNKNOWN, Input, SequentialSpec
from replicheck.models.specs.cas_register import CAS_REGISTER, cas_register
from replicheck.models.specs.kv import KV, KVState, kv
from replicheck.models.specs.register import REGISTER, register

__all__ = [
    "CAS_REGISTER",
    "KV",
    "REGISTER",
    "UNKNOWN",
    "Input",
    "KVState",
    "SequentialSpec",
    "cas_register",
    "kv",
    "register",
]
