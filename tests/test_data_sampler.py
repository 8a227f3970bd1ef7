"""Samplers and the sampler arguments of DataLoader, against torch.utils.data where deterministic.

Orders, batches, lengths and argument errors are compared with torch run in the same test; the
random samplers are checked statistically (NumPy draws other numbers than torch for one seed).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from descentlab.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)
from descentlab.train import ModelCheckpoint, fit
from test_data_loader import ListDataset  # a dataset without .arrays: the per-sample path


def ours(n=10):
    """descentlab's data classes and a dataset of n samples, named as in torch.utils.data."""
    ns = SimpleNamespace(**{k: getattr(dl.data, k) for k in _NAMES})
    ns.ds, ns.empty = TensorDataset(np.arange(float(n))), TensorDataset(np.zeros(0))
    return ns


def theirs(torch, n=10):
    """torch.utils.data's classes and a dataset of n samples."""
    ns = SimpleNamespace(**{k: getattr(torch.utils.data, k) for k in _NAMES})
    ns.ds = torch.utils.data.TensorDataset(torch.arange(float(n)))
    ns.empty = torch.utils.data.TensorDataset(torch.zeros(0))
    return ns


_NAMES = ["DataLoader", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
          "WeightedRandomSampler", "BatchSampler"]  # fmt: skip


def _batches(loader):
    return [np.asarray(b[0]).astype(int).tolist() for b in loader]


# ---------------------------------------------------------------- deterministic: same as torch
@pytest.mark.parametrize("n", [0, 1, 7])
def test_sequential_sampler_order_and_len_match_torch(torch, n):
    t = torch.utils.data.SequentialSampler(range(n))
    s = SequentialSampler(range(n))
    assert list(s) == list(t) and len(s) == len(t) == n
    assert all(type(i) is int for i in s)


@pytest.mark.parametrize(
    "indices", [list(range(10)), [9, 3, 3, 0, 7], [4], [], np.arange(12)[::-1].tolist()]
)
@pytest.mark.parametrize("batch_size", [1, 3, 4, 20])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_batches_and_len_match_torch(torch, indices, batch_size, drop_last):
    t = torch.utils.data.BatchSampler(indices, batch_size, drop_last)
    s = BatchSampler(indices, batch_size, drop_last)
    assert list(s) == list(t)
    assert len(s) == len(t) == len(list(t))
    over_sampler = BatchSampler(SequentialSampler(indices), batch_size, drop_last)
    ref = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(indices), batch_size,
                                        drop_last)  # fmt: skip
    assert list(over_sampler) == list(ref) and len(over_sampler) == len(ref)


def test_batch_sampler_groups_an_endless_iterable_lazily():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    it = iter(BatchSampler(endless(), 3, drop_last=True))
    assert [next(it), next(it)] == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize(
    "kind,args",
    [("RandomSampler", {}), ("RandomSampler", {"replacement": True}),
     ("RandomSampler", {"num_samples": 4}), ("RandomSampler", {"num_samples": 23}),
     ("RandomSampler", {"replacement": True, "num_samples": 31}),
     ("SubsetRandomSampler", {}), ("WeightedRandomSampler", {}),
     ("WeightedRandomSampler", {"replacement": False})],
)  # fmt: skip
def test_random_sampler_lengths_match_torch(torch, kind, args):
    def make(lib):
        if kind == "RandomSampler":
            return lib.RandomSampler(lib.ds, **args)
        if kind == "SubsetRandomSampler":
            return lib.SubsetRandomSampler([1, 5, 8])
        return lib.WeightedRandomSampler([1.0, 2.0, 0.5, 0.0, 3.0], 4, **args)

    s, t = make(ours()), make(theirs(torch))
    assert len(s) == len(t) == len(list(s)) == len(list(t))
    if hasattr(t, "num_samples"):
        assert s.num_samples == t.num_samples
    assert all(type(i) is int for i in s)


