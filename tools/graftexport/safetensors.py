"""A small safetensors writer and header reader (no dependency on the
safetensors package).

Layout: 8-byte little-endian header length N, N bytes of JSON header
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{str: str}}`` padded with spaces to a multiple of 8, then the tensor bytes,
little-endian, in header order.
"""

import json
import struct

import torch

ST_DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


def _tensor_bytes(t):
    t = t.detach().to("cpu").contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()  # x86/arm hosts are little-endian


def write(path, tensors, metadata=None):
    """Write TENSORS, a list of (name, tensor) in order, to PATH."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors:
        if t.dtype not in ST_DTYPES:
            raise ValueError("%s: dtype %s has no safetensors code" % (name, t.dtype))
        data = _tensor_bytes(t)
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def read_header(path):
    """Return (header dict, byte offset of the data section)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
    return header, 8 + n


def read(path):
    """Return ({name: tensor}, metadata) -- used by the tests."""
    import numpy as np
    header, start = read_header(path)
    meta = header.pop("__metadata__", {})
    np_types = {"F32": np.float32, "F16": np.float16, "F64": np.float64,
                "I64": np.int64, "I32": np.int32, "I16": np.int16,
                "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "BF16": np.int16}
    out = {}
    with open(path, "rb") as f:
        raw = f.read()
    for name, info in header.items():
        b, e = info["data_offsets"]
        arr = np.frombuffer(raw[start + b:start + e], dtype=np_types[info["dtype"]])
        t = torch.from_numpy(arr.copy()).reshape(info["shape"])
        if info["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t
    return out, meta
