"""Error paths and behaviour of lesson 12's helpers: the messy-text generator, the arithmetic task, label smoothing."""
import pytest
import torch
import torch.nn.functional as F

from ft_course.models import tiny_llama
from ft_course.pitfalls import messy_rows, messy_text, multiplication_rows, smoothed_loss, strip_diacritics
from ft_course.train import supervised_loss

S = "Kevin Park đặt 27 máy tính xách tay ngày 04/09/2025, giao đến Hồ Chí Minh."


def test_strip_diacritics():
    assert strip_diacritics("Đặng Quốc Dương, Huế") == "Dang Quoc Duong, Hue"
    assert strip_diacritics("plain ascii 123") == "plain ascii 123"


def test_messy_text_is_seeded_and_keeps_numbers():
    outs = {messy_text(S, seed=k) for k in range(20)}
    assert len(outs) > 3                                   # the seed matters
    assert messy_text(S, seed=7) == messy_text(S, seed=7)  # and fixes the result
    for o in outs: assert "27" in o and "04/09/2025" in o  # noise never touches the facts' digits


def test_messy_text_each_kind():
    assert messy_text(S, typo=0, slang=0, accents=0, reorder=1) == "giao đến Hồ Chí Minh, " + S.split(", ")[0]
    assert messy_text("please send it to me", typo=0, slang=1, accents=0, reorder=0) == "pls send it 2 me"
    typo = messy_text("delivered tomorrow morning", typo=1, slang=0, accents=0, reorder=0)
    assert typo != "delivered tomorrow morning" and sorted(typo) == sorted("delivered tomorrow morning")


@pytest.mark.parametrize("kw,msg", [({"typo": -0.1}, "typo"), ({"accents": 1.5}, "accents"), ({"slang": "x"}, "slang")])
def test_messy_text_bad_probability(kw, msg):
    with pytest.raises(ValueError, match=msg): messy_text(S, **kw)


def test_messy_text_bad_text():
    with pytest.raises(TypeError, match="str"): messy_text(None)


def test_messy_rows():
    rows = [{"messages": [{"role": "system", "content": ""}, {"role": "user", "content": S},
                          {"role": "assistant", "content": "{}"}]}]
    out = messy_rows(rows, seed=3, accents=1)
    assert out[0]["messages"][1]["content"] == messy_text(S, 3, accents=1)
    assert out[0]["messages"][2] == rows[0]["messages"][2] and rows[0]["messages"][1]["content"] == S  # copy
    with pytest.raises(ValueError, match="row 0 has no user message"):
        messy_rows([{"messages": [{"role": "assistant", "content": "x"}]}])


def test_multiplication_rows():
    rows = multiplication_rows(50, seed=1)
    prompts = [r["messages"][1]["content"] for r in rows]
    assert len(set(prompts)) == 50 and rows == multiplication_rows(50, seed=1)
    for r in rows:
        a, b = map(int, r["messages"][1]["content"].rstrip(" =").split(" * "))
        assert 100 <= a <= 999 and 10 <= b <= 99 and r["messages"][2]["content"] == str(a * b)
    assert len(multiplication_rows(81, digits=(1, 1))) == 81       # every pair of one-digit numbers
    for bad in (0, 82, 2.5):
        with pytest.raises(ValueError, match="n must be"): multiplication_rows(bad, digits=(1, 1))
    with pytest.raises(ValueError, match="digits"): multiplication_rows(3, digits=(0, 2))


def test_smoothed_loss_matches_torch():
    torch.manual_seed(0)
    model = tiny_llama()
    ids = torch.randint(3, 1000, (2, 9))
    labels = ids.clone(); labels[:, :4] = -100
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    with torch.no_grad():
        assert torch.allclose(smoothed_loss(0)(model, batch)[0], supervised_loss(model, batch)[0], atol=1e-4)
        logits, tgt = model(input_ids=ids).logits[:, :-1], labels[:, 1:]
        ref = F.cross_entropy(logits[tgt != -100], tgt[tgt != -100], reduction="sum", label_smoothing=0.2)
        s, n = smoothed_loss(0.2)(model, batch)
    assert torch.allclose(s, ref, atol=1e-4) and n == int((tgt != -100).sum())
    for bad in (-0.1, 1.0, "0.1"):
        with pytest.raises(ValueError, match="epsilon"): smoothed_loss(bad)