def _sampler_choices(lib, n):
    """Every way of choosing a loader's samples: (label, DataLoader keyword arguments)."""
    return [
        ("default", {}),
        ("shuffle", {"shuffle": True}),
        ("sequential", {"sampler": lib.SequentialSampler(lib.ds)}),
        ("random-more", {"sampler": lib.RandomSampler(lib.ds, num_samples=n + 3)}),
        ("random-repl", {"sampler": lib.RandomSampler(lib.ds, True, num_samples=5)}),
        ("subset", {"sampler": lib.SubsetRandomSampler(list(range(0, n, 2)))}),
        ("weighted", {"sampler": lib.WeightedRandomSampler([1.0] * n, 13)}),
        ("list", {"sampler": [4, 0, 2]}),
    ]


@pytest.mark.parametrize("choice", range(8))
@pytest.mark.parametrize("batch_size", [1, 3, 4, 50])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_len_and_batch_sizes_match_torch_for_every_sampler(torch, choice, batch_size,
                                                                  drop_last):  # fmt: skip
    n = 10
    (label, kw), (_, tkw) = (
        _sampler_choices(ours(n), n)[choice],
        _sampler_choices(theirs(torch), n)[choice],
    )
    mine = DataLoader(ours(n).ds, batch_size, drop_last=drop_last, **kw)
    ref = torch.utils.data.DataLoader(theirs(torch, n).ds, batch_size, drop_last=drop_last, **tkw)
    assert len(mine) == len(ref), label
    assert [len(b) for b in _batches(mine)] == [len(b) for b in _batches(ref)], label
    assert type(mine.sampler).__name__ == type(ref.sampler).__name__
    assert type(mine.batch_sampler).__name__ == type(ref.batch_sampler).__name__
    assert (mine.batch_size, mine.drop_last) == (ref.batch_size, ref.drop_last)
    if label in ("default", "sequential", "list"):  # no randomness: the very same batches
        assert _batches(mine) == _batches(ref)


@pytest.mark.parametrize(
    "batch_sampler",
    [[[3, 1], [2], [0, 4, 5]], "batch", "batch-drop"],
)
def test_loader_with_a_batch_sampler_matches_torch(torch, batch_sampler):
    def make(lib):
        if batch_sampler == "batch":
            return lib.BatchSampler(lib.SequentialSampler(lib.ds), 4, False)
        if batch_sampler == "batch-drop":
            return lib.BatchSampler(lib.SequentialSampler(lib.ds), 4, True)
        return batch_sampler

    mine = DataLoader(ours().ds, batch_sampler=make(ours()))
    ref = torch.utils.data.DataLoader(theirs(torch).ds, batch_sampler=make(theirs(torch)))
    assert len(mine) == len(ref)
    assert _batches(mine) == _batches(ref)
    assert (mine.batch_size, mine.drop_last) == (ref.batch_size, ref.drop_last) == (None, False)
    assert type(mine.sampler).__name__ == type(ref.sampler).__name__ == "SequentialSampler"


def test_len_of_a_loader_whose_sampler_has_no_len_is_a_type_error(torch):
    with pytest.raises(TypeError, match="has no len"):
        len(torch.utils.data.DataLoader(theirs(torch).ds, batch_size=2, sampler=iter([1, 2])))
    loader = DataLoader(ours().ds, batch_size=2, sampler=iter([1, 2, 3]))
    with pytest.raises(TypeError, match="has no len.*give the sampler a __len__"):
        len(loader)
    assert _batches(loader) == [[1, 2], [3]]  # list() survives the TypeError of len()


