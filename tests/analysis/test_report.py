"""report.html: the figures linked, never embedded; the user's text escaped; a
run without figures says how to draw them."""

import re

from stochlstm.analysis.figures import draw_figures
from stochlstm.analysis.report import write_report
from tests.summary_reference import small_run


def test_report_links_its_figures_and_escapes_user_text(tmp_path):
    run_dir = small_run(
        tmp_path / "run",
        seeds=20,
        hidden_size=2,
        steps=6,
        description='Gates <script>alert("x")</script> & friends',
    )
    drawn = draw_figures(run_dir, formats=("png",))
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    page = path.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "Gates &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends" in page
    assert '<table class="dataframe comparison">' in page
    assert "base64" not in page and "data:" not in page
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(sources) == sorted(f"figures/{p.name}" for p in drawn) and len(sources) == 6
    assert all((run_dir / source).is_file() for source in sources)
    assert "20 (0 … 19)" in page and ">complete<" in page and "forget-bernoulli" in page
    assert "divergence_final" in page and "stochlstm plot" not in page


def test_report_links_relative_to_where_it_is_written(tmp_path):
    run_dir = small_run(tmp_path / "run", seeds=10, hidden_size=2, steps=4)
    draw_figures(run_dir, formats=("png",))
    page = write_report(run_dir, out=tmp_path / "pages" / "small.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sources and all(s.startswith("../run/figures/") for s in sources)
    assert all((tmp_path / "pages" / source).is_file() for source in sources)


def test_a_report_without_figures_says_how_to_draw_them(tmp_path):
    run_dir = small_run(tmp_path / "run", seeds=10, hidden_size=2, steps=4)
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert not (run_dir / "figures").exists()  # the report draws none itself
    assert "<img" not in page and "No figures were drawn" in page
    assert "stochlstm plot RUN_DIR" in page
