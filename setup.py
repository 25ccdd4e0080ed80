from pathlib import Path

from setuptools import find_packages, setup

version = {}
for line in Path("sknas/__init__.py").read_text().splitlines():
    if line.startswith("__version__"):
        exec(line, version)

setup(
    name="sknas",
    version=version["__version__"],
    description="AutoML with neural architecture search behind scikit-learn estimators",
    long_description=Path("README.md").read_text() if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["sknas", "sknas.*"]),
    package_data={"sknas": ["data/*.npz", "data/*.json"]},
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "pandas>=2.0",
        "scikit-learn>=1.6",
        "torch>=2.1",
        "skorch>=1.0",
        "hyperopt>=0.2.7",
        "joblib>=1.3",
        "skops>=0.10",
        "tqdm>=4.64",
    ],
    extras_require={
        "plot": ["matplotlib>=3.7"],
        "export": ["skl2onnx>=1.17", "onnx>=1.16", "onnxscript>=0.1", "onnxruntime>=1.18"],
        "distributed": ["dask>=2024.1", "distributed>=2024.1"],
        "imbalance": ["imbalanced-learn>=0.12"],
        "lightgbm": ["lightgbm>=4.0"],
        "docs": ["sphinx>=7", "sphinx-gallery>=0.15", "matplotlib>=3.7", "tabulate>=0.9"],
        "test": [
            "pytest>=7", "hypothesis>=6", "matplotlib>=3.7", "dask>=2024.1", "distributed>=2024.1",
            "skl2onnx>=1.17", "onnx>=1.16", "onnxscript>=0.1", "onnxruntime>=1.18", "tabulate>=0.9",
            "imbalanced-learn>=0.12",
            # the authors' PLR/PLE and TabM layers, which tests/nn/test_reference_packages.py compares ours with
            "rtdl_num_embeddings>=0.0.12,<0.1", "tabm>=0.0.3,<0.1",
        ],
    },
    entry_points={"console_scripts": ["sknas=sknas.__main__:main"]},
    license="BSD-3-Clause",
)
