#!/usr/bin/env python3
"""The tokenizer encoder in PyTorch, for `videoar bench tokenizer`.

Runs the same causal 3D encoder as Sources/Tokenizer on the same LibTorch (Debian's
python3-torch), with the weights of a VideoAR safetensors checkpoint (same parameter
names), on the same input. Prints one JSON line: timings, per-op overhead, and where it
wrote its output features so the Swift side can compare them.

usage: tokenizer_reference.py CHECKPOINT INPUT OUTPUT THREADS REPEATS
"""
import json
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "U8": np.uint8, "I64": np.int64, "F16": np.float16}


def read_safetensors(path):
    """A minimal safetensors reader (Debian ships no safetensors package)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[base + begin:base + end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, meta


def causal_conv(x, w, b, stride_t=1, stride_s=1):
    kt, k = w.shape[2], w.shape[3]
    p = k // 2
    x = F.pad(x, (p, p, p, p, kt - 1, 0))
    return F.conv3d(x, w, b, stride=(stride_t, stride_s, stride_s))


def frame_group_norm(x, groups, w, b):
    n, c, t, h, wd = x.shape
    y = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, wd)
    y = F.group_norm(y, groups, w, b, eps=1e-6)
    return y.reshape(n, t, c, h, wd).permute(0, 2, 1, 3, 4)


class Encoder:
    def __init__(self, weights, config):
        self.p = {k[len("encoder."):]: v for k, v in weights.items() if k.startswith("encoder.")}
        self.c = config

    def conv(self, x, name, stride_t=1, stride_s=1):
        return causal_conv(x, self.p[name + ".weight"], self.p.get(name + ".bias"), stride_t, stride_s)

    def norm(self, x, name):
        return frame_group_norm(x, self.c["norm_groups"], self.p[name + ".norm.weight"], self.p[name + ".norm.bias"])

    def block(self, x, name):
        h = self.conv(F.silu(self.norm(x, name + ".norm1")), name + ".conv1")
        h = self.conv(F.silu(self.norm(h, name + ".norm2")), name + ".conv2")
        skip = self.conv(x, name + ".skip") if name + ".skip.weight" in self.p else x
        return h + skip

    def __call__(self, video):
        x = video.float().div(127.5).sub(1).permute(3, 0, 1, 2).unsqueeze(0).contiguous()
        h = self.conv(x, "convIn")
        levels = len(self.c["channel_multipliers"])
        for i in range(levels):
            for j in range(self.c["res_blocks"]):
                h = self.block(h, f"levels.{i}.blocks.{j}")
            if i < levels - 1:
                stride_t = 2 if i in self.c["temporal_downsamples"] else 1
                h = self.conv(h, f"levels.{i}.downsample.conv", stride_t, 2)
        for j in range(2):
            h = self.block(h, f"mid.{j}")
        return self.conv(F.silu(self.norm(h, "normOut")), "convOut")


def main():
    checkpoint, source, output, threads, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    weights, meta = read_safetensors(checkpoint)
    config = json.loads(meta["videoar.tokenizer.config"])
    encoder = Encoder(weights, config)
    inputs, _ = read_safetensors(source)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "sizes": {}}
    with torch.no_grad():
        for name in sorted(inputs, key=lambda n: inputs[n].shape[1]):
            video = inputs[name]
            features = encoder(video)  # warm-up
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                features = encoder(video)
                best = min(best, time.perf_counter() - start)
            np.ascontiguousarray(features.numpy(), dtype=np.float32).tofile(f"{output}.{name}.f32")
            result["sizes"][name] = {"seconds": best, "shape": list(features.shape)}
        # Per-op overhead: a tiny op dominated by dispatch, not arithmetic.
        a, b = torch.ones(1), torch.ones(1)
        for _ in range(1000):
            torch.add(a, b)
        count = 20000
        start = time.perf_counter()
        for _ in range(count):
            torch.add(a, b)
        result["add_us"] = (time.perf_counter() - start) / count * 1e6
    print(json.dumps(result))


if __name__ == "__main__":
    main()
