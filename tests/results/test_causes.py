"""Tests of gradcheck.results.causes: a `Cause` validates its equation and converts to plain data."""

import pytest

from gradcheck.results.causes import EQUATIONS, Cause


def test_cause_validation_and_dict():
    with pytest.raises(ValueError, match="`equation` must be one of"):
        Cause(None, "delta", (0,), "")
    c = Cause("sign_flipped", "delta^H", (1,), "text", {"scale": -1.0})
    assert c.to_dict() == {
        "bug": "sign_flipped",
        "equation": "delta^H",
        "layers": [1],
        "text": "text",
        "evidence": {"scale": -1.0},
    }


def test_a_cause_prints_as_its_text_and_names_only_the_articles_equations():
    assert str(Cause(None, None, (), "the text. Fix: this")) == "the text. Fix: this"
    assert EQUATIONS == ("delta^H", "recursion", "dJ/dW", "dJ/db")
    for equation in EQUATIONS:
        assert Cause(None, equation, (0,), "").equation == equation
