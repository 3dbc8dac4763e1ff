"""The text-to-sound Transformer: causal, guided, seeded sampling; it overfits a tiny set exactly."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from livevis.errors import LivevisError
from livevis.models import factory


def _model(**changes):
    torch.manual_seed(0)
    arch, cfg = factory.load_preset("text_sound-tiny")
    cfg.update(changes)
    return factory.build(arch, cfg)


def test_later_tokens_never_change_earlier_logits():
    m = _model().eval()
    text = torch.randn(1, 64)
    a = torch.randint(0, 32, (1, 12))
    b = a.clone()
    b[0, 8:] = (b[0, 8:] + 5) % 32
    la, lb = m(text, a), m(text, b)                                 # [1, 12, 32]
    assert torch.allclose(la[:, :9], lb[:, :9], atol=1e-5)          # logits for tokens 0..8 see tokens < 8 only
    assert not torch.allclose(la[:, 9:], lb[:, 9:])


def test_sampling_is_seeded_greedy_at_temperature_zero_and_slides_past_the_context():
    m = _model().eval()
    text = torch.randn(1, 64)
    draw = lambda seed, **kw: m.sample(text, 50, generator=torch.Generator().manual_seed(seed), **kw)  # noqa: E731
    a, b, c = draw(1), draw(1), draw(2)
    assert a.shape == (1, 50) and torch.equal(a, b) and not torch.equal(a, c)   # 50 > the 31-token context
    greedy = draw(1, temperature=0.0, guidance=1.0)
    assert torch.equal(greedy, draw(2, temperature=0.0, guidance=1.0))
    first = m.logits(m.condition(text, 1), greedy[:, :0])[0, -1]
    assert int(greedy[0, 0]) == int(first.argmax())
    top1 = draw(3, top_k=1, guidance=1.0)
    assert torch.equal(top1, greedy)                                 # top-k 1 is greedy too
    with pytest.raises(LivevisError):
        m.sample(text, 0)


def test_guidance_one_is_conditional_and_zero_ignores_the_text():
    m = _model().eval()
    with torch.no_grad():
        m.null.normal_()
    t1, t2 = torch.randn(1, 64), torch.randn(1, 64)
    g = lambda text, guidance: m.sample(text, 10, temperature=0.0, guidance=guidance)  # noqa: E731
    assert torch.equal(g(t1, 0.0), g(t2, 0.0))                       # unconditioned: the text does not matter
    assert not torch.equal(g(t1, 1.0), g(t2, 1.0))


def test_overfits_a_tiny_set_exactly():
    """Four texts, four 20-token sequences: after training, greedy sampling returns each sequence."""
    torch.manual_seed(0)
    m = _model(dropout=0.0, cond_drop=0.0).train()
    texts = F.normalize(torch.randn(4, 64), dim=-1)
    tokens = torch.randint(0, 32, (4, 20))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(150):
        loss = F.cross_entropy(m(texts, tokens).reshape(-1, 32), tokens.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    for i in range(4):
        out = m.sample(texts[i:i + 1], 20, temperature=0.0, guidance=1.0)
        assert torch.equal(out[0], tokens[i]), (i, out, tokens[i])


class _WordClip:
    """A stand-in CLIP whose text embedding is a bag of hashed words (unit norm), so texts that share
    words are near; counts how many texts it has encoded."""

    def __init__(self):
        self.encoded = 0

    def encode_text(self, texts):
        self.encoded += len(texts)
        out = torch.zeros(len(texts), 64)
        for i, t in enumerate(texts):
            for w in t.split():
                g = torch.Generator().manual_seed(sum(map(ord, w)) * 7919 + len(w))
                out[i] += torch.randn(64, generator=g)
        return F.normalize(out, dim=-1)


def test_known_wordings_are_the_trained_templates_of_every_class():
    from livevis.models.text_sound import TEMPLATES, known_wordings

    said = known_wordings(["rain", "fire_crackling"])
    assert len(said) == 2 * (len(TEMPLATES) - 1)
    assert "a video of fire crackling" in said and "the sound of rain" in said and "{caption}" not in said


def test_a_free_prompt_is_heard_as_its_nearest_known_wording():
    from livevis.models.text_sound import SoundCondition, known_wordings

    clip = _WordClip()
    near = SoundCondition(clip, ["rain", "volcano"], "nearest")
    known = clip.encode_text(known_wordings(["rain", "volcano"]))
    for w in known_wordings(["rain", "volcano"]):                          # a known wording: itself, exactly
        assert torch.equal(near(w), clip.encode_text([w]))
    got = near("rain falling on the roof")                                # free: the nearest known one
    want = known[(clip.encode_text(["rain falling on the roof"]) @ known.T).argmax(1)]
    assert torch.allclose(got, want, atol=1e-6) and known_wordings(["rain", "volcano"])[int((got @ known.T).argmax())] in \
        known_wordings(["rain"])
    exact = SoundCondition(clip, ["rain", "volcano"], "exact")
    before = clip.encoded
    assert torch.equal(exact("rain falling on the roof"), clip.encode_text(["rain falling on the roof"]))
    assert clip.encoded == before + 2                                      # no known wordings encoded
    with pytest.raises(LivevisError, match="text match"):
        SoundCondition(clip, ["rain"], "closest")
