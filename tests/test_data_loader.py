"""Dataset, DataLoader, splits and preprocessing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import descentlab as dl
from descentlab.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    MinMaxScaler,
    StandardScaler,
    Subset,
    TensorDataset,
    one_hot,
    random_split,
    train_test_split,
)
from descentlab.data.transforms import RandomHorizontalFlip


class ListDataset(Dataset):
    """A dataset without .arrays, to exercise the per-sample collate path."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def test_tensor_dataset_accepts_tensors_and_checks_lengths():
    x = dl.tensor(np.arange(6.0).reshape(3, 2))
    ds = TensorDataset(x, np.array([0, 1, 2]))
    assert isinstance(ds.arrays[0], np.ndarray)
    assert len(ds) == 3
    xi, yi = ds[-1]
    np.testing.assert_array_equal(xi, [4.0, 5.0])
    assert yi == 2
    with pytest.raises(ValueError, match="different numbers of samples"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(IndexError, match="out of range"):
        ds[3]
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


@pytest.mark.parametrize(
    "n,batch,drop_last,expected",
    [(100, 100, False, 1), (100, 1, False, 100), (100, 32, False, 4), (100, 32, True, 3),
     (96, 32, True, 3), (5, 10, True, 0)],
)  # fmt: skip
def test_len_is_iterations_per_epoch(n, batch, drop_last, expected):
    loader = DataLoader(TensorDataset(np.zeros((n, 2))), batch_size=batch, drop_last=drop_last)
    assert len(loader) == expected
    batches = list(loader)
    assert len(batches) == expected
    sizes = [b[0].shape[0] for b in batches]
    assert sum(sizes) == (n if not drop_last else expected * batch)


def test_no_shuffle_keeps_order_and_covers_all():
    x = np.arange(10)
    loader = DataLoader(TensorDataset(x, x * 2), batch_size=4)
    got = np.concatenate([xb for xb, _ in loader])
    np.testing.assert_array_equal(got, x)
    for xb, yb in loader:
        np.testing.assert_array_equal(yb, xb * 2)


def test_shuffle_is_a_permutation_and_reproducible_with_global_rng_state():
    x = np.arange(50)
    loader = DataLoader(TensorDataset(x), batch_size=8, shuffle=True)
    dl.manual_seed(3)
    state = dl.get_rng_state()
    first = np.concatenate([b[0] for b in loader])
    second = np.concatenate([b[0] for b in loader])
    assert sorted(first.tolist()) == x.tolist()
    assert not np.array_equal(first, second)  # a new order every epoch
    dl.set_rng_state(state)
    again = np.concatenate([b[0] for b in loader])
    np.testing.assert_array_equal(first, again)


def test_shuffle_with_own_generator_ignores_global():
    x = np.arange(20)
    a = DataLoader(TensorDataset(x), batch_size=5, shuffle=True, generator=np.random.default_rng(7))
    b = DataLoader(TensorDataset(x), batch_size=5, shuffle=True, generator=np.random.default_rng(7))
    dl.manual_seed(1)
    first = np.concatenate([t[0] for t in a])
    dl.manual_seed(2)
    np.testing.assert_array_equal(first, np.concatenate([t[0] for t in b]))


def test_fast_path_equals_per_sample_path():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(23, 3)).astype(np.float32), rng.integers(0, 4, 23)
    fast = DataLoader(
        TensorDataset(x, y), batch_size=5, shuffle=True, generator=np.random.default_rng(1)
    )
    slow = DataLoader(
        ListDataset(x, y), batch_size=5, shuffle=True, generator=np.random.default_rng(1)
    )
    for (xa, ya), (xb, yb) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
        assert xa.dtype == xb.dtype == np.float32


