"""Installs the image-classification TFX pipeline (also what the Kubeflow image installs)."""

import setuptools

setuptools.setup(
  name="tfx-image-classification",
  version="0.1.0",
  description="TFX pipeline for image classification: image folders to a TF Serving model.",
  python_requires="==3.11.*",
  packages=setuptools.find_packages(
    include=["pipeline", "reporting", "components", "components.*", "trainer_module", "schemas"]
  ),
  package_data={"schemas": ["*.pbtxt"]},
  py_modules=["local_runner", "kubeflow_runner", "system"],
  install_requires=[
    "tfx[kfp]==1.21.0",
    "tensorboard==2.21.0",  # Keras TensorBoard callback; TF 2.21 no longer pulls it in
    "tensorflow==2.21.0",
    "tensorflow-transform==1.21.0",
    "tensorflow_model_analysis==0.52.0",
    "keras==3.15.1",
    "apache-beam==2.77.0",
    "scikit-learn==1.5.2",
    "protobuf==6.33.6",
    "numpy==2.4.6",
    "matplotlib==3.10.8",  # run report plots
    "cleanlab==2.9.0",  # --find-label-issues: confident learning (cleanlab.filter)
    # --export onnx and its parity gate (beside TensorFlow 2.21 and protobuf 6)
    "tf2onnx==1.17.0",
    "onnxruntime==1.31.0",
  ],
  extras_require={
    "test": [
      "pytest==9.2.0",
      "pytest-xdist==3.8.0",  # tiers on every core
      "ruff==0.17.6",  # lint and format, run by make test
      # runs notebooks/model_analysis.ipynb headless
      "nbclient==0.11.0",
      "nbformat==5.11.1",
      "ipykernel==7.4.0",
    ],
    # benchmarks/photos.py: real photographs for the 224-pixel benchmarks
    "bench": ["scikit-image==0.25.2"],
  },
)
