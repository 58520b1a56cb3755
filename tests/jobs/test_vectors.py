"""Golden vectors: written once, read back with nothing but `json`, checked by an independent implementation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _helpers import tree
from candidates import make_numpy_backprop

from gradcheck.jobs.vectors import cases, read_vectors, write_vectors


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    return write_vectors(tmp_path_factory.mktemp("vectors"))


def test_every_case_checks_out_with_an_independent_implementation(vectors):
    document = json.loads(vectors.read_text())  # what a C, Rust or JavaScript test would do
    assert document["format"] == "gradcheck-vectors/1" and len(document["cases"]) == len(cases())
    for case in document["cases"]:
        arr = lambda a: np.array(a["data"]).reshape(a["shape"])
        mine = make_numpy_backprop(case["hidden"], case["output"], case["cost"])
        dW, db = mine(
            [arr(W) for W in case["W"]], [arr(b) for b in case["b"]], arr(case["X"]), arr(case["Y"])
        )
        tolerance = case["tolerance"]["float64"]
        for L in range(len(dW)):
            assert (np.abs(dW[L] - arr(case["dJ_dW"][L])) <= arr(tolerance["dJ_dW"][L])).all(), (
                case["name"]
            )
            assert (np.abs(db[L] - arr(case["dJ_db"][L])) <= arr(tolerance["dJ_db"][L])).all(), (
                case["name"]
            )


def test_json_numbers_are_exact_and_match_hex_and_npz(vectors):
    document = json.loads(vectors.read_text())
    for case in document["cases"]:
        for a in case["W"] + case["dJ_dW"] + [case["X"]]:
            assert [float.fromhex(h) for h in a["hex"]] == a["data"]  # bit-identical
        npz = np.load(vectors.parent / case["npz"])
        np.testing.assert_array_equal(npz["dJ_dW0"].ravel(), case["dJ_dW"][0]["data"])


def test_read_vectors_round_trips(vectors):
    cases = read_vectors(vectors)
    assert cases[0]["W"][0].shape == tuple(cases[0]["sizes"][:2])


def test_refuses_to_overwrite_unless_forced(vectors):
    with pytest.raises(FileExistsError, match="is not empty; pass --force"):
        write_vectors(vectors.parent)
    assert write_vectors(vectors.parent, force=True) == vectors


def test_read_rejects_other_files(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="is not a gradcheck-vectors/1 file"):
        read_vectors(path)


def test_case_network_rebuilds_the_case_and_keeps_its_old_name(vectors):
    from gradcheck.jobs import vectors as module
    from reference import backprop

    case = read_vectors(vectors)[1]
    net = module.case_network(case)
    assert net.sizes == tuple(case["sizes"]) and net.hidden.name == case["hidden"]
    g = backprop(net, case["X"], case["Y"])
    for got, expected in zip(g.weights, case["dJ_dW"], strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    assert module.check_network is module.case_network


# ---- validation: refused before anything is written


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(force="no"), "`force`"),
        (dict(seed="a"), "`seed`"),
        (dict(seed=-1), "`seed`"),
    ],
)
def test_write_vectors_validates_force_and_seed(tmp_path, kwargs, name):
    out = tmp_path / "v"
    if "force" in kwargs:  # a non-empty directory: a truthy non-bool must not overwrite it
        out.mkdir()
        (out / "keep.txt").write_text("precious")
    before = tree(tmp_path)
    with pytest.raises((ValueError, TypeError)) as info:
        write_vectors(out, **kwargs)
    assert name in str(info.value)
    assert tree(tmp_path) == before  # refused before writing anything


def test_write_vectors_names_a_bad_out():
    with pytest.raises(TypeError, match="`out`"):
        write_vectors(3)


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"format": "gradcheck-vectors/1"},
        {"format": "gradcheck-vectors/1", "cases": [{"W": 1}]},
    ],
    ids=["list", "no-cases", "bad-case"],
)
def test_read_vectors_refuses_a_malformed_document(tmp_path, document):
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="vectors.json"):
        read_vectors(path)