# ---------------------------------------------------------------- argument errors: torch's
ERRORS = [
    # (what, build(lib), exception type, words both messages contain)
    ("sampler+shuffle", lambda L: L.DataLoader(L.ds, shuffle=True, sampler=L.SequentialSampler(L.ds)),
     ValueError, ["sampler", "mutually exclusive", "shuffle"]),
    ("batch_sampler+batch_size",
     lambda L: L.DataLoader(L.ds, batch_size=2, batch_sampler=[[0, 1]]),
     ValueError, ["batch_sampler", "mutually exclusive", "batch_size"]),
    ("batch_sampler+shuffle", lambda L: L.DataLoader(L.ds, shuffle=True, batch_sampler=[[0]]),
     ValueError, ["batch_sampler", "mutually exclusive", "shuffle"]),
    ("batch_sampler+sampler",
     lambda L: L.DataLoader(L.ds, sampler=[0], batch_sampler=[[0]]),
     ValueError, ["batch_sampler", "mutually exclusive", "sampler"]),
    ("batch_sampler+drop_last", lambda L: L.DataLoader(L.ds, drop_last=True, batch_sampler=[[0]]),
     ValueError, ["batch_sampler", "mutually exclusive", "drop_last"]),
    ("batch_sampler+batch_size=None",
     lambda L: L.DataLoader(L.ds, batch_size=None, batch_sampler=[[0]]),
     ValueError, ["mutually exclusive"]),
    ("num_workers<0", lambda L: L.DataLoader(L.ds, num_workers=-1),
     ValueError, ["num_workers", "non-negative", "num_workers=0"]),
    ("timeout<0", lambda L: L.DataLoader(L.ds, timeout=-1), ValueError, ["timeout", "non-negative"]),
    ("prefetch_factor without workers", lambda L: L.DataLoader(L.ds, prefetch_factor=2),
     ValueError, ["prefetch_factor", "num_workers > 0"]),
    ("prefetch_factor<0", lambda L: L.DataLoader(L.ds, num_workers=2, prefetch_factor=-1),
     ValueError, ["prefetch_factor", "non-negative"]),
    ("persistent_workers without workers", lambda L: L.DataLoader(L.ds, persistent_workers=True),
     ValueError, ["persistent_workers", "num_workers > 0"]),
    ("multiprocessing_context without workers",
     lambda L: L.DataLoader(L.ds, multiprocessing_context="spawn"),
     ValueError, ["multiprocessing_context", "num_workers > 0"]),
    ("multiprocessing_context unknown",
     lambda L: L.DataLoader(L.ds, num_workers=1, multiprocessing_context="teleport"),
     ValueError, ["multiprocessing_context", "start method"]),
    ("batch_size=0", lambda L: L.DataLoader(L.ds, batch_size=0),
     ValueError, ["batch_size", "positive integer"]),
    ("batch_size=-1", lambda L: L.DataLoader(L.ds, batch_size=-1),
     ValueError, ["batch_size", "positive integer"]),
    ("batch_size=2.5", lambda L: L.DataLoader(L.ds, batch_size=2.5),
     ValueError, ["batch_size", "positive integer"]),
    ("batch_size=True", lambda L: L.DataLoader(L.ds, batch_size=True),
     ValueError, ["batch_size", "positive integer"]),
    ("drop_last=1", lambda L: L.DataLoader(L.ds, drop_last=1), ValueError, ["drop_last", "boolean"]),
    ("shuffle on empty data", lambda L: L.DataLoader(L.empty, shuffle=True),
     ValueError, ["num_samples", "positive integer", "num_samples=0"]),
    ("RandomSampler num_samples=0", lambda L: L.RandomSampler(L.ds, num_samples=0),
     ValueError, ["num_samples", "positive integer"]),
    ("RandomSampler num_samples=2.0", lambda L: L.RandomSampler(L.ds, num_samples=2.0),
     ValueError, ["num_samples", "positive integer"]),
    ("RandomSampler replacement=1", lambda L: L.RandomSampler(L.ds, replacement=1),
     TypeError, ["replacement", "boolean"]),
    ("Weighted num_samples=0", lambda L: L.WeightedRandomSampler([1.0, 2.0], 0),
     ValueError, ["num_samples", "positive integer"]),
    ("Weighted num_samples=True", lambda L: L.WeightedRandomSampler([1.0, 2.0], True),
     ValueError, ["num_samples", "positive integer"]),
    ("Weighted replacement=1", lambda L: L.WeightedRandomSampler([1.0, 2.0], 1, replacement=1),
     ValueError, ["replacement", "boolean"]),
    ("Weighted 2-d", lambda L: L.WeightedRandomSampler([[1.0, 2.0]], 1),
     ValueError, ["weights", "1d", "(1, 2)"]),
    ("BatchSampler batch_size=0", lambda L: L.BatchSampler(range(3), 0, False),
     ValueError, ["batch_size", "positive integer"]),
    ("BatchSampler batch_size=-2", lambda L: L.BatchSampler(range(3), -2, False),
     ValueError, ["batch_size", "positive integer"]),
    ("BatchSampler drop_last=None", lambda L: L.BatchSampler(range(3), 2, None),
     ValueError, ["drop_last", "boolean"]),
]  # fmt: skip


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_argument_errors_are_torchs(torch, case):
    _, build, kind, words = case
    with pytest.raises(Exception) as ref:  # noqa: PT011 (the type is compared below)
        build(theirs(torch))
    with pytest.raises(Exception) as mine:  # noqa: PT011
        build(ours())
    assert type(ref.value) is kind, f"torch raised {ref.value!r}"
    assert type(mine.value) is kind, f"we raised {mine.value!r}"
    for word in words:
        assert word in str(ref.value), f"torch's message lacks {word!r}: {ref.value}"
        assert word in str(mine.value), f"our message lacks {word!r}: {mine.value}"