def test_subset_of_tensor_dataset_uses_fast_path_with_correct_rows():
    ds = TensorDataset(np.arange(10) * 10, np.arange(10))
    sub = Subset(ds, [9, 3, 5])
    batches = list(DataLoader(sub, batch_size=2))
    np.testing.assert_array_equal(batches[0][0], [90, 30])
    np.testing.assert_array_equal(batches[1][1], [5])
    np.testing.assert_array_equal(sub.arrays[0], [90, 30, 50])


def test_collate_fn_and_transform_applied():
    ds = TensorDataset(np.ones((4, 1, 2, 3)), np.arange(4))
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return np.stack([s[0] for s in samples]) * 2, np.array([s[1] for s in samples])

    loader = DataLoader(ds, batch_size=3, collate_fn=collate, transform=lambda a: a + 1)
    xb, yb = next(iter(loader))
    assert seen == [3]
    np.testing.assert_array_equal(xb, np.full((3, 1, 2, 3), 3.0))
    flip = DataLoader(
        TensorDataset(np.arange(6.0).reshape(1, 1, 2, 3), np.zeros(1)),
        transform=RandomHorizontalFlip(p=1.0),
    )
    np.testing.assert_array_equal(next(iter(flip))[0][0, 0, 0], [2.0, 1.0, 0.0])


def test_loader_errors():
    ds = TensorDataset(np.zeros(3))
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(ds, batch_size=2.5)  # ValueError, as torch
    with pytest.raises(TypeError, match="TensorDataset"):
        DataLoader(np.float32(3.0))
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, generator=42)


def test_arguments_are_torchs_in_torchs_order_and_transform_is_keyword_only(torch):
    import inspect

    ref = list(inspect.signature(torch.utils.data.DataLoader).parameters.values())
    mine = list(inspect.signature(DataLoader).parameters.values())
    positional = [p.name for p in ref if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in mine if p.kind is p.POSITIONAL_OR_KEYWORD] == positional
    keyword = {p.name for p in mine if p.kind is p.KEYWORD_ONLY}
    assert keyword == {p.name for p in ref if p.kind is p.KEYWORD_ONLY} | {"transform"}
    defaults = {p.name: p.default for p in ref}
    for p in mine:
        if p.name not in ("transform", "shuffle"):  # torch's shuffle=None means False here
            assert p.default == defaults[p.name], p.name
    with pytest.raises(TypeError):
        DataLoader(TensorDataset(np.zeros(3)), 1, False, None, None, 0, None, False, False, 0,
                   None, None, None, lambda a: a)  # fmt: skip


def test_a_pytorch_tutorial_loader_runs_and_workers_change_nothing():
    ds = TensorDataset(np.arange(100.0).reshape(50, 2), np.arange(50))
    dl.manual_seed(4)
    plain = [yb.tolist() for _, yb in DataLoader(ds, batch_size=8, shuffle=True)]
    dl.manual_seed(4)
    tutorial = DataLoader(ds, batch_size=8, shuffle=True, num_workers=2, pin_memory=True,
                          persistent_workers=True, prefetch_factor=4, timeout=30)  # fmt: skip
    with pytest.warns(UserWarning, match="no accelerator is found"):
        assert [yb.tolist() for _, yb in tutorial] == plain
    assert (tutorial.num_workers, tutorial.prefetch_factor, tutorial.timeout) == (2, 4, 30)
    assert DataLoader(ds, num_workers=3).prefetch_factor == 2  # torch's default with workers
    assert DataLoader(ds).prefetch_factor is None


