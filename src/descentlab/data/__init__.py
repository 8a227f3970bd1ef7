"""descentlab.data: datasets, loaders, bundled and synthetic data, file formats, augmentation.

Example:
    >>> from descentlab.data import DataLoader, TensorDataset, load_digits, train_test_split
    >>> d = load_digits()
    >>> x_tr, x_te, y_tr, y_te = train_test_split(d.x / 16, d.y, test_size=0.2, stratify=d.y, seed=0)
    >>> loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=32, shuffle=True)
    >>> len(loader)   # iterations per epoch = ceil(1437 / 32)
    45
"""

from descentlab.data import sampler, transforms
from descentlab.data.batches import BatchLoader, PyDataset
from descentlab.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from descentlab.data.datasets import (
    DatasetBunch,
    available_datasets,
    load_breast_cancer,
    load_dataset,
    load_diabetes,
    load_digits,
    load_iris,
    load_mnist1d,
    load_wine,
    make_blobs,
    make_circles,
    make_moons,
    make_regression_1d,
    make_spirals,
    make_xor,
)
from descentlab.data.download import ChecksumError, DownloadError, cache_dir, download, sha256sum
from descentlab.data.fetch import (
    FASHION_MNIST_SHA256,
    MNIST_SHA256,
    fetch_fashion_mnist,
    fetch_mnist,
)
from descentlab.data.formats import (
    ImageFolder,
    load_csv,
    load_mnist,
    load_npz,
    read_idx,
    write_idx,
)
from descentlab.data.loader import DataLoader, default_collate
from descentlab.data.preprocessing import MinMaxScaler, StandardScaler, one_hot, train_test_split
from descentlab.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from descentlab.data.transforms import (
    Compose,
    GaussianNoise,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomShift,
    RandomVerticalFlip,
)

__all__ = [
    "PyDataset",
    "BatchLoader",
    "Dataset",
    "TensorDataset",
    "Subset",
    "ConcatDataset",
    "random_split",
    "DataLoader",
    "default_collate",
    "sampler",
    *sampler.__all__,
    "train_test_split",
    "one_hot",
    "StandardScaler",
    "MinMaxScaler",
    "DatasetBunch",
    "load_digits",
    "load_iris",
    "load_wine",
    "load_breast_cancer",
    "load_diabetes",
    "load_mnist1d",
    "load_dataset",
    "available_datasets",
    "make_spirals",
    "make_moons",
    "make_circles",
    "make_blobs",
    "make_xor",
    "make_regression_1d",
    "read_idx",
    "write_idx",
    "load_mnist",
    "fetch_mnist",
    "fetch_fashion_mnist",
    "MNIST_SHA256",
    "FASHION_MNIST_SHA256",
    "load_csv",
    "load_npz",
    "ImageFolder",
    "download",
    "cache_dir",
    "sha256sum",
    "ChecksumError",
    "DownloadError",
    "transforms",
    "Compose",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomCrop",
    "RandomShift",
    "RandomRotation",
    "GaussianNoise",
    "Normalize",
]
