# The Switchyard engine addon.
#
# Always built: the engine model (a CPU model of an LLM engine). The TensorRT-LLM executor is
# compiled only when TRTLLM_ROOT points to a TensorRT-LLM installation (a later plugin; the seam is
# native/src/engine_factory.cc).
{
  "variables": {
    "trtllm_root%": "<!(node -p \"process.env.TRTLLM_ROOT || ''\")"
  },
  "targets": [
    {
      "target_name": "switchyard_engine",
      "sources": [
        "src/addon.cc",
        "src/block_hash.cc",
        "src/engine_factory.cc",
        "src/engine_model.cc",
        "src/kv_cache.cc",
        "src/responses.cc",
        "src/scheduler.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      # The TensorRT-LLM executor, against TensorRT-LLM v0.17.0's public headers: only where
      # TRTLLM_ROOT points to an installation (never on CI: no GPU). Elsewhere asking for
      # executor 'tensorrt-llm' fails with a message (engine_factory.cc).
      "conditions": [
        ["trtllm_root!=''", {
          "sources": ["src/trtllm_executor.cc"],
          "defines": ["SWITCHYARD_WITH_TRTLLM=1", "ENABLE_MULTI_DEVICE=1", "TRT_LLM_USE_DIM64", "_GLIBCXX_USE_CXX11_ABI=1"],
          "include_dirs": ["<(trtllm_root)/include", "/usr/local/cuda/include"],
          "libraries": [
            "-L<(trtllm_root)/lib", "-ltensorrt_llm", "-lnvinfer_plugin_tensorrt_llm", "-lnvinfer",
            "-L/usr/local/cuda/lib64", "-lcudart", "-Wl,-rpath,<(trtllm_root)/lib"
          ]
        }]
      ]
    },
    {
      # The gateway's accept-queue drain (src/accept.cc): sockets, not the engine model; Linux.
      "target_name": "switchyard_accept",
      "sources": ["src/accept.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