def test_pin_memory_warns_on_iteration_as_torch_without_an_accelerator(torch):
    if torch.accelerator.is_available():
        pytest.skip("torch pins memory on this machine's accelerator")
    tds = torch.utils.data.TensorDataset(torch.zeros(4))
    ours = DataLoader(TensorDataset(np.zeros(4)), batch_size=2, pin_memory=True,
                      pin_memory_device="cuda")  # fmt: skip
    for loader in (torch.utils.data.DataLoader(tds, batch_size=2, pin_memory=True,
                                               pin_memory_device="cuda"), ours):  # fmt: skip
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            list(loader)
        messages = [str(w.message) for w in caught]
        assert len(messages) == 2, messages
        assert messages[0].startswith("pin_memory_device is deprecated")
        assert messages[1].startswith("'pin_memory' argument is set as true but no accelerator is "
                                      "found, then device pinned memory won't be used.")  # fmt: skip
        assert all(w.category is UserWarning for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DataLoader(TensorDataset(np.zeros(4)), pin_memory=True)  # building does not warn, as torch
        list(DataLoader(TensorDataset(np.zeros(4)), pin_memory_device="cuda"))


def test_worker_init_fn_is_never_called_there_being_no_worker_processes(torch):
    calls = []
    ds = TensorDataset(np.arange(6))
    with pytest.warns(UserWarning, match="worker_init_fn is not called"):
        loader = DataLoader(ds, batch_size=4, num_workers=3, worker_init_fn=calls.append)
    for _ in range(2):
        assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]
    # (calling PyTorch's seed_worker recipe here would re-seed NumPy identically every epoch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no workers asked for: nothing to say
        list(DataLoader(ds, worker_init_fn=calls.append))
    tds = torch.utils.data.TensorDataset(torch.arange(6))
    list(torch.utils.data.DataLoader(tds, worker_init_fn=calls.append))
    assert calls == []  # no workers, no call: torch's behaviour
    with pytest.raises(TypeError, match="worker_init_fn must be callable"):
        DataLoader(ds, num_workers=2, worker_init_fn=1)


def test_sampler_attributes_cannot_change_after_init_as_torch(torch):
    tds = torch.utils.data.TensorDataset(torch.arange(6))
    for loader in (torch.utils.data.DataLoader(tds), DataLoader(TensorDataset(np.arange(6)))):
        for name in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset"):
            with pytest.raises(ValueError, match=f"{name} attribute should not be set after"):
                setattr(loader, name, 2)
        loader.num_workers = 0  # others can


def test_repr_names_a_custom_sampler():
    ds = TensorDataset(np.arange(10))
    assert repr(DataLoader(ds, batch_size=4)) == (
        "DataLoader(num_samples=10, batch_size=4, shuffle=False, drop_last=False, iterations=3)"
    )
    weighted = DataLoader(ds, batch_size=4, sampler=dl.data.WeightedRandomSampler([1.0] * 10, 6))
    assert "sampler=WeightedRandomSampler, iterations=2" in repr(weighted)
    assert "batch_sampler=list, iterations=1" in repr(DataLoader(ds, batch_sampler=[[0, 1]]))
    assert "iterations=unknown" in repr(DataLoader(ds, sampler=iter([1])))


def test_concat_and_random_split():
    a, b = TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 14))
    cat = a + b
    assert isinstance(cat, ConcatDataset) and len(cat) == 7
    assert cat[3][0] == 10 and cat[-1][0] == 13
    ds = TensorDataset(np.arange(10))
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [5, 3, 2]
    allidx = np.concatenate([p.indices for p in parts])
    assert sorted(allidx.tolist()) == list(range(10))
    # torch rule: floor then round-robin remainder
    assert [len(p) for p in random_split(TensorDataset(np.arange(11)), [0.5, 0.5])] == [6, 5]
    with pytest.raises(ValueError, match="sum to the dataset length 10"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.2])


def test_random_split_matches_torch_lengths(torch):
    from torch.utils.data import random_split as trs

    for n, fr in [(11, [0.5, 0.5]), (10, [0.3, 0.3, 0.4]), (7, [0.1, 0.2, 0.7])]:
        ours = [len(p) for p in random_split(TensorDataset(np.arange(n)), fr)]
        theirs = [len(p) for p in trs(range(n), fr)]
        assert ours == theirs


