#!/usr/bin/env bash
# Compile-checks the TensorRT-LLM executor (src/trtllm_executor.cc, and the files that include it
# in a TRTLLM_ROOT build) against TensorRT-LLM's public headers, without a GPU or a link:
#
#   TRTLLM_INCLUDE=/path/to/tensorrt_llm/include CUDA_INCLUDE=/usr/local/cuda/include native/check-trtllm.sh
#
# TRTLLM_INCLUDE is the directory holding tensorrt_llm/executor/executor.h (an installation's
# include/, or a checkout's cpp/include at the release Switchyard targets, v0.17.0). CUDA_INCLUDE
# must provide cuda_fp16.h (executor/types.h includes it); NVIDIA's nvidia-cuda-runtime and
# nvidia-cuda-cccl wheels carry one under nvidia/cu*/include (cccl: its include/cccl too).
# The defines are binding.gyp's for a TRTLLM_ROOT build.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
: "${TRTLLM_INCLUDE:?set TRTLLM_INCLUDE to the directory that holds tensorrt_llm/executor/executor.h}"
: "${CUDA_INCLUDE:?set CUDA_INCLUDE to a directory with cuda_fp16.h}"
node_include="${NODE_INCLUDE:-$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")}"
napi_include="$(cd "$root" && node -p "require('path').resolve(require('node-addon-api').include_dir)")"
extra=()
[ -d "$CUDA_INCLUDE/cccl" ] && extra+=(-I"$CUDA_INCLUDE/cccl")
status=0
for src in trtllm_executor.cc engine_factory.cc addon.cc; do
  echo "check-trtllm: $src"
  g++ -std=c++17 -fsyntax-only -Wall -Wextra -Wno-unused-parameter \
    -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DSWITCHYARD_WITH_TRTLLM=1 -DENABLE_MULTI_DEVICE=1 \
    -DTRT_LLM_USE_DIM64 -D_GLIBCXX_USE_CXX11_ABI=1 \
    -I"$TRTLLM_INCLUDE" -I"$here/src" -I"$napi_include" -I"$node_include" \
    -I"$CUDA_INCLUDE" "${extra[@]}" \
    "$here/src/$src" || status=1
done
exit $status