@pytest.mark.parametrize(
    "weights,num_samples,replacement,words",
    [([1.0, -1.0, 2.0], 2, True, "non-negative"),
     ([1.0, float("nan"), 2.0], 2, True, "finite"),
     ([1.0, float("inf"), 2.0], 2, True, "finite"),
     ([0.0, 0.0], 2, True, "sum to 0"),
     ([1.0, 1.0, 2.0], 4, False, "without replacement"),
     ([], 1, True, "1d")],
)  # fmt: skip
def test_bad_weights_are_refused_when_built_not_on_iteration_as_torch(
    torch, weights, num_samples, replacement, words
):
    sampler = torch.utils.data.WeightedRandomSampler(weights, num_samples, replacement)
    with pytest.raises(RuntimeError):  # torch.multinomial fails on the first pass
        list(sampler)
    with pytest.raises(ValueError, match=f"WeightedRandomSampler: .*{words}"):
        WeightedRandomSampler(weights, num_samples, replacement)


def test_weighted_without_replacement_never_returns_zero_weight_indices(torch):
    # torch returns a zero-weight index once the positive ones run out; we refuse instead
    drawn = list(torch.utils.data.WeightedRandomSampler([1.0, 0.0, 2.0], 3, replacement=False))
    assert sorted(drawn) == [0, 1, 2]
    with pytest.raises(ValueError, match="3 distinct indices .* from 2 nonzero weights"):
        WeightedRandomSampler([1.0, 0.0, 2.0], 3, replacement=False)
    assert sorted(WeightedRandomSampler([1.0, 0.0, 2.0], 2, replacement=False)) == [0, 2]


def test_other_refusals_name_the_fix():
    with pytest.raises(TypeError, match="np.random.default_rng"):
        RandomSampler(range(3), generator=42)
    with pytest.raises(TypeError, match="generator must be an np.random.Generator"):
        WeightedRandomSampler([1.0], 1, generator="seed")
    with pytest.raises(ValueError, match="1-d sequence of integers"):
        SubsetRandomSampler([0.5, 1.5])
    with pytest.raises(ValueError, match="1-d sequence of integers"):
        SubsetRandomSampler([[0, 1]])
    with pytest.raises(NotImplementedError, match="must define __iter__"):
        iter(Sampler())
    with pytest.raises(TypeError):
        len(Sampler())  # no default __len__, as torch
    with pytest.raises(TypeError, match="sampler must be an iterable"):
        DataLoader(ours().ds, sampler=3)
    with pytest.raises(ValueError, match="batch_size=None .* not supported"):
        DataLoader(ours().ds, batch_size=None)


