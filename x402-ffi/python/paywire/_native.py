"""Loading libpaywire and declaring its C signatures (include/paywire.h)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Optional

_HERE = Path(__file__).resolve().parent


def _candidates() -> list:
    """Where libpaywire is: PAYWIRE_LIB (the file, or its directory) when set;
    else the copy built into this package when it was installed (pip install,
    or a wheel); else, in a source checkout, cargo's target directory."""
    env = os.environ.get("PAYWIRE_LIB")
    if env:
        p = Path(env)
        return [p / "libpaywire.so" if p.is_dir() else p]
    packaged = sorted(
        f for pattern in ("_libpaywire*.so", "_libpaywire*.dylib", "_libpaywire*.pyd")
        for f in _HERE.glob(pattern)
    )
    if packaged:
        return packaged
    dirs = []
    if os.environ.get("CARGO_TARGET_DIR"):
        dirs.append(Path(os.environ["CARGO_TARGET_DIR"]))
    # A source checkout: this package lives at <repo>/x402-ffi/python/paywire.
    for parent in _HERE.parents:
        if (parent / "Cargo.toml").is_file() and (parent / "target").is_dir():
            dirs.append(parent / "target")
    found = [d / profile / "libpaywire.so" for d in dirs for profile in ("release", "debug")]
    found = [f for f in found if f.is_file()]
    return sorted(found, key=lambda f: f.stat().st_mtime, reverse=True)


def _load() -> ctypes.CDLL:
    candidates = _candidates()
    if not candidates:
        raise OSError(
            "libpaywire not found: this package was neither installed with pip (which builds "
            "it in) nor run from a checkout where `cargo build -p paywire-ffi --release` "
            "has built it; PAYWIRE_LIB may name the file"
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

# Sizes the C API states (include/paywire.h; the tests check they agree).
REASON_CAP = 96  #: PAYWIRE_REASON_CAP: a reason_buf of this size holds any reason
ADDRESS_LEN = 42  #: PAYWIRE_ADDRESS_LEN: an address output
VERIFY_RESPONSE_MAX = 1636  #: PAYWIRE_VERIFY_RESPONSE_MAX: any VerifyResponse fits


class PaymentInfo(ctypes.Structure):
    _fields_ = [
        ("header_kind", ctypes.c_uint32),
        ("accepts_index", ctypes.c_uint32),
        ("payer", ctypes.c_char * 43),
    ]


class SvmPaymentInfo(ctypes.Structure):
    _fields_ = [
        ("accepts_index", ctypes.c_uint32),
        ("payer", ctypes.c_char * 45),
    ]


_SIGNATURES = {
    "paywire_version": [_out, _size, _sizep],
    "paywire_result_message": [_u32, _out, _size, _sizep],
    "paywire_verify": [_u8p, _size, _u64, _out, _size, _sizep],
    "paywire_verify_with_config": [_u8p, _size, _u64, _opt, _size, _out, _size, _sizep, _err, _size, _err, _size],
    "paywire_verify_header": [
        _u8p, _size, _u8p, _size, _u64, _opt, _size, _out, _size, _sizep, _err, _size, _err, _size,
    ],
    "paywire_header_kind_from_name": [_u8p, _size, ctypes.POINTER(ctypes.c_uint32)],
    "paywire_header_name": [_u32, _out, _size, _sizep],
    "paywire_decode_header": [_u32, _u8p, _size, _out, _size, _sizep, _err, _size, _err, _size],
    "paywire_encode_header": [_u32, _u8p, _size, _out, _size, _sizep, _err, _size, _err, _size],
    "paywire_create_payment": [
        _u8p, _size, _u8p, _u8p, _u64, _opt, _size, ctypes.POINTER(PaymentInfo),
        _out, _size, _sizep, _err, _size, _err, _size,
    ],
    "paywire_create_svm_payment": [
        _u8p, _size, _u8p, _u8p, _u8p, _size, _opt, _size, ctypes.POINTER(SvmPaymentInfo),
        _out, _size, _sizep, _err, _size, _err, _size,
    ],
    "paywire_eip3009_digest": [_u8p, _size, _u8p, _size, _out, _err, _size, _err, _size],
    "paywire_permit2_digest": [_u64, _u8p, _size, _out, _err, _size, _err, _size],
    "paywire_typed_data_digest": [_u8p, _size, _out, _err, _size, _err, _size],
    "paywire_recover_address": [_u8p, _u8p, _size, _out, _size, _sizep, _err, _size, _err, _size],
    "paywire_private_key_address": [_u8p, _out, _size, _sizep],
    "paywire_verify_batch_settlement": [_u8p, _size, _out, _size, _sizep, _err, _size, _err, _size],
    "paywire_sign_request": [_u8p, _size, _out, _size, _sizep, _err, _size, _err, _size],
}

for _name, _args in _SIGNATURES.items():
    _f = getattr(lib, _name)
    _f.argtypes = _args
    _f.restype = ctypes.c_uint32
