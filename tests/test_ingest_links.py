"""
The link extractor on real arXiv `comments` strings and abstracts (quoted from
arXiv listings and the bundled samples), and what it must leave out.
"""

from __future__ import annotations

import pytest

from paperfeed.ingest.links import Link, classify, extract, extract_json


def kinds(*texts: str) -> list[tuple[str, str]]:
    return [(link.kind, link.url) for link in extract(*texts)]


@pytest.mark.parametrize(
    "comments, want",
    [
        # arxiv-api-search-testing.xml (bundled sample)
        ("Final version, 6 figures, Python code and Jupyter notebook available at "
         "https://github.com/ydecastro/super-resolution-testing",
         [("code", "https://github.com/ydecastro/super-resolution-testing")]),
        ("Code: https://github.com/facebookresearch/segment-anything.",
         [("code", "https://github.com/facebookresearch/segment-anything")]),
        ("Accepted to CVPR 2024. Project page: https://dreamgaussian.github.io/ "
         "Code: https://github.com/dreamgaussian/dreamgaussian",
         [("project", "https://dreamgaussian.github.io/"), ("code", "https://github.com/dreamgaussian/dreamgaussian")]),
        ("Project page at https://www.cs.cornell.edu/projects/megadepth/; 14 pages",
         [("project", "https://www.cs.cornell.edu/projects/megadepth/")]),
        (r"21 pages. Code is available at \url{https://github.com/openai/guided-diffusion}.",
         [("code", "https://github.com/openai/guided-diffusion")]),
        (r"Our code: \href{https://github.com/huggingface/transformers}{this link}",
         [("code", "https://github.com/huggingface/transformers")]),
        ("(code available at https://github.com/karpathy/nanoGPT)",
         [("code", "https://github.com/karpathy/nanoGPT")]),
        ("Code and models: github.com/meta-llama/llama.git, weights at "
         "https://huggingface.co/meta-llama/Llama-2-7b-hf and data at "
         "https://huggingface.co/datasets/allenai/c4; demo: https://huggingface.co/spaces/openai/whisper",
         [("code", "https://github.com/meta-llama/llama"),
          ("model", "https://huggingface.co/meta-llama/Llama-2-7b-hf"),
          ("dataset", "https://huggingface.co/datasets/allenai/c4"),
          ("space", "https://huggingface.co/spaces/openai/whisper")]),
        ("Code at https://gitlab.com/group/sub/tool/-/tree/main, see also "
         "https://github.com/owner/repo/tree/main/src?tab=readme",
         [("code", "https://gitlab.com/group/sub/tool"), ("code", "https://github.com/owner/repo")]),
        ("Website: https://example.org/my-paper (with videos)",
         [("project", "https://example.org/my-paper")]),
        ("see the Wikipedia page https://en.wikipedia.org/wiki/Foo_(bar)", []),
    ],
)
def test_real_comments(comments, want):
    assert kinds(comments) == want


@pytest.mark.parametrize(
    "comments",
    [
        # from the bundled Kaggle and arXiv API samples: none of these is code or a project page
        "Published in at http://dx.doi.org/10.1214/07-AAP481 the Annals of Applied Probability "
        "(http://www.imstat.org/aap/) by the Institute of Mathematical Statistics (http://www.imstat.org)",
        "50 pages; Full paper with all figures available at\n  http://www.gb.nrao.edu/~koneil; Accepted by AJ",
        "Paper accepted at the 5th INTUITESTBEDS 2022, part of the 15th IEEE International Conference on "
        "Software Testing, Verification and Validation (ICST) 2022, April 4 - 13, 2022, https://icst2022.vrain.upv.es/",
        "https://doi.org/10.1145/3106237.3106277, ESEC/FSE, 2017",
        "Follow me at https://github.com/torvalds and https://huggingface.co/papers/2406.09415",
        "Email: someone@github.com",
        "",
    ],
)
def test_other_urls_are_left_out(comments):
    assert extract(comments) == []


def test_each_link_once_across_comments_and_abstract():
    comments = "Code: https://github.com/a/b."
    abstract = "We release our code at https://github.com/a/b and https://github.com/a/b.git."
    assert extract(comments, abstract) == [Link("code", "https://github.com/a/b")]
    assert extract_json(comments, None) == [{"kind": "code", "url": "https://github.com/a/b"}]
    assert extract_json(None, "no links here") is None


def test_project_cue_must_be_in_the_same_clause():
    assert classify("https://example.org/x", "project page: ") == Link("project", "https://example.org/x")
    assert kinds("See our project page. Slides: https://example.org/slides.pdf") == []