# ---------------------------------------------------------------- random samplers: statistics
def test_weighted_frequencies_follow_the_weights():
    weights = np.array([1.0, 2.0, 3.0, 4.0, 0.0])
    s = WeightedRandomSampler(weights, 100_000, generator=np.random.default_rng(0))
    counts = np.bincount(list(s), minlength=5) / 100_000
    np.testing.assert_allclose(counts, weights / weights.sum(), atol=0.01)
    assert counts[4] == 0


def test_weighted_without_replacement_is_successive_sampling_like_torch_multinomial(torch):
    weights, k, trials = [1.0, 2.0, 3.0, 4.0, 10.0], 2, 6000
    mine = WeightedRandomSampler(weights, k, replacement=False, generator=np.random.default_rng(1))
    ref = torch.utils.data.WeightedRandomSampler(
        weights, k, replacement=False, generator=torch.Generator().manual_seed(1)
    )
    ours_first, ours_in = np.zeros(5), np.zeros(5)
    torch_first, torch_in = np.zeros(5), np.zeros(5)
    for _ in range(trials):
        a, b = list(mine), list(ref)
        assert len(set(a)) == k  # distinct within a pass
        ours_first[a[0]] += 1
        torch_first[b[0]] += 1
        ours_in[a] += 1
        torch_in[b] += 1
    np.testing.assert_allclose(ours_first / trials, np.array(weights) / sum(weights), atol=0.025)
    np.testing.assert_allclose(ours_in / trials, torch_in / trials, atol=0.035)
    np.testing.assert_allclose(ours_first / trials, torch_first / trials, atol=0.035)


def test_weighted_without_replacement_all_nonzero_is_a_permutation():
    s = WeightedRandomSampler(np.arange(1.0, 21.0), 20, False, np.random.default_rng(2))
    assert sorted(s) == list(range(20))


def test_random_sampler_permutations_and_uniform_draws():
    gen = np.random.default_rng(3)
    first, second = (
        list(RandomSampler(range(30), generator=gen)),
        list(RandomSampler(range(30), generator=gen)),
    )
    assert sorted(first) == sorted(second) == list(range(30)) and first != second
    chained = list(RandomSampler(range(7), num_samples=17, generator=gen))
    assert sorted(chained[:7]) == sorted(chained[7:14]) == list(range(7))  # whole permutations
    assert len(set(chained[14:])) == 3  # then part of one
    counts = np.bincount(list(RandomSampler(range(4), True, 40_000, gen)), minlength=4)
    np.testing.assert_allclose(counts / 40_000, 0.25, atol=0.015)


def test_subset_random_sampler_is_a_new_permutation_of_its_indices_each_pass():
    indices = [11, 3, 7, 20, 5, 8, 1, 14]
    s = SubsetRandomSampler(indices, generator=np.random.default_rng(4))
    passes = [list(s) for _ in range(5)]
    assert all(sorted(p) == sorted(indices) for p in passes)
    assert len({tuple(p) for p in passes}) > 1
    assert list(SubsetRandomSampler([])) == []


def test_train_validation_split_with_two_subset_samplers():
    ds = TensorDataset(np.arange(100.0), np.arange(100))
    split = np.random.default_rng(0).permutation(100)
    train = DataLoader(ds, batch_size=16, sampler=SubsetRandomSampler(split[:80]))
    val = DataLoader(ds, batch_size=16, sampler=SubsetRandomSampler(split[80:]))
    seen_train = np.concatenate([yb for _, yb in train])
    seen_val = np.concatenate([yb for _, yb in val])
    assert (len(train), len(val)) == (5, 2)
    assert sorted(seen_train) == sorted(split[:80]) and sorted(seen_val) == sorted(split[80:])


