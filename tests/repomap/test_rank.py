"""Ranking prefers what the task and the files in play point at; the map fits its budget."""

import random
from pathlib import Path

import pytest

from glasscoder.repomap.build import map_text, open_index
from glasscoder.repomap.rank import _pagerank_numpy, _pagerank_plain, mentions, rank, specificity
from glasscoder.repomap.render import count_tokens
from glasscoder.workspace import Workspace
from tests.repomap.conftest import write


def files_in_order(text: str) -> list[str]:
    return [line[:-1] for line in text.splitlines() if not line.startswith(" ")]


def test_task_mentioning_an_identifier_puts_its_file_first(repo: Path) -> None:
    index = open_index(Workspace(repo), cached=False)
    text = map_text(index, "compute_invoice_total returns the wrong sum", tokens=1000)
    order = files_in_order(text)
    assert order[0] == "billing/invoice.py"
    # what the mentioned code uses comes before code that has nothing to do with it
    assert order.index("billing/tax.py") < order.index("ui/widgets.py")


def test_focus_file_pulls_up_what_it_uses(repo: Path) -> None:
    index = open_index(Workspace(repo), cached=False)
    text = map_text(index, "", focus=["ui/theme.py"], tokens=1000)
    order = files_in_order(text)
    assert order.index("ui/widgets.py") < order.index("billing/tax.py")
    text = map_text(index, "", focus=["billing/invoice.py"], tokens=1000)
    order = files_in_order(text)
    assert order.index("billing/tax.py") < order.index("ui/widgets.py")


def test_files_named_in_the_task_count_as_in_play(repo: Path) -> None:
    index = open_index(Workspace(repo), cached=False)
    index.update()
    names, paths = mentions("Look at reports/monthly.py and `rate_for`; then tax", index.files)
    assert paths == {"reports/monthly.py"}
    assert names == {"rate_for": 1.0}  # "tax" is defined nowhere; short words are not names


def test_plain_words_are_weak_mentions(repo: Path) -> None:
    write(repo, {"util/text.py": "def render(x):\n    return x\n"})
    index = open_index(Workspace(repo), cached=False)
    index.update()
    names, _ = mentions("render the ButtonWidget again", index.files)
    assert names["ButtonWidget"] == 1.0 and names["render"] < 1.0
    first = rank(index.files, (), names)[0]
    assert first.definition.name == "ButtonWidget"


def test_specificity_favours_rare_compound_names() -> None:
    assert specificity("compute_total", 1) > specificity("compute_total", 3)
    assert specificity("compute_total", 1) > specificity("compute", 1) > specificity("x", 1)
    assert specificity("_helper_name", 1) < specificity("helper_name", 1)
    assert specificity("render", 1, mentioned=1.0) > specificity("render", 1)


def test_budget_is_respected_and_buys_more_lines(tmp_path: Path) -> None:
    modules = {
        f"pkg/mod{i}.py": "".join(
            f"def function_{i}_{j}(arg):\n    return arg\n\n" for j in range(30)
        )
        + f"from pkg.mod{(i + 1) % 20} import function_{(i + 1) % 20}_0\n"
        for i in range(20)
    }
    write(tmp_path, modules)
    index = open_index(Workspace(tmp_path), cached=False)
    sizes = []
    for budget in (20, 100, 400, 1500):
        text = map_text(index, "", tokens=budget)
        assert 0 < count_tokens(text) <= budget
        sizes.append(len(text.splitlines()))
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert map_text(index, "", tokens=0) == ""


def test_output_shape_path_then_line_and_signature(repo: Path) -> None:
    index = open_index(Workspace(repo), cached=False)
    text = map_text(index, "", focus=["billing/tax.py"], tokens=1000)
    block = text.split("billing/tax.py:\n", 1)[1].split("\n")
    assert block[0] == "  1: class TaxTable:"
    assert block[1] == "  2: def rate_for(self, line):"


@pytest.mark.parametrize("seed", range(4))
def test_plain_and_numpy_pagerank_agree(seed: int) -> None:
    rnd = random.Random(seed)
    nodes = [f"f{i}.py" for i in range(rnd.randint(1, 60))]
    edges = {
        src: {(rnd.choice(nodes), f"name{k}"): rnd.random() for k in range(rnd.randint(1, 5))}
        for src in nodes
        if rnd.random() < 0.7
    }
    edges = {s: {k: w for k, w in t.items() if k[0] != s} for s, t in edges.items()}
    weights = {n: rnd.random() * 3 for n in nodes if rnd.random() < 0.5}
    plain, fast = _pagerank_plain(nodes, edges, weights), _pagerank_numpy(nodes, edges, weights)
    assert all(abs(plain[n] - fast[n]) < 1e-12 for n in nodes)
    assert abs(sum(plain.values()) - 1.0) < 1e-9
