"""Convert a landmark model: `python tools/convert.py resnet50 --formats saved_model,tflite,onnx`.

A thin wrapper over `keras-landmarks convert` (see `keras-landmarks convert --help`).
"""

import sys

from keras_landmarks.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", *sys.argv[1:]]))
