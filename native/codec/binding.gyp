{
  "targets": [
    {
      "target_name": "codec",
      "sources": [
        "src/addon.cc",
        "src/async_codec.cc",
        "src/h264_bitstream.cc",
        "src/h264_encoder.cc",
        "src/napi_helpers.cc",
        "src/napi_opus.cc",
        "src/napi_video_decoder.cc",
        "src/napi_video_encoder.cc",
        "src/video_decoder_impl.cc",
        "src/vp8_encoder.cc"
      ],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "<!@(pkg-config --cflags vpx x264 opus libavcodec libavutil)"],
      "libraries": ["<!@(pkg-config --libs vpx x264 opus libavcodec libavutil)", "-lpthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
