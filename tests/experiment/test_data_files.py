"""The arrays-plus-JSON files every checkpoint is (run and training): read back
exactly, and refused in one line when they are of another kind, another run,
damaged, or hold a pickle."""

import pickle

import numpy as np
import pytest

from stochlstm.experiment.checkpoint import CheckpointError, read_data_file, write_data_file


def test_arrays_and_meta_come_back_exactly(tmp_path):
    arrays = {"w": np.arange(6.0).reshape(2, 3), "n": np.array([1, 2], dtype=np.int32)}
    meta = {"format": "f-1", "fingerprint": "abc", "iteration": 7, "rows": [[1, "x"]]}
    write_data_file(tmp_path / "c.npz", arrays, meta)
    got_meta, got = read_data_file(tmp_path / "c.npz", "f-1", "abc", what="thing", other="x")
    assert got_meta == meta
    assert sorted(got) == ["n", "w"]
    for key, value in arrays.items():
        assert got[key].dtype == value.dtype
        np.testing.assert_array_equal(got[key], value)


@pytest.mark.parametrize(
    ("format", "fingerprint", "message"),
    [
        ("g-1", "abc", "not a stochlstm training checkpoint"),
        ("f-1", "other", "the training checkpoint belongs to another experiment"),
    ],
)
def test_another_kind_or_run_is_refused(tmp_path, format, fingerprint, message):
    write_data_file(tmp_path / "c.npz", {"w": np.zeros(2)}, {"format": "f-1", "fingerprint": "abc"})
    with pytest.raises(CheckpointError, match=message):
        read_data_file(
            tmp_path / "c.npz",
            format,
            fingerprint,
            what="training checkpoint",
            other="another experiment",
        )


def test_a_truncated_file_or_a_pickle_is_damage_not_code(tmp_path):
    path = tmp_path / "c.npz"
    write_data_file(path, {"w": np.zeros(100)}, {"format": "f-1", "fingerprint": "abc"})
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(CheckpointError, match="damaged checkpoint"):
        read_data_file(path, "f-1", "abc", what="thing", other="x")
    np.savez(path, meta=np.array([{"format": "f-1"}], dtype=object))
    with pytest.raises(CheckpointError, match="damaged checkpoint"):
        read_data_file(path, "f-1", "abc", what="thing", other="x")
    path.write_bytes(pickle.dumps({"format": "f-1"}))
    with pytest.raises(CheckpointError, match="damaged checkpoint"):
        read_data_file(path, "f-1", "abc", what="thing", other="x")
