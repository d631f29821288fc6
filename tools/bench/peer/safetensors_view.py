"""Read-only, zero-copy view of a safetensors file: each tensor as a numpy array over a memory map.

Fathom's benchmark checkpoints are one file of bf16 (and a few f32) tensors; torch is not needed to
read them, and a memory map keeps the converter's resident memory at what it is writing.
"""
import json
import struct
from pathlib import Path

import numpy as np

# bf16 has no numpy dtype: it is kept as its raw 16-bit pattern and written to GGUF as such.
_NUMPY_OF = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32}


class SafetensorsView:
    def __init__(self, path: Path):
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_len))
        header.pop("__metadata__", None)
        self._entries = header
        self._data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)

    def names(self):
        return self._entries.keys()

    def dtype(self, name: str) -> str:
        return self._entries[name]["dtype"]

    def tensor(self, name: str) -> np.ndarray:
        e = self._entries[name]
        if e["dtype"] not in _NUMPY_OF:
            raise ValueError(f"{name}: dtype {e['dtype']} not supported (use a bf16 checkpoint: make-tiny without --fp8)")
        begin, end = e["data_offsets"]
        return self._data[begin:end].view(_NUMPY_OF[e["dtype"]]).reshape(e["shape"])