def test_train_test_split_plain_and_stratified():
    x = np.arange(100).reshape(50, 2)
    y = np.array([0] * 40 + [1] * 10)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, seed=0)
    assert len(x_te) == 10 and len(x_tr) == 40
    np.testing.assert_array_equal(x_tr[:, 1], x_tr[:, 0] + 1)  # rows kept whole
    np.testing.assert_array_equal(y[x_tr[:, 0] // 2], y_tr)  # x and y stay paired
    assert sorted(np.concatenate([x_tr[:, 0], x_te[:, 0]]).tolist()) == list(range(0, 100, 2))
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, seed=1)
    assert np.bincount(y_te).tolist() == [8, 2]
    assert np.bincount(y_tr).tolist() == [32, 8]
    # pairs stay aligned
    np.testing.assert_array_equal(y[x_te[:, 0] // 2], y_te)
    # same seed -> same split; int test_size
    a = train_test_split(x, y, test_size=7, seed=5)
    b = train_test_split(x, y, test_size=7, seed=5)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert len(a[1]) == 7


def test_train_test_split_stratified_proportions_on_uneven_classes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 997)
    _, y_te = train_test_split(y, test_size=0.25, stratify=y, seed=0)
    assert len(y_te) == int(np.ceil(0.25 * 997))
    expected = np.bincount(y) * len(y_te) / len(y)
    assert np.all(np.abs(np.bincount(y_te) - expected) <= 1)


def test_train_test_split_sizes_follow_scikit_learn():
    sk = pytest.importorskip("sklearn.model_selection")
    x, y = np.arange(30), np.array([0, 1, 2] * 10)
    for kw in ({}, {"train_size": 0.7}, {"test_size": 0.3, "train_size": 0.5}, {"train_size": 11},
               {"test_size": 4, "train_size": 20}):  # fmt: skip
        ours = train_test_split(x, y, random_state=0, **kw)
        theirs = sk.train_test_split(x, y, random_state=0, **kw)
        assert [len(a) for a in ours] == [len(a) for a in theirs], kw
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=6, train_size=12, stratify=y, seed=0)
    assert np.bincount(y_te).tolist() == [2, 2, 2] and np.bincount(y_tr).tolist() == [4, 4, 4]
    assert not set(x_tr) & set(x_te)
    with pytest.raises(ValueError, match="only 30"):
        train_test_split(x, test_size=0.5, train_size=0.6)
    with pytest.raises(ValueError, match="not both"):
        train_test_split(x, seed=0, random_state=0)
    with pytest.raises(ValueError, match="train_size"):
        train_test_split(x, train_size=0.0)


def test_train_test_split_errors():
    with pytest.raises(ValueError, match="different numbers of samples"):
        train_test_split(np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.zeros(5), test_size=1.5)
    with pytest.raises(ValueError, match="fewer than 2 samples"):
        train_test_split(np.zeros(5), stratify=np.array([0, 0, 0, 0, 1]), test_size=0.4)


def test_one_hot():
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([[1, 0]]), 2).shape == (1, 2, 2)
    assert one_hot([0, 3]).shape == (2, 4)
    with pytest.raises(ValueError, match="outside range"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match=">= 0"):
        one_hot([-1, 0], 3)
    with pytest.raises(ValueError, match="whole numbers"):
        one_hot([0.5], 3)


def test_standard_scaler_matches_sklearn_and_roundtrips():
    from sklearn.preprocessing import StandardScaler as SkScaler

    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(200, 4))
    x[:, 2] = 5.0  # constant feature -> scale 1
    ours = StandardScaler().fit(x)
    ref = SkScaler().fit(x)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(x), ref.transform(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(x)), x, rtol=1e-12)
    # float32 stays float32
    assert ours.transform(x.astype(np.float32)).dtype == np.float32
    # partial_fit over batches == fit at once
    streamed = StandardScaler()
    for chunk in np.array_split(x, 7):
        streamed.partial_fit(chunk)
    np.testing.assert_allclose(streamed.mean_, ours.mean_, rtol=1e-12)
    np.testing.assert_allclose(streamed.var_, ours.var_, rtol=1e-10, atol=1e-14)
    # state to / from dict (JSON-serialisable)
    import json

    clone = StandardScaler.from_dict(json.loads(json.dumps(ours.to_dict())))
    np.testing.assert_array_equal(clone.transform(x), ours.transform(x))