# ---------------------------------------------------------------- reproducibility
@pytest.mark.parametrize(
    "make",
    [lambda: RandomSampler(range(40)), lambda: RandomSampler(range(40), True, 60),
     lambda: SubsetRandomSampler(range(5, 45)), lambda: WeightedRandomSampler(np.arange(40.0), 50),
     lambda: WeightedRandomSampler(np.arange(1.0, 41.0), 30, replacement=False)],
)  # fmt: skip
def test_manual_seed_and_rng_state_repeat_the_draws(make):
    s = make()
    dl.manual_seed(5)
    a = list(s)
    b = list(s)
    assert a != b  # a new draw every pass
    dl.manual_seed(5)
    assert list(make()) == a
    dl.manual_seed(5)
    _ = list(s)
    state = dl.get_rng_state()
    dl.manual_seed(99)
    dl.set_rng_state(state)
    assert list(s) == b


def test_own_generator_is_independent_of_the_global_one():
    a = WeightedRandomSampler([1.0, 3.0, 2.0], 20, generator=np.random.default_rng(6))
    b = WeightedRandomSampler([1.0, 3.0, 2.0], 20, generator=np.random.default_rng(6))
    dl.manual_seed(1)
    first = list(a)
    dl.manual_seed(2)
    assert list(b) == first


def test_shuffle_is_a_random_sampler_drawing_the_same_numbers_as_before():
    ds = TensorDataset(np.arange(23))
    dl.manual_seed(8)
    shuffled = _batches(DataLoader(ds, batch_size=5, shuffle=True))
    dl.manual_seed(8)
    sampled = _batches(DataLoader(ds, batch_size=5, sampler=RandomSampler(ds)))
    dl.manual_seed(8)
    perm = dl.random.default_generator().permutation(23)  # what shuffle has always drawn
    assert shuffled == sampled == [perm[i : i + 5].tolist() for i in range(0, 23, 5)]


def test_the_epochs_indices_are_drawn_when_iteration_starts():
    loader = DataLoader(
        TensorDataset(np.arange(12)), batch_size=4, sampler=RandomSampler(range(12))
    )
    dl.manual_seed(3)
    it = iter(loader)
    dl.manual_seed(100)  # too late: this epoch's order is already drawn
    first = [b[0].tolist() for b in it]
    dl.manual_seed(3)
    assert _batches(loader) == first


# ---------------------------------------------------------------- fast path under a sampler
@pytest.mark.parametrize(
    "make",
    [lambda n: {"batch_size": 5, "sampler": WeightedRandomSampler(
        np.arange(1.0, n + 1), 31, generator=np.random.default_rng(1))},
     lambda n: {"batch_size": 5, "sampler": RandomSampler(range(n), True, 17,
                                                          np.random.default_rng(1))},
     lambda n: {"batch_size": 5, "sampler": SubsetRandomSampler(np.arange(3, n),
                                                                np.random.default_rng(1))},
     lambda n: {"batch_sampler": [[4, 4, 0], [22], [7, 1]]},
     lambda n: {"batch_sampler": BatchSampler(
         RandomSampler(range(n), generator=np.random.default_rng(1)), 4, True)}],
)  # fmt: skip
def test_tensor_dataset_fast_path_gives_the_per_sample_batches_under_a_sampler(make):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(23, 3)).astype(np.float32), rng.integers(0, 4, 23)
    fast = list(DataLoader(TensorDataset(x, y), **make(23)))
    slow = list(DataLoader(ListDataset(x, y), **make(23)))
    assert len(fast) == len(slow) > 0
    for (xa, ya), (xb, yb) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
        assert xa.dtype == xb.dtype == np.float32


def test_subset_of_tensor_dataset_under_a_sampler_reads_the_right_rows():
    sub = Subset(TensorDataset(np.arange(10) * 10, np.arange(10)), [9, 3, 5, 1])
    loader = DataLoader(sub, batch_size=3, sampler=[3, 0, 0, 2])
    assert [b[0].tolist() for b in loader] == [[10, 90, 90], [50]]


