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
        "src/scheduler.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      # The TensorRT-LLM executor (src/trtllm_executor.cc, SWITCHYARD_WITH_TRTLLM) joins this
      # target under a `trtllm_root!=''` condition once the in-process plugin lands; until then
      # every build is the engine-model build and asking for 'tensorrt-llm' fails with a message.
      "conditions": []
    }
  ]
}