def test_scaler_errors():
    with pytest.raises(RuntimeError, match="fit"):
        StandardScaler().transform(np.zeros((2, 2)))
    s = StandardScaler().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="feature shape"):
        s.transform(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        StandardScaler().fit(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="StandardScaler state"):
        StandardScaler().load_state_dict({"type": "MinMaxScaler"})


def test_minmax_scaler_matches_sklearn():
    from sklearn.preprocessing import MinMaxScaler as SkMinMax

    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3))
    ours = MinMaxScaler((-1, 1)).fit(x)
    ref = SkMinMax((-1, 1)).fit(x)
    np.testing.assert_allclose(ours.transform(x), ref.transform(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(x)), x, rtol=1e-12)
    clone = MinMaxScaler.from_dict(ours.to_dict())
    np.testing.assert_array_equal(clone.transform(x), ours.transform(x))


def test_stratified_split_exact_size_with_many_small_classes():
    # 10 classes of 2-3 samples: every class needs >= 1 sample on each side.
    y = np.repeat(np.arange(10), [2, 3, 2, 3, 2, 3, 2, 3, 2, 3])
    for test_size in (10, 12, 15):
        y_tr, y_te = train_test_split(y, test_size=test_size, stratify=y, seed=0)
        assert len(y_te) == test_size
        assert set(y_te.tolist()) == set(range(10)) == set(y_tr.tolist())


def test_default_collate_handles_list_dict_and_nested_samples_as_torch(torch):
    from descentlab.data import Dataset, default_collate

    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10) % 2
    shapes = {
        "list": lambda i: [x[i], int(y[i])],
        "dict": lambda i: {"x": x[i], "y": int(y[i])},
        "nested": lambda i: (x[i], (int(y[i]), float(x[i, 0]))),
    }
    for kind, item in shapes.items():

        class Ours(Dataset):
            def __len__(self):
                return 10

            def __getitem__(self, i, item=item):
                return item(i)

        class Theirs(torch.utils.data.Dataset):
            def __len__(self):
                return 10

            def __getitem__(self, i, item=item):
                return item(i)

        ours = next(iter(DataLoader(Ours(), batch_size=4)))
        theirs = next(iter(torch.utils.data.DataLoader(Theirs(), batch_size=4)))

        def flat(b):
            if isinstance(b, dict):
                return {k: flat(v) for k, v in b.items()}
            if isinstance(b, (tuple, list)):
                return [flat(v) for v in b]
            return np.asarray(b).tolist()

        assert flat(ours) == flat(theirs), kind  # tuples here where torch gives lists
    with pytest.raises(ValueError, match="every sample must be a dict with keys"):
        default_collate([{"x": 1}, {"y": 2}])
    with pytest.raises(ValueError, match=r"field\[0\] cannot be stacked"):
        default_collate([(np.zeros(2), 0), (np.zeros(3), 1)])


def test_batches_are_tensors_as_torch_yields(torch):
    import descentlab as dl

    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6)
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=4)))
    tx, ty = next(iter(torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4)))  # fmt: skip
    assert isinstance(xb, dl.Tensor) and not xb.requires_grad
    assert xb.size(0) == tx.size(0) == 4 and xb.size() == tuple(tx.size())
    assert xb.size == tx.numel()  # NumPy's size is still the element count
    np.testing.assert_array_equal(np.asarray(xb), tx.numpy())
    assert yb.long().dtype == np.int64 and xb.to("cpu") is xb

    class Dicts(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return {"x": x[i], "y": y[i]}

    dicts = next(iter(DataLoader(Dicts(), batch_size=3)))
    assert isinstance(dicts["x"], dl.Tensor) and dicts["x"].shape == (3, 2)