def test_custom_sampler_subclass_is_iterated_not_bypassed():
    class Reversed(SequentialSampler):
        def __iter__(self):
            return iter(range(len(self.data_source) - 1, -1, -1))

    loader = DataLoader(TensorDataset(np.arange(5)), batch_size=2, sampler=Reversed(range(5)))
    assert _batches(loader) == [[4, 3], [2, 1], [0]]


# ---------------------------------------------------------------- fit
def _imbalanced_digits():
    d = dl.data.load_digits()
    keep = np.flatnonzero((d.y < 5) | (np.arange(len(d.y)) % 10 == 0))  # classes 5-9: a tenth
    x, y = (d.x[keep] / 16.0).astype(np.float32), d.y[keep]
    x_tr, x_te, y_tr, y_te = dl.data.train_test_split(x, y, test_size=0.25, stratify=y, seed=0)
    return x_tr, x_te, y_tr, y_te


def test_fit_on_imbalanced_digits_with_a_weighted_random_sampler():
    x_tr, x_te, y_tr, y_te = _imbalanced_digits()
    counts = np.bincount(y_tr)
    assert counts[:5].min() > 5 * counts[5:].max()  # really imbalanced
    weights = (1.0 / counts)[y_tr]
    sampler = WeightedRandomSampler(weights, num_samples=len(weights))
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=32, sampler=sampler,
                        num_workers=2)  # fmt: skip
    dl.manual_seed(0)
    seen = np.bincount(np.concatenate([yb for _, yb in loader]), minlength=10) / len(weights)
    np.testing.assert_allclose(seen, 0.1, atol=0.04)  # the classes come about equally often
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    adam = dl.optim.get("adam", model.parameters(), lr=0.01)
    history = fit(model, loader, loss="cross_entropy", optimizer=adam, epochs=8,
                  metrics=["accuracy"], validation_data=(x_te, y_te), verbose=0, seed=0)  # fmt: skip
    assert history.params["steps"] == len(loader) == -(-len(weights) // 32)
    assert history.history["loss"][-1] < history.history["loss"][0] / 10
    assert history.history["val_accuracy"][-1] > 0.9
    with dl.no_grad():
        pred = model(x_te).numpy().argmax(axis=1)
    rare = y_te >= 5
    # the rare classes are learnt too (plain shuffling gets about 0.7 of them here)
    assert (pred[rare] == y_te[rare]).mean() > 0.85


def test_fit_refuses_an_empty_dataset_before_building_its_shuffling_loader():
    empty = TensorDataset(np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="fit: x has no samples"):
        fit(nn.Linear(4, 2), empty, loss="cross_entropy", optimizer="sgd", verbose=0)


def test_resume_warns_when_the_checkpoint_lacks_the_samplers_generator(tmp_path):
    x = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    plain = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True)
    fit(nn.Linear(4, 2), plain, loss="cross_entropy", optimizer="sgd", verbose=0,
        callbacks=[ModelCheckpoint(tmp_path / "c.safetensors")])  # fmt: skip
    own = RandomSampler(range(20), generator=np.random.default_rng(1))
    sampled = DataLoader(TensorDataset(x, y), batch_size=5, sampler=own)
    with pytest.warns(UserWarning, match="holds 0 sampler generator.*has 1"):
        fit(nn.Linear(4, 2), sampled, loss="cross_entropy", optimizer="sgd", verbose=0, epochs=2,
            resume_from=tmp_path / "c.safetensors")  # fmt: skip


def test_fit_counts_the_samples_the_sampler_draws():
    from descentlab.data import DataLoader, SubsetRandomSampler, TensorDataset

    x = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    y = np.arange(50) % 2
    loader = DataLoader(TensorDataset(x, y), batch_size=20, sampler=SubsetRandomSampler(range(20)))
    model = dl.nn.Sequential(dl.nn.Linear(4, 2))
    history = dl.fit(model, loader, loss="cross_entropy", optimizer="sgd", verbose=0)
    assert history.params["samples"] == 20 and history.params["steps"] == 1
    assert history.params["regime"] == "batch"  # one batch holds every sample drawn
