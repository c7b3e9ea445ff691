"""Loading libx402 and declaring its C signatures (include/x402.h)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Optional

_LIB_NAME = "libx402.so"


def _candidates() -> list:
    env = os.environ.get("X402_LIB")
    if env:
        p = Path(env)
        return [p / _LIB_NAME if p.is_dir() else p]
    dirs = []
    if os.environ.get("CARGO_TARGET_DIR"):
        dirs.append(Path(os.environ["CARGO_TARGET_DIR"]))
    # This package lives at <repo>/x402-ffi/python/x402.
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Cargo.toml").is_file() and (parent / "target").is_dir():
            dirs.append(parent / "target")
    found = [d / profile / _LIB_NAME for d in dirs for profile in ("release", "debug")]
    found = [f for f in found if f.is_file()]
    return sorted(found, key=lambda f: f.stat().st_mtime, reverse=True)


def _load() -> ctypes.CDLL:
    candidates = _candidates()
    if not candidates:
        raise OSError(
            "libx402.so not found: set X402_LIB to its path, or build it with "
            "`cargo build -p x402-ffi --release`"
        )
    return ctypes.CDLL(str(candidates[0]))


lib = _load()
path: Optional[str] = getattr(lib, "_name", None)

_u8p = ctypes.c_char_p  # input bytes (uint8_t* / char*: same ABI); never NULL
_opt = ctypes.c_char_p  # optional input: None is NULL
_out = ctypes.c_void_p  # caller buffer
_size = ctypes.c_size_t
_sizep = ctypes.POINTER(ctypes.c_size_t)
_u32 = ctypes.c_uint32
_u64 = ctypes.c_uint64
_err = ctypes.c_void_p


class PaymentInfo(ctypes.Structure):
    _fields_ = [
        ("header_kind", ctypes.c_uint32),
        ("accepts_index", ctypes.c_uint32),
        ("payer", ctypes.c_char * 43),
    ]


_SIGNATURES = {
    "x402_version": [_out, _size, _sizep],
    "x402_result_message": [_u32, _out, _size, _sizep],
    "x402_verify": [_u8p, _size, _u64, _out, _size, _sizep],
    "x402_verify_with_config": [_u8p, _size, _u64, _opt, _size, _out, _size, _sizep, _err, _size],
    "x402_verify_header": [
        _u8p, _size, _u8p, _size, _u64, _opt, _size, _out, _size, _sizep, _err, _size,
    ],
    "x402_header_kind_from_name": [_u8p, _size, ctypes.POINTER(ctypes.c_uint32)],
    "x402_header_name": [_u32, _out, _size, _sizep],
    "x402_decode_header": [_u32, _u8p, _size, _out, _size, _sizep, _err, _size],
    "x402_encode_header": [_u32, _u8p, _size, _out, _size, _sizep, _err, _size],
    "x402_create_payment": [
        _u8p, _size, _u8p, _u8p, _u64, _opt, _size, ctypes.POINTER(PaymentInfo),
        _out, _size, _sizep, _err, _size,
    ],
    "x402_eip3009_digest": [_u8p, _size, _u8p, _size, _out, _err, _size],
    "x402_permit2_digest": [_u64, _u8p, _size, _out, _err, _size],
    "x402_typed_data_digest": [_u8p, _size, _out, _err, _size],
    "x402_recover_address": [_u8p, _u8p, _size, _out, _size, _sizep, _err, _size],
    "x402_private_key_address": [_u8p, _out, _size, _sizep],
    "x402_verify_batch_settlement": [_u8p, _size, _out, _size, _sizep, _err, _size],
    "x402_sign_request": [_u8p, _size, _out, _size, _sizep, _err, _size],
}

for _name, _args in _SIGNATURES.items():
    _f = getattr(lib, _name)
    _f.argtypes = _args
    _f.restype = ctypes.c_uint32
