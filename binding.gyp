{
  "targets": [
    {
      "target_name": "iiptran_native",
      "sources": [
        "src/native/module.c",
        "src/native/napi_util.c",
        "src/native/tun.c",
        "src/native/sockets.c",
        "src/native/sock6.c",
        "src/native/batch.c",
        "src/native/reader.c",
        "src/native/reader_poll.c",
        "src/native/reader_lifecycle.c",
        "src/native/ifctl.c",
        "src/native/csum.c",
        "src/native/esp_sa.c",
        "src/native/esp_seal.c",
        "src/native/esp_open.c",
        "src/native/send_seg.c",
        "src/native/tun_write.c",
        "src/native/exec.c",
        "src/native/fastpath.c",
        "src/native/fastpath_in.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11", "-fvisibility=hidden"],
      "cflags!": ["-O3"],
      "conditions": [
        ["OS!='linux'", {"type": "none"}]
      ]
    }
  ]
}
