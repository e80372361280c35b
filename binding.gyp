{
  "targets": [
    {
      "target_name": "iiptran_native",
      "sources": ["src/native/iiptran_native.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11", "-fvisibility=hidden"],
      "cflags!": ["-O3"],
      "conditions": [
        ["OS!='linux'", {"type": "none"}]
      ]
    }
  ]
}
