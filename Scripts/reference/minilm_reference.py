#!/usr/bin/env python3
"""The reference the Swift MiniLM is tested against: Hugging Face `tokenizers` for the token
ids, and the BERT forward pass in plain NumPy (mean pooling, l2 normalisation) for the vectors.

usage: minilm_reference.py MODEL_FOLDER SENTENCE... → JSON {"ids": [[...]], "vectors": [[...]]}
"""
import json
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):
    from math import erf, sqrt
    return 0.5 * x * (1 + np.vectorize(erf)(x / sqrt(2)))


def main():
    folder, sentences = sys.argv[1], sys.argv[2:]
    tok = Tokenizer.from_file(folder + "/tokenizer.json")
    tok.no_padding()
    W = load_file(folder + "/model.safetensors")
    ids_all, vectors = [], []
    for s in sentences:
        ids = tok.encode(s).ids
        ids_all.append(ids)
        n = len(ids)
        x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:n] \
            + W["embeddings.token_type_embeddings.weight"][0]
        x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"])
        for l in range(6):
            p = f"encoder.layer.{l}."
            lin = lambda t, name: t @ W[p + name + ".weight"].T + W[p + name + ".bias"]
            q, k, v = (lin(x, f"attention.self.{m}").reshape(n, 12, 32).transpose(1, 0, 2) for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(32)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 0, 2).reshape(n, 384)
            x = layer_norm(lin(ctx, "attention.output.dense") + x, W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"])
            h = gelu(lin(x, "intermediate.dense"))
            x = layer_norm(lin(h, "output.dense") + x, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"])
        pooled = x.mean(0)
        vectors.append((pooled / np.linalg.norm(pooled)).tolist())
    print(json.dumps({"ids": ids_all, "vectors": vectors}))


if __name__ == "__main__":
    main()
