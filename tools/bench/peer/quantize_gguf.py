"""llama.cpp's own quantiser (`llama-quantize`, through llama-cpp-python) on a GGUF file: the files
llama.cpp users download are made this way, with its choice of type per tensor and its search for
the best scales, which tools/reference/kquants.py does not attempt.

    .venv-bench/bin/python tools/bench/peer/quantize_gguf.py MODEL-bf16.gguf MODEL-Q4_K_M.gguf --type Q4_K_M
"""
import argparse
import ctypes
import sys

import llama_cpp

TYPES = {name[len("LLAMA_FTYPE_MOSTLY_"):]: getattr(llama_cpp, name)
         for name in dir(llama_cpp) if name.startswith("LLAMA_FTYPE_MOSTLY_")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source")
    p.add_argument("out")
    p.add_argument("--type", required=True, choices=sorted(TYPES))
    p.add_argument("--pure", action="store_true", help="every tensor in --type (no per-tensor mix)")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = TYPES[a.type]
    params.pure = a.pure
    params.nthread = a.threads
    rc = llama_cpp.llama_model_quantize(a.source.encode(), a.out.encode(), ctypes.byref(params))
    if rc != 0:
        print(f"llama_model_quantize failed ({rc})", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
