{
  "targets": [
    {
      "target_name": "yuv_scale",
      "sources": ["yuv_scale.cc"],
      "libraries": ["-lyuv"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
