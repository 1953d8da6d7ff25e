"""Which BLAS / oneDNN kernels a framework runs here, and whether something holds them back.

A speed figure means little without the kernel behind it: the same OpenBLAS runs
its ``Haswell`` (AVX2) or its ``SkylakeX`` (AVX-512) GEMM depending on the CPU it
detects, and a variable such as ``OPENBLAS_CORETYPE`` overrides that detection.
This module reports, inside the process that runs the framework (so it sees what
that process loaded):

* the CPU's ISA flags from ``/proc/cpuinfo`` (sse4_2 ... avx2, avx512f, amx_tile);
* the BLAS libraries threadpoolctl finds (``internal_api``, ``version``,
  ``architecture``, ``threading_layer``, ``num_threads``);
* torch's essentials (BLAS_INFO, its MKL and oneDNN versions, ATen's CPU
  capability, the parallel backend and thread counts);
* TensorFlow's oneDNN flag (built with it, and not turned off by
  ``TF_ENABLE_ONEDNN_OPTS=0``);
* every set variable that pins or limits a kernel (:data:`PIN_VARIABLES`).

:func:`kernel_warnings` turns these into one-line warnings: a BLAS that runs an
older kernel than the CPU supports, and every pinning variable that is set.
Standard library only at module level; a framework is imported only when asked
about (and the caller's process has already imported it).
"""

from __future__ import annotations

import os

from rnnbench.machine import cpu_flags, cpu_level

#: Variables that pin a kernel or an ISA, or change which library path runs. Set = recorded and warned.
PIN_VARIABLES = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_DYNAMIC_ARCH",
    "GOTOBLAS_CORETYPE",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_DEBUG_CPU_TYPE",
    "MKL_CBWR",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "ATEN_CPU_CAPABILITY",
    "TF_ENABLE_ONEDNN_OPTS",
    "BLIS_ARCH_TYPE",
)

#: ISA levels for float32 GEMM, lowest first.
LEVELS = ("generic", "sse", "avx", "avx2", "avx512")

#: OpenBLAS core types (threadpoolctl's ``architecture``, upper-cased) -> the ISA level of their SGEMM.
OPENBLAS_CORES = {
    "SKYLAKEX": "avx512",
    "COOPERLAKE": "avx512",
    "SAPPHIRERAPIDS": "avx512",
    "HASWELL": "avx2",
    "ZEN": "avx2",
    "ALDERLAKE": "avx2",
    "SANDYBRIDGE": "avx",
    "BULLDOZER": "avx",
    "PILEDRIVER": "avx",
    "STEAMROLLER": "avx",
    "EXCAVATOR": "avx",
    "NEHALEM": "sse",
    "CORE2": "sse",
    "PENRYN": "sse",
    "DUNNINGTON": "sse",
    "PRESCOTT": "sse",
    "OPTERON": "sse",
    "OPTERON_SSE3": "sse",
    "BARCELONA": "sse",
    "ATOM": "sse",
    "NANO": "sse",
    "KATMAI": "generic",
    "COPPERMINE": "generic",
    "NORTHWOOD": "generic",
    "BANIAS": "generic",
}

#: ATen's CPU capability -> ISA level.
ATEN_LEVELS = {"AVX512": "avx512", "AVX2": "avx2", "DEFAULT": "generic", "NO AVX": "generic"}


def pinned_variables(environ=None) -> dict:
    """Every :data:`PIN_VARIABLES` entry set in ``environ`` (default: this process)."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in PIN_VARIABLES if name in environ}


def blas_libraries() -> list[dict]:
    """threadpoolctl's view of the BLAS libraries loaded in this process."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "prefix", "version", "architecture", "threading_layer", "num_threads")
    return [{k: lib.get(k) for k in keys} for lib in threadpool_info() if lib.get("user_api") == "blas"]


def torch_kernels() -> dict:
    import torch

    config = torch.__config__.show()
    essentials = {"version": torch.__version__}
    for line in config.splitlines():
        text = line.strip(" -\t")
        if "Math Kernel Library" in text:
            essentials["mkl"] = text
        elif text.startswith(("Intel(R) MKL-DNN", "oneDNN")):
            essentials["onednn"] = text
        elif text.startswith("CPU capability usage"):
            essentials["cpu_capability_built"] = text.split(":", 1)[1].strip()
        elif text.startswith("Build settings"):
            for item in text.split(":", 1)[1].split(","):
                key, _, value = item.strip().partition("=")
                if key in ("BLAS_INFO", "LAPACK_INFO", "USE_MKL", "USE_MKLDNN", "USE_OPENMP"):
                    essentials[key.lower()] = value
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    essentials["cpu_capability"] = capability() if capability else None
    essentials["mkldnn_available"] = bool(torch.backends.mkldnn.is_available())
    essentials["mkl_available"] = bool(torch.backends.mkl.is_available())
    essentials["threads"] = torch.get_num_threads()
    essentials["interop_threads"] = torch.get_num_interop_threads()
    for line in torch.__config__.parallel_info().splitlines():
        if line.startswith("ATen parallel backend"):
            essentials["parallel_backend"] = line.split(":", 1)[1].strip()
    return essentials


def tensorflow_kernels() -> dict:
    import tensorflow as tf

    try:
        from tensorflow.python.util import _pywrap_util_port

        built = bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        built = None
    flag = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    enabled = None if built is None else built and flag not in ("0", "false", "False")
    return {
        "version": tf.__version__,
        "onednn_built": built,
        "TF_ENABLE_ONEDNN_OPTS": flag,
        "onednn_enabled": enabled,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def kernel_info(framework: str | None = None) -> dict:
    """Everything above for this process; ``framework`` ("torch", "tensorflow") adds its section."""
    flags = cpu_flags()
    info = {"cpu_flags": flags, "cpu_level": cpu_level(flags), "blas": blas_libraries(), "pinned": pinned_variables()}
    try:
        if framework == "torch":
            info["torch"] = torch_kernels()
        elif framework == "tensorflow":
            info["tensorflow"] = tensorflow_kernels()
    except Exception as exc:  # noqa: BLE001  (a report, never a reason to fail a timing)
        info[framework] = {"error": f"{type(exc).__name__}: {exc}"}
    return info


#: Which pinning variables concern which framework's kernels (None: every one).
RELEVANT_PINS = {
    "numpy": ("OPENBLAS_", "GOTOBLAS_", "MKL_", "BLIS_"),
    "torch": ("MKL_", "ONEDNN_", "DNNL_", "ATEN_"),
    "tensorflow": ("ONEDNN_", "DNNL_", "TF_"),
}


def kernel_warnings(info: dict, framework: str | None = None) -> list[str]:
    """One line for each kernel older than the CPU supports and each pinning variable that is set.

    ``framework`` ("numpy", "torch", "tensorflow") keeps what concerns that framework's kernels: torch
    and TensorFlow do not multiply matrices with NumPy's OpenBLAS even though their processes load it.
    """
    warnings = []
    blas_concerned = framework in (None, "numpy") or framework not in RELEVANT_PINS
    level = info.get("cpu_level")
    flags = "/".join(f for f in info.get("cpu_flags", ()) if f in ("avx2", "avx512f", "amx_tile")) or "its"
    for lib in (info.get("blas") or ()) if blas_concerned else ():
        arch = (lib.get("architecture") or "").upper()
        lib_level = OPENBLAS_CORES.get(arch)
        if (
            lib.get("internal_api") == "openblas"
            and lib_level
            and level
            and LEVELS.index(lib_level) < LEVELS.index(level)
        ):
            warnings.append(
                f"old kernel: {lib.get('prefix') or 'OpenBLAS'} {lib.get('version')} runs its "
                f"{lib.get('architecture')} ({lib_level}) kernels on a CPU with {flags} ({level})"
            )
    torch_info = info.get("torch") or {}
    aten = ATEN_LEVELS.get(str(torch_info.get("cpu_capability") or "").upper())
    if aten and level and LEVELS.index(aten) < LEVELS.index(level):
        warnings.append(
            f"old kernel: torch's ATen runs its {torch_info['cpu_capability']} kernels on a CPU with {flags} ({level})"
        )
    tf_info = info.get("tensorflow") or {}
    if tf_info.get("onednn_built") and tf_info.get("onednn_enabled") is False:
        warnings.append("TensorFlow's oneDNN kernels are off (TF_ENABLE_ONEDNN_OPTS=0)")
    for name, value in (info.get("pinned") or {}).items():
        if name == "TF_ENABLE_ONEDNN_OPTS" and value not in ("0", "false", "False"):
            continue  # turning oneDNN on is TensorFlow's default: no pin
        if framework in RELEVANT_PINS and not name.startswith(RELEVANT_PINS[framework]):
            continue
        warnings.append(f"pinned: {name}={value} is set (it overrides the kernel or ISA the library would pick)")
    return warnings


def summarize(info: dict) -> str:
    """A short description of the kernel for tables: ``OpenBLAS 0.3.31 SkylakeX``, ``MKL + oneDNN, AVX512``."""
    parts = []
    if "torch" in info and "error" not in info["torch"]:
        t = info["torch"]
        parts.append(f"{(t.get('blas_info') or 'BLAS').upper()}+oneDNN {t.get('cpu_capability') or ''}".strip())
    elif "tensorflow" in info and "error" not in info["tensorflow"]:
        parts.append("oneDNN" if info["tensorflow"].get("onednn_enabled") else "Eigen")
    else:
        for lib in info.get("blas") or ():
            parts.append(f"{lib.get('internal_api')} {lib.get('version')} {lib.get('architecture') or ''}".strip())
    return "; ".join(parts)
